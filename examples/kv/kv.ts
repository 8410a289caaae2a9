// Copyright the Theater authors. MIT license.
/**
 * The `kv` actor: a key-value store whose state is
 * `{"entries":{...},"updated_at":<ms>}`.
 *
 * | message                            | reply                           |
 * | ---------------------------------- | ------------------------------- |
 * | `{"op":"put","key":K,"value":V}`   | `{"ok":true}`                   |
 * | `{"op":"get","key":K}`             | `{"value":V}` or `{"value":null}` |
 * | `{"op":"delete","key":K}`          | `{"deleted":true\|false}`       |
 * | `{"op":"keys"}`                    | `{"keys":[...]}` (sorted)       |
 *
 * Anything else is an error. This module has no imports: `build.ts` strips
 * its types and appends the few lines that bind it to the component's
 * `theater:actor/runtime` import and export it as `theater:actor/actor`.
 * Under componentize-qjs a top-level `result<T, string>` export returns `T`
 * on success and throws a string for `err`, which is what {@linkcode
 * createActor}'s functions do.
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

/** The host services this actor uses (part of `theater:actor/runtime`). */
export interface Runtime {
  /** Writes a line to the actor's log. */
  log(msg: string): void;
  /** Milliseconds since the Unix epoch (WIT `u64`, a number in QuickJS). */
  now(): number;
}

/** The actor's state, as stored between messages. */
export interface KvState {
  entries: { [key: string]: Json };
  /** When an entry was last put or deleted (or the store was created). */
  updated_at: number;
}

/** A message the actor understands. */
export type KvMessage =
  | { op: "put"; key: string; value: Json }
  | { op: "get"; key: string }
  | { op: "delete"; key: string }
  | { op: "keys" };

/**
 * The `theater:actor/actor` interface as componentize-qjs sees it: `ok`
 * values are returned, `err` strings are thrown.
 */
export interface Actor {
  /** Returns the initial state; throws a string on bad params. */
  init(params: string): string;
  /** Returns `[state, reply]`; throws a string on a bad message. */
  handle(state: string, msg: string): [string, string | null];
}

class KvError extends Error {
  override name = "KvError";
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    throw new KvError(`${what} is not JSON`);
  }
}

function stringKey(msg: { [key: string]: Json }): string {
  const key = msg.key;
  if (typeof key !== "string") {
    throw new KvError(`"${msg.op}" needs a string "key"`);
  }
  return key;
}

/** Checks a message; throws a {@linkcode KvError} naming what is wrong. */
function parseMessage(text: string): KvMessage {
  const msg = parseJson(text, "message");
  if (!isObject(msg)) {
    throw new KvError(`message must be an object with an "op"`);
  }
  switch (msg.op) {
    case "put":
      if (!("value" in msg)) throw new KvError(`"put" needs a "value"`);
      return { op: "put", key: stringKey(msg), value: msg.value };
    case "get":
      return { op: "get", key: stringKey(msg) };
    case "delete":
      return { op: "delete", key: stringKey(msg) };
    case "keys":
      return { op: "keys" };
    default:
      throw new KvError(
        `unknown op ${
          JSON.stringify(msg.op ?? null)
        } (expected put, get, delete or keys)`,
      );
  }
}

function parseEntries(value: Json, what: string): Map<string, Json> {
  if (!isObject(value)) throw new KvError(`${what} must be an object`);
  // A Map, so that a key such as "__proto__" is an ordinary key.
  return new Map(Object.entries(value));
}

function parseState(text: string): Map<string, Json> {
  const state = parseJson(text, "state");
  if (!isObject(state)) throw new KvError("state must be an object");
  return parseEntries(state.entries, "state.entries");
}

function encodeState(entries: Map<string, Json>, updatedAt: number): string {
  const state: KvState = {
    entries: Object.fromEntries(entries),
    updated_at: updatedAt,
  };
  return JSON.stringify(state);
}

/** Entries from `{"entries":{...}}` params; none for `null` or `{}`. */
function initialEntries(params: Json): Map<string, Json> {
  if (params === null) return new Map();
  if (!isObject(params)) throw new KvError("params must be null or an object");
  if (!("entries" in params)) return new Map();
  return parseEntries(params.entries, "params.entries");
}

/** Runs `fn`, turning anything it throws into the string WIT `err`. */
function orErr<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof Error ? err.message : String(err);
  }
}

/** Builds the actor's exported functions on top of the host `runtime`. */
export function createActor(runtime: Runtime): Actor {
  return {
    init(params: string): string {
      return orErr(() => {
        const entries = initialEntries(parseJson(params, "params"));
        runtime.log(`started with ${entries.size} entries`);
        return encodeState(entries, runtime.now());
      });
    },

    handle(state: string, msg: string): [string, string | null] {
      return orErr(() => {
        const entries = parseState(state);
        const m = parseMessage(msg);
        switch (m.op) {
          case "put": {
            entries.set(m.key, m.value);
            runtime.log(`put ${JSON.stringify(m.key)}`);
            return [
              encodeState(entries, runtime.now()),
              JSON.stringify({ ok: true }),
            ];
          }
          case "get":
            return [
              state,
              JSON.stringify({ value: entries.get(m.key) ?? null }),
            ];
          case "delete": {
            const deleted = entries.delete(m.key);
            runtime.log(
              `delete ${JSON.stringify(m.key)}${deleted ? "" : " (absent)"}`,
            );
            return [
              deleted ? encodeState(entries, runtime.now()) : state,
              JSON.stringify({ deleted }),
            ];
          }
          case "keys":
            return [
              state,
              JSON.stringify({ keys: [...entries.keys()].sort() }),
            ];
        }
      });
    },
  };
}
