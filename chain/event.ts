// Copyright the Theater authors. MIT license.
/**
 * The event model of a Theater hash chain (docs/chain-format.md §2–§4).
 *
 * @module
 */

/**
 * The newest chain format version this code writes and reads. Version 2
 * added `actor.resume`, version 3 `handle.patch` (a new state as a JSON
 * Patch from the one before), version 4 `host.calls` (a run of host calls
 * to one interface in one event); every other event is written and read
 * exactly as in version 1. An event's `v` is the version that
 * introduced its type ({@linkcode TYPE_VERSION}), so a chain without
 * resumes is a version-1 chain byte for byte.
 */
export const FORMAT_VERSION = 4;

/** Longest line, in bytes without its `\n`, that a chain may hold. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** A JSON value as it appears in event data. */
export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { [key: string]: Json };

/** A pointer from one chain to an event in another actor's chain. */
export type ChainLink = {
  /** The other actor's id. */
  actor: string;
  /** The `hash` of the event in that actor's chain. */
  hash: string;
};

/** One line of a chain file. */
export interface ChainEvent {
  /** The format version that introduced the event's type. */
  v: 1 | 2 | 3 | 4;
  /** Position in the chain: `0` on line 1, then one more per line. */
  seq: number;
  /** The actor whose chain this is; the same on every line. */
  actor: string;
  /** The `hash` of the previous line; `null` on line 1 and only there. */
  parent: string | null;
  /** Milliseconds since the Unix epoch when the host recorded the event. */
  ts: number;
  /** What kind of event this is. */
  type: EventType;
  /** The members the event type requires ({@linkcode EVENT_DATA}). */
  data: { [key: string]: Json };
  /** Lowercase hex SHA-256 of the canonical event without `hash`. */
  hash: string;
}

/** An event as a writer is asked to append it: the chain fills in the rest. */
export type UnsealedEvent = Omit<ChainEvent, "hash">;

/** The kind of value an event `data` member must hold. */
export type FieldKind =
  | "string"
  | "json"
  | "object"
  | "array"
  | "hash"
  | "link|null"
  | "string|null"
  | "cut|null"
  | "calls";

/**
 * The `data` members each event type must have, and their kinds. An event's
 * `data` has exactly these members.
 */
export const EVENT_DATA: Readonly<
  Record<string, Readonly<Record<string, FieldKind>>>
> = {
  "actor.start": {
    component: "hash",
    manifest: "object",
    params: "json",
    link: "link|null",
  },
  "actor.init": { state: "json" },
  "message.in": { from: "string", msg: "json", link: "link|null" },
  "host.call": {
    interface: "string",
    function: "string",
    args: "array",
    result: "json",
  },
  "host.calls": { interface: "string", calls: "calls" },
  "handle.ok": { state: "json", reply: "json" },
  "handle.patch": { patch: "array", reply: "json", state_hash: "hash" },
  "handle.error": { phase: "string", error: "string" },
  "message.out": { to: "string", msg: "json" },
  "child.event": { child: "string", event: "string", reason: "string|null" },
  "actor.stop": { reason: "string" },
  "actor.resume": {
    component: "hash",
    manifest: "object",
    params: "json",
    cut: "cut|null",
  },
};

/** The format version that introduced each event type: its events' `v`. */
export const TYPE_VERSION: Readonly<Record<EventType, 1 | 2 | 3 | 4>> = {
  "actor.start": 1,
  "actor.init": 1,
  "message.in": 1,
  "host.call": 1,
  "host.calls": 4,
  "handle.ok": 1,
  "handle.patch": 3,
  "handle.error": 1,
  "message.out": 1,
  "child.event": 1,
  "actor.stop": 1,
  "actor.resume": 2,
};

/** The event types of format versions 1 to 4. */
export type EventType =
  | "actor.start"
  | "actor.init"
  | "message.in"
  | "host.call"
  | "host.calls"
  | "handle.ok"
  | "handle.patch"
  | "handle.error"
  | "message.out"
  | "child.event"
  | "actor.stop"
  | "actor.resume";

const HASH_RE = /^[0-9a-f]{64}$/;
const ACTOR_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ENVELOPE = ["v", "seq", "actor", "parent", "ts", "type", "data", "hash"];

/** Whether `id` is a valid actor id (also a safe file name stem). */
export function isActorId(id: unknown): id is string {
  return typeof id === "string" && ACTOR_RE.test(id);
}

/** Whether `value` is a lowercase hex SHA-256 digest. */
export function isHash(value: unknown): value is string {
  return typeof value === "string" && HASH_RE.test(value);
}

/** A problem with the shape of one event, before any hash is checked. */
export interface ShapeProblem {
  /** Which kind of problem it is. */
  reason: "unknown-version" | "bad-field" | "unknown-type";
  /** A human-readable description of the problem. */
  message: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLink(value: unknown): value is ChainLink {
  return isObject(value) && Object.keys(value).length === 2 &&
    isActorId(value.actor) && isHash(value.hash);
}

function kindOk(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "json":
      return true;
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "hash":
      return isHash(value);
    case "link|null":
      return value === null || isLink(value);
    case "string|null":
      return value === null || typeof value === "string";
    case "cut|null":
      return value === null || (
        isObject(value) && Object.keys(value).length === 2 &&
        Number.isSafeInteger(value.bytes) && (value.bytes as number) > 0 &&
        isHash(value.sha256)
      );
    case "calls":
      return Array.isArray(value) && value.length > 0 &&
        value.every((call) =>
          isObject(call) && Object.keys(call).length === 3 &&
          typeof call.function === "string" && Array.isArray(call.args) &&
          Object.hasOwn(call, "result")
        );
  }
}

function describe(kind: FieldKind): string {
  switch (kind) {
    case "hash":
      return "a lowercase hex SHA-256";
    case "link|null":
      return 'null or {"actor": <actor id>, "hash": <hex>}';
    case "json":
      return "any JSON value";
    case "cut|null":
      return 'null or {"bytes": <count>, "sha256": <hex>}';
    case "calls":
      return 'a non-empty array of {"function": <string>, "args": <array>, "result": <JSON>}';
    default:
      return `a ${kind.replace("|", " or ")}`;
  }
}

/**
 * Checks that a parsed line has the shape of an event: exactly the
 * envelope members with the right types, a known type, and that type's data
 * members. Returns null when the shape is right.
 */
export function checkShape(value: unknown): ShapeProblem | null {
  // Check 6 of docs/chain-format.md §7 comes first: a line must have a
  // known `v` before anything else of it is read, and a line that is not
  // an object has none.
  if (!isObject(value)) {
    return {
      reason: "unknown-version",
      message: 'event is not a JSON object, so it has no version "v"',
    };
  }
  if (!Object.hasOwn(value, "v")) {
    return { reason: "unknown-version", message: 'missing field "v"' };
  }
  if (
    !Number.isInteger(value.v) || (value.v as number) < 1 ||
    (value.v as number) > FORMAT_VERSION
  ) {
    return {
      reason: "unknown-version",
      message: `unknown format version ${
        JSON.stringify(value.v)
      } (this reader knows 1 to ${FORMAT_VERSION})`,
    };
  }
  for (const name of ENVELOPE) {
    if (!Object.hasOwn(value, name)) {
      return { reason: "bad-field", message: `missing field "${name}"` };
    }
  }
  for (const name of Object.keys(value)) {
    if (!ENVELOPE.includes(name)) {
      return { reason: "bad-field", message: `unexpected field "${name}"` };
    }
  }
  const bad = (field: string, expected: string): ShapeProblem => ({
    reason: "bad-field",
    message: `field "${field}" must be ${expected}, got ${
      JSON.stringify(value[field])
    }`,
  });
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 0) {
    return bad("seq", "a non-negative integer");
  }
  if (!isActorId(value.actor)) return bad("actor", "an actor id");
  if (value.parent !== null && !isHash(value.parent)) {
    return bad("parent", "null or a lowercase hex SHA-256");
  }
  if (!Number.isSafeInteger(value.ts) || (value.ts as number) < 0) {
    return bad("ts", "a non-negative integer (ms since the Unix epoch)");
  }
  if (typeof value.type !== "string") return bad("type", "a string");
  if (!isObject(value.data)) return bad("data", "an object");
  if (!isHash(value.hash)) return bad("hash", "a lowercase hex SHA-256");
  if (!Object.hasOwn(EVENT_DATA, value.type)) {
    return {
      reason: "unknown-type",
      message: `unknown event type ${JSON.stringify(value.type)}`,
    };
  }
  const introduced = TYPE_VERSION[value.type as EventType];
  if (value.v !== introduced) {
    return {
      reason: "bad-field",
      message: `${value.type}: field "v" must be ${introduced}, got ${
        JSON.stringify(value.v)
      }`,
    };
  }
  return checkData(value.type as EventType, value.data);
}

/**
 * Checks an event's `data` against its type's members (the part of
 * {@linkcode checkShape} after the envelope): what a writer, which makes
 * the envelope itself, still needs to check. Returns null when it fits.
 */
export function checkData(
  type: EventType,
  data: { [key: string]: unknown },
): ShapeProblem | null {
  const spec = EVENT_DATA[type];
  for (const [name, kind] of Object.entries(spec)) {
    if (!Object.hasOwn(data, name)) {
      return {
        reason: "bad-field",
        message: `${type}: missing field "data.${name}"`,
      };
    }
    if (!kindOk(kind, data[name])) {
      return {
        reason: "bad-field",
        message: `${type}: field "data.${name}" must be ${
          describe(kind)
        }, got ${JSON.stringify(data[name])}`,
      };
    }
  }
  for (const name of Object.keys(data)) {
    if (!Object.hasOwn(spec, name)) {
      return {
        reason: "bad-field",
        message: `${type}: unexpected field "data.${name}"`,
      };
    }
  }
  return null;
}

/** One host call as a chain records it (`host.call`, or one of `host.calls`). */
export interface HostCallData {
  /** The WIT interface, without its version. */
  interface: string;
  /** The function called. */
  function: string;
  /** Its arguments, as the guest passed them. */
  args: Json[];
  /** Exactly what the guest received. */
  result: Json;
}

/**
 * The host calls an event records, in order: one for `host.call`, each of
 * a `host.calls` event's (with the interface they share), none for any
 * other event. Every reader of host calls goes through this, so the two
 * forms read the same.
 */
export function hostCallsOf(event: ChainEvent): HostCallData[] {
  if (event.type === "host.call") {
    return [event.data as unknown as HostCallData];
  }
  if (event.type !== "host.calls") return [];
  const iface = event.data.interface as string;
  return (event.data.calls as {
    function: string;
    args: Json[];
    result: Json;
  }[])
    .map((call) => ({
      interface: iface,
      function: call.function,
      args: call.args,
      result: call.result,
    }));
}
