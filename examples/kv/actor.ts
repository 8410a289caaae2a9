// Copyright the Theater authors. MIT license.
/**
 * The `kv` actor: a key-value store whose state is
 * `{"entries":{...},"updated_at":<ms>}`, written against the SDK and built
 * with `theater build examples/kv`.
 *
 * | message                            | reply                             |
 * | ---------------------------------- | --------------------------------- |
 * | `{"op":"put","key":K,"value":V}`   | `{"ok":true}`                     |
 * | `{"op":"get","key":K}`             | `{"value":V}` or `{"value":null}` |
 * | `{"op":"delete","key":K}`          | `{"deleted":true\|false}`         |
 * | `{"op":"keys"}`                    | `{"keys":[...]}` (sorted)         |
 *
 * Anything else is an error reply.
 *
 * @module
 */
import {
  ActorError,
  defineActor,
  type Handled,
  type Json,
} from "../../sdk/mod.ts";

/** The actor's state, as stored between messages. */
export interface KvState {
  entries: { [key: string]: Json };
  /** When an entry was last put or deleted (or the store was created). */
  updated_at: number;
}

/** A message the actor understands, once checked. */
export type KvMessage =
  | { op: "put"; key: string; value: Json }
  | { op: "get"; key: string }
  | { op: "delete"; key: string }
  | { op: "keys" };

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringKey(msg: { [key: string]: Json }): string {
  if (typeof msg.key !== "string") {
    throw new ActorError(`"${msg.op}" needs a string "key"`);
  }
  return msg.key;
}

/** Checks a message; throws an {@linkcode ActorError} naming what is wrong. */
export function parseMessage(msg: Json): KvMessage {
  if (!isObject(msg)) {
    throw new ActorError(`message must be an object with an "op"`);
  }
  switch (msg.op) {
    case "put":
      if (!("value" in msg)) throw new ActorError(`"put" needs a "value"`);
      return { op: "put", key: stringKey(msg), value: msg.value };
    case "get":
      return { op: "get", key: stringKey(msg) };
    case "delete":
      return { op: "delete", key: stringKey(msg) };
    case "keys":
      return { op: "keys" };
    default:
      throw new ActorError(
        `unknown op ${
          JSON.stringify(msg.op ?? null)
        } (expected put, get, delete or keys)`,
      );
  }
}

// A Map while working on entries, so a key such as "__proto__" is an
// ordinary key; Object.fromEntries writes it back as a plain property.
function entriesOf(value: Json, what: string): Map<string, Json> {
  if (!isObject(value)) throw new ActorError(`${what} must be an object`);
  return new Map(Object.entries(value));
}

function stateOf(entries: Map<string, Json>, now: number): KvState {
  return { entries: Object.fromEntries(entries), updated_at: now };
}

export default defineActor<KvState, Json, Json>({
  init(params, host) {
    const entries = params === null
      ? new Map<string, Json>()
      : isObject(params) && "entries" in params
      ? entriesOf(params.entries, "params.entries")
      : isObject(params)
      ? new Map<string, Json>()
      : (() => {
        throw new ActorError("params must be null or an object");
      })();
    host.log(`started with ${entries.size} entries`);
    return stateOf(entries, host.now());
  },
  handle(state, msg, host): Handled<KvState, Json> {
    const entries = entriesOf(state.entries, "state.entries");
    const m = parseMessage(msg);
    switch (m.op) {
      case "put":
        entries.set(m.key, m.value);
        host.log(`put ${JSON.stringify(m.key)}`);
        return { state: stateOf(entries, host.now()), reply: { ok: true } };
      case "get":
        return { state, reply: { value: entries.get(m.key) ?? null } };
      case "delete": {
        const deleted = entries.delete(m.key);
        host.log(
          `delete ${JSON.stringify(m.key)}${deleted ? "" : " (absent)"}`,
        );
        return {
          state: deleted ? stateOf(entries, host.now()) : state,
          reply: { deleted },
        };
      }
      case "keys":
        return { state, reply: { keys: [...entries.keys()].sort() } };
    }
  },
});
