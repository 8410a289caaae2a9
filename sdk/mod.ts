// Copyright the Theater authors. MIT license.
/**
 * The Theater guest SDK: write an actor as a plain typed module.
 *
 * ```ts
 * import { defineActor } from "./theater_sdk.ts";
 *
 * export default defineActor<{ count: number }, "inc" | "get", number>({
 *   init: () => ({ count: 0 }),
 *   handle(state, msg, host) {
 *     if (msg === "get") return { state, reply: state.count };
 *     host.log(`count is now ${state.count + 1}`);
 *     return { state: { count: state.count + 1 } };
 *   },
 * });
 * ```
 *
 * `theater build` bundles the actor with this module and binds it to the
 * component's `theater:actor/*` imports and exports: JSON is parsed and
 * written here. An `ActorError` the actor throws becomes the WIT `err` (an
 * error reply, not a crash); anything else it throws (a bug: a TypeError,
 * running out of memory) is logged and crashes the call, so its supervisor
 * sees it ("let it crash"). This file has no imports, so `theater new` can
 * copy it into a project as `theater_sdk.ts`.
 *
 * @module
 */

/** A JSON value. */
export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { [key: string]: Json };

/** A lifecycle event about a child, as `onChildEvent` receives it. */
export interface ChildEvent {
  /** The child's actor id. */
  child: string;
  /** What happened to the child. */
  event: "started" | "stopped" | "failed" | "restarted" | "given-up";
  /** Why, when the host says, or null. */
  reason: string | null;
}

/** The host services, typed. Every call is recorded in the chain. */
export interface Host {
  /** Writes a line to the actor's log. */
  log(message: string): void;
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** `length` random bytes (at most 65,536). */
  random(length: number): Uint8Array;
  /** This actor's id. */
  selfId(): string;
  /**
   * Who sent the message being handled: another actor's id, or `external`
   * for a message from outside the run. Empty outside `handle`.
   */
  sender(): string;
  /**
   * Sends `message` to `to` as a request; returns its id. The reply comes
   * back later as the message `{response: {id, from, reply}}`, or
   * `{response: {id, error}}` when `to` fails on it or `timeoutMs` passes.
   *
   * @throws {ActorError} when `to` is not running.
   */
  request(to: string, message: Json, timeoutMs: number): string;
  /**
   * Delivers `message` to this actor once, `ms` milliseconds after this
   * handler commits, from sender `timer:<id>`; returns the id.
   *
   * @throws {ActorError} when the actor has too many timers pending.
   */
  after(ms: number, message: Json): string;
  /** As {@linkcode Host.after}, every `ms` milliseconds (at least 10). */
  every(ms: number, message: Json): string;
  /** Cancels a pending timer; false when there is none. */
  cancel(id: string): boolean;
  /**
   * Sends a message, delivered after this handler commits.
   *
   * @throws {ActorError} when `to` is not running.
   */
  send(to: string, message: Json): void;
  /**
   * Starts a child from a manifest path relative to this actor's manifest;
   * returns its id. It starts after this handler commits.
   */
  spawn(manifest: string, params?: Json): string;
  /** Stops a child (after this handler commits). */
  stop(child: string): void;
  /** Restarts a child (after this handler commits). */
  restart(child: string): void;
  /** This actor's children. */
  children(): string[];
}

/** What a handler returns: the next state and, optionally, a reply. */
export interface Handled<State, Reply> {
  /** The actor's state after the message. */
  state: State;
  /** The reply to the sender, if any. */
  reply?: Reply;
}

/** An actor, as a typed module defines it. */
export interface ActorDefinition<State, Message, Reply> {
  /** The initial state, from the manifest's params. */
  init(params: Json, host: Host): State;
  /** Handles one message; throw an {@linkcode ActorError} to refuse it. */
  handle(state: State, message: Message, host: Host): Handled<State, Reply>;
  /** Hears about a child's life; returns the next state. */
  onChildEvent?(state: State, event: ChildEvent, host: Host): State;
}

/** An error the actor reports to the sender (the WIT `err`). */
export class ActorError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ActorError";
}

/** Gives an actor its types; returns it unchanged. */
export function defineActor<State, Message = Json, Reply = Json>(
  definition: ActorDefinition<State, Message, Reply>,
): ActorDefinition<State, Message, Reply> {
  return definition;
}

/**
 * The `theater:actor/*` imports as componentize-qjs presents them:
 * functions returning a WIT `result` return the ok value or throw the err.
 */
export interface RawImports {
  /** `theater:actor/runtime`. */
  runtime: {
    log(msg: string): void;
    now(): number | bigint;
    random(len: number): Uint8Array | number[];
    selfId(): string;
  };
  /** `theater:actor/message`. */
  message: {
    send(to: string, msg: string): void;
    /** (0.2.0) Who sent the message being handled. */
    sender(): string;
    /** (0.2.0) Sends a request; its id. */
    request(to: string, msg: string, timeoutMs: number): string;
  };
  /** `theater:actor/timers` (0.2.0). */
  timers: {
    after(ms: number, msg: string): string;
    every(ms: number, msg: string): string;
    cancel(id: string): boolean;
  };
  /** `theater:actor/supervisor`. */
  supervisor: {
    spawn(manifest: string, params: string | null): string;
    stop(child: string): void;
    restart(child: string): void;
    children(): string[];
  };
}

/** The component's exports, as componentize-qjs expects them. */
export interface BoundActor {
  /** `theater:actor/actor`. */
  actor: {
    init(params: string): string;
    handle(state: string, msg: string): [string, string | null];
  };
  /** `theater:actor/supervised`. */
  supervised: { onChildEvent(state: string, event: string): string };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `fn`. An `ActorError` it throws becomes the WIT `err` string. Any
 * other exception is a crash: it is logged (so the chain says what went
 * wrong), then the export returns a value the component cannot lower,
 * which traps the call (componentize-qjs turns any thrown value into
 * `err`, so a trap has to be made this way).
 */
function guard<T>(fn: () => T, log: (message: string) => void): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ActorError) throw errText(err);
    const name = err instanceof Error ? err.name : typeof err;
    log(`crash: uncaught ${name}: ${errText(err)}`);
    return Symbol("crash") as unknown as T;
  }
}

/** The typed host over the raw imports. */
export function makeHost(imports: RawImports): Host {
  const call = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new ActorError(errText(err));
    }
  };
  return {
    log: (message) => imports.runtime.log(message),
    now: () => Number(imports.runtime.now()),
    random: (length) => Uint8Array.from(imports.runtime.random(length)),
    selfId: () => imports.runtime.selfId(),
    sender: () => imports.message.sender(),
    request: (to, message, timeoutMs) =>
      call(() =>
        imports.message.request(to, JSON.stringify(message), timeoutMs)
      ),
    after: (ms, message) =>
      call(() => imports.timers.after(ms, JSON.stringify(message))),
    every: (ms, message) =>
      call(() => imports.timers.every(ms, JSON.stringify(message))),
    cancel: (id) => imports.timers.cancel(id),
    send: (to, message) =>
      call(() => imports.message.send(to, JSON.stringify(message))),
    spawn: (manifest, params) =>
      call(() =>
        imports.supervisor.spawn(
          manifest,
          params === undefined ? null : JSON.stringify(params),
        )
      ),
    stop: (child) => call(() => imports.supervisor.stop(child)),
    restart: (child) => call(() => imports.supervisor.restart(child)),
    children: () => imports.supervisor.children(),
  };
}

/**
 * Binds a typed actor to the component's imports and exports: parses the
 * JSON the host passes in, writes the JSON it passes back, and maps a
 * thrown `ActorError` to the WIT `err` and any other exception to a crash.
 */
export function bindActor<State, Message, Reply>(
  definition: ActorDefinition<State, Message, Reply>,
  imports: RawImports,
): BoundActor {
  const host = makeHost(imports);
  return {
    actor: {
      init: (params) =>
        guard(
          () =>
            JSON.stringify(definition.init(JSON.parse(params) as Json, host)),
          host.log,
        ),
      handle: (state, msg) =>
        guard(() => {
          const out = definition.handle(
            JSON.parse(state) as State,
            JSON.parse(msg) as Message,
            host,
          );
          return [
            JSON.stringify(out.state),
            out.reply === undefined ? null : JSON.stringify(out.reply),
          ];
        }, host.log),
    },
    supervised: {
      onChildEvent: (state, event) =>
        guard(() => {
          const current = JSON.parse(state) as State;
          const next = definition.onChildEvent?.(
            current,
            JSON.parse(event) as ChildEvent,
            host,
          ) ?? current;
          return JSON.stringify(next);
        }, host.log),
    },
  };
}
