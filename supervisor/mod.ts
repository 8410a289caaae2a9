// Copyright the Theater authors. MIT license.
/**
 * Manifests and the actor system of a run.
 *
 * @module
 */
export * from "./manifest.ts";
export * from "./system.ts";
