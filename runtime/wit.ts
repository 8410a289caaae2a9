// Copyright the Theater authors. MIT license.
/**
 * The one home of the WIT names the host speaks (wit/theater.wit), without
 * their version: what the chain records in `host.call` events, what a
 * component may import, and what it must export.
 *
 * @module
 */

/** The `runtime` interface: log, now, random, self-id. */
export const RUNTIME = "theater:actor/runtime";
/** The `message` interface: send. */
export const MESSAGE = "theater:actor/message";
/** The `supervisor` interface: spawn, stop, restart, children. */
export const SUPERVISOR = "theater:actor/supervisor";
/** The `timers` interface (0.2.0): after, every, cancel. */
export const TIMERS = "theater:actor/timers";
/**
 * The `store` interface (0.2.0): put and get content-addressed blobs. The
 * chain layer names it too, as `STORE_INTERFACE` (chain/blobs.ts: its
 * events name blobs); the actor workers cannot load that module (it hashes
 * with node:crypto), so the two are kept equal by a test.
 */
export const STORE = "theater:actor/store";
/** The `http` interface (0.2.0): fetch, under the manifest's grant. */
export const HTTP = "theater:actor/http";
/** The export every actor has: init and handle. */
export const ACTOR = "theater:actor/actor";
/** The optional export of a supervisor: on-child-event. */
export const SUPERVISED = "theater:actor/supervised";

/** The interfaces an actor may import. */
export const HOST_INTERFACES: readonly string[] = [
  RUNTIME,
  MESSAGE,
  SUPERVISOR,
  TIMERS,
  STORE,
  HTTP,
];

/** A WIT name without its `@version`. */
export function unversioned(name: string): string {
  return name.replace(/@[^/]*$/, "");
}
