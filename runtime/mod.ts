// Copyright the Theater authors. MIT license.
/**
 * The actor runtime: load and check components, run them isolated in
 * no-permission workers, and record every interaction on the actor's chain.
 *
 * @module
 */
export * from "./component.ts";
export * from "./executor.ts";
export * from "./recorder.ts";
export { buildWatComponent } from "./build_wat.ts";
export * from "./replay.ts";
export * from "./json_limits.ts";
