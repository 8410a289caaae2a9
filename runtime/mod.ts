// Copyright the Theater authors. MIT license.
/**
 * The actor runtime: load and check components, run them isolated in
 * no-permission workers, and record every interaction on the actor's chain.
 *
 * The component layer on its own:
 *
 * ```ts
 * import { instantiate, loadComponent } from "./mod.ts";
 *
 * const loaded = await loadComponent("examples/counter/counter.wasm");
 * const actor = await instantiate(loaded, {
 *   runtime: {
 *     log: (msg) => console.log(msg),
 *     now: () => Date.now(),
 *     random: (len) => crypto.getRandomValues(new Uint8Array(len)),
 *     selfId: () => "counter",
 *   },
 *   message: {
 *     send: () => ({ ok: false, error: "no peers" }),
 *     sender: () => "external",
 *   },
 *   supervisor: {
 *     spawn: () => ({ ok: false, error: "no children" }),
 *     stop: () => ({ ok: false, error: "no children" }),
 *     restart: () => ({ ok: false, error: "no children" }),
 *     children: () => [],
 *   },
 * });
 * const init = actor.init('{"start":1}'); // { ok: true, value: '{"count":1,"at":0}' }
 * // Options: instantiate(loaded, host, { memoryMb: 16 }) caps its memory.
 * ```
 *
 * @module
 */
// The types of the chain package that this API speaks in, so that this
// module's docs stand on their own.
export type {
  ChainEvent,
  ChainLink,
  ChainWriter,
  EventType,
  FsyncPolicy,
  Json,
} from "../chain/mod.ts";
export * from "./component.ts";
export type { Transpiled } from "./_compile.ts";
export {
  type ActorInstance,
  type CompiledComponent,
  GuestTrap,
  type Handled,
  type HostImports,
  type HttpRequest,
  type HttpResponse,
  instantiate,
  type Result,
} from "./instance.ts";
export * from "./executor.ts";
export * from "./clock.ts";
// For tests and benches of what takes a clock: nothing in a run uses it.
export { VirtualClock } from "./virtual_clock.ts";
export * from "./recorder.ts";
export { buildWatComponent } from "./build_wat.ts";
export * from "./replay.ts";
export * from "./json_limits.ts";
export * from "./limits.ts";
export * from "./wit.ts";
export * from "./http_grant.ts";
export * from "./gate.ts";
export * from "./store.ts";
