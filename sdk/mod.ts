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
  /**
   * Stores bytes (a string is stored as UTF-8) in the run's blob store and
   * returns their SHA-256 in hex: keep the hash in the state, the bytes
   * there. The chain records only hash and size.
   *
   * @throws {ActorError} when the blob is over `limits.blob_mb`.
   */
  put(data: Uint8Array | string): string;
  /** A blob by its SHA-256, or null when the store has none. */
  get(sha256: string): Uint8Array | null;
  /** A blob as UTF-8 text, or null. */
  getText(sha256: string): string | null;
  /**
   * Makes an HTTP request to an origin the manifest grants
   * (`grants.http`; the component must be built with that manifest).
   * Request and response are recorded; replay gives back the recorded
   * response.
   *
   * @throws {ActorError} with the reason when the request is not granted,
   * the server cannot be reached, a redirect leaves the grant, the
   * response is too large, or time runs out.
   */
  fetch(url: string, init?: FetchInit): FetchResponse;
}

/** The optional parts of an HTTP request. */
export interface FetchInit {
  /** The method (default `GET`). */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** The body; a string is sent as UTF-8. */
  body?: Uint8Array | string;
}

/** An HTTP response, read whole. */
export interface FetchResponse {
  /** The status code. */
  status: number;
  /** The headers, names in lowercase. */
  headers: Record<string, string>;
  /** The body. */
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json(): Json;
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
  /** `theater:actor/store` (0.2.0). */
  store: {
    put(data: Uint8Array): string;
    get(sha256: string): Uint8Array | undefined;
  };
  /** `theater:actor/http` (0.2.0); absent unless the manifest grants it. */
  http?: {
    fetch(request: {
      method: string;
      url: string;
      headers: [string, string][];
      body: Uint8Array | undefined;
    }): { status: number; headers: [string, string][]; body: Uint8Array };
  };
}

/** UTF-8 bytes of a string (the guest has no TextEncoder). */
export function utf8Encode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    } else {
      out.push(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 63),
        0x80 | ((c >> 6) & 63),
        0x80 | (c & 63),
      );
    }
  }
  return Uint8Array.from(out);
}

/** The string UTF-8 bytes spell; a bad sequence becomes U+FFFD. */
export function utf8Decode(bytes: Uint8Array): string {
  const MIN = [0, 0x80, 0x800, 0x10000];
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const n = b < 0x80
      ? 0
      : b >= 0xf5 || b < 0xc2
      ? -1
      : b >= 0xf0
      ? 3
      : b >= 0xe0
      ? 2
      : 1;
    if (n < 0) {
      out += "\ufffd";
      i++;
      continue;
    }
    let c = n === 0 ? b : n === 1 ? b & 31 : n === 2 ? b & 15 : b & 7;
    let k = 1;
    while (k <= n && i + k < bytes.length && (bytes[i + k] & 0xc0) === 0x80) {
      c = (c << 6) | (bytes[i + k] & 63);
      k++;
    }
    const bad = k <= n || c < MIN[n] || c > 0x10ffff ||
      (c >= 0xd800 && c <= 0xdfff);
    out += bad ? "\ufffd" : String.fromCodePoint(c);
    i += k;
  }
  return out;
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
    put: (data) =>
      call(() =>
        imports.store.put(typeof data === "string" ? utf8Encode(data) : data)
      ),
    get: (sha256) => imports.store.get(sha256) ?? null,
    getText: (sha256) => {
      const bytes = imports.store.get(sha256);
      return bytes ? utf8Decode(bytes) : null;
    },
    fetch: (url, init = {}) => {
      const http = imports.http;
      if (!http) {
        throw new ActorError(
          "this actor has no HTTP grant: add grants.http to its manifest and build it again",
        );
      }
      const body = init.body === undefined
        ? undefined
        : typeof init.body === "string"
        ? utf8Encode(init.body)
        : init.body;
      const r = call(() =>
        http.fetch({
          method: init.method ?? "GET",
          url,
          headers: Object.entries(init.headers ?? {}),
          body,
        })
      );
      const headers: Record<string, string> = {};
      for (const [k, v] of r.headers) {
        headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
      }
      const bytes = Uint8Array.from(r.body);
      return {
        status: r.status,
        headers,
        body: bytes,
        text: () => utf8Decode(bytes),
        json: () => JSON.parse(utf8Decode(bytes)) as Json,
      };
    },
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
