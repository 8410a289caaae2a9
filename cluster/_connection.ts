// Copyright the Theater authors. MIT license.
// The NATS connection of each Cluster, for the other parts of this module
// (a node talks over its cluster's connection) without making the client's
// connection type part of the module's public face.
import type { NatsConnection } from "@nats-io/transport-node";

/** The connection of each `Cluster`, set when it connects. */
export const connections: WeakMap<object, NatsConnection> = new WeakMap();
