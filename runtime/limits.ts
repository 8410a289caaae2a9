// Copyright the Theater authors. MIT license.
/**
 * The one home of the per-actor limits: their manifest names, defaults and
 * bounds. Manifests (`limits.*`), the supervisor, the worker pool and the
 * guest host all read them from here; `docs/manifest.md` and
 * `docs/security.md` explain each.
 *
 * @module
 */

/** Per-actor limits, with defaults filled in. */
export interface ActorLimits {
  /** Longest one call (instantiation included) may run, in ms. */
  handleTimeoutMs: number;
  /** Most linear memory each of the actor's memories may grow to, in MiB. */
  memoryMb: number;
  /** Most elements each of the actor's tables may grow to. */
  tableElements: number;
  /** Most host calls one call into the guest may make. */
  hostCalls: number;
  /** Most bytes of host-call records one call into the guest may produce. */
  recordedBytes: number;
  /** Most messages one call into the guest may send. */
  sends: number;
  /** Most messages waiting for the actor; a send past it is refused. */
  mailbox: number;
  /** Most bytes of messages waiting for the actor. */
  mailboxBytes: number;
  /** Most bytes of messages waiting in the whole run (root manifest). */
  queuedBytes: number;
  /** Most children the actor may have at once. */
  children: number;
  /** Most timers the actor may have pending at once (WIT 0.2.0). */
  timers: number;
  /** Most requests the actor may have waiting for a response (0.2.0). */
  requests: number;
  /** Most MiB of blobs one call may `store.put`, together (0.2.0). */
  blobMb: number;
  /** Most actors in the whole run (read from the root manifest). */
  actors: number;
  /** Largest component file the actor may use, in MiB. */
  componentMb: number;
}

/** Longest time a timer can wait (setTimeout's limit): 2^31 − 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * How many times its live limit a call may take in replay. A call that
 * finished live must not fail on a replaying machine that is slower (a
 * witness under load); a time-out that happened live is taken from the
 * record instead (docs/replay.md), so replay's own limit only bounds a
 * component that now runs away.
 */
export const REPLAY_TIME_SLACK = 10;

/** The time limit replay gives a call whose live limit was `liveMs`. */
export function replayTimeoutMs(liveMs: number): number {
  return Math.min(MAX_TIMEOUT_MS, liveMs * REPLAY_TIME_SLACK);
}

/** One manifest field under `limits`. */
export interface LimitField {
  /** The key in {@linkcode ActorLimits}. */
  key: keyof ActorLimits;
  /** Smallest value accepted. */
  min: number;
  /** Largest value accepted. */
  max: number;
}

/**
 * Every `limits.*` manifest field, by its manifest name. Defaults are
 * chosen so that an actor that hits all of them at once still costs the
 * host well under 1 GB (docs/security.md works the sum out).
 */
export const LIMIT_FIELDS: Readonly<Record<string, LimitField>> = {
  handle_timeout_ms: { key: "handleTimeoutMs", min: 1, max: MAX_TIMEOUT_MS },
  memory_mb: { key: "memoryMb", min: 1, max: 4096 },
  table_elements: { key: "tableElements", min: 1, max: 10_000_000 },
  host_calls: { key: "hostCalls", min: 0, max: 1_000_000 },
  recorded_bytes: { key: "recordedBytes", min: 0, max: 256 * 1024 * 1024 },
  sends: { key: "sends", min: 0, max: 100_000 },
  mailbox: { key: "mailbox", min: 1, max: 1_000_000 },
  mailbox_bytes: { key: "mailboxBytes", min: 1, max: 2 ** 31 },
  queued_bytes: { key: "queuedBytes", min: 1, max: 2 ** 33 },
  children: { key: "children", min: 0, max: 100_000 },
  timers: { key: "timers", min: 0, max: 10_000 },
  requests: { key: "requests", min: 0, max: 10_000 },
  blob_mb: { key: "blobMb", min: 1, max: 256 },
  actors: { key: "actors", min: 1, max: 100_000 },
  component_mb: { key: "componentMb", min: 1, max: 1024 },
};

/** The limits of an actor whose manifest sets none. */
export const DEFAULT_LIMITS: Readonly<ActorLimits> = {
  handleTimeoutMs: 1000,
  memoryMb: 64,
  tableElements: 100_000,
  hostCalls: 10_000,
  recordedBytes: 4 * 1024 * 1024,
  sends: 100,
  mailbox: 1000,
  mailboxBytes: 16 * 1024 * 1024,
  queuedBytes: 256 * 1024 * 1024,
  children: 100,
  timers: 100,
  requests: 100,
  blobMb: 16,
  actors: 1000,
  componentMb: 64,
};

/** The manifest name of a limit, for messages: `limits.host_calls`. */
export function limitName(key: keyof ActorLimits): string {
  const name = Object.entries(LIMIT_FIELDS).find(([, f]) => f.key === key)
    ?.[0];
  return `limits.${name ?? key}`;
}

/** Why a call was cut off: a quota it went past, named as in manifests. */
export class QuotaExceeded extends RangeError {
  /** The error's name, as shown in messages and stack traces. */
  override name = "QuotaExceeded";
  /** `key` names the limit, `limit` its value, `what` what went past it. */
  constructor(key: keyof ActorLimits, limit: number, what: string) {
    super(`quota exceeded: ${what} (${limitName(key)} = ${limit})`);
  }
}

/**
 * The limits a manifest's `limits` member sets, defaults filled in. Fields
 * are taken as validated (manifests) or as recorded (replay); anything
 * that is not a known field with a number is ignored.
 */
export function limitsOf(given: unknown): ActorLimits {
  const limits = { ...DEFAULT_LIMITS };
  if (typeof given !== "object" || given === null) return limits;
  for (const [name, value] of Object.entries(given)) {
    if (Object.hasOwn(LIMIT_FIELDS, name) && typeof value === "number") {
      limits[LIMIT_FIELDS[name].key] = value;
    }
  }
  return limits;
}
