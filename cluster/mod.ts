// Copyright the Theater authors. MIT license.
/**
 * Theater across hosts over NATS JetStream (docs/cluster.md): chains
 * replicated into a stream with one writer per actor, components in an
 * object store, nodes that place actors and resume a gone node's, and
 * `pull` of a run back to a directory.
 *
 * @module
 */
export * from "./node.ts";
export * from "./one_writer.ts";
export * from "./stream.ts";
export * from "./witness.ts";
