// Copyright the Theater authors. MIT license.
/**
 * RFC 8785 (JCS) canonical JSON and the event hash built on it.
 *
 * @module
 */
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import type { ChainEvent, UnsealedEvent } from "./event.ts";

/**
 * The RFC 8785 canonical form of a JSON value. Throws on values JSON cannot
 * carry (NaN, Infinity, lone surrogates, cycles).
 */
export function canonicalJson(value: unknown): string {
  // Most documents are already in RFC 8785 order (states the recorder
  // canonicalised before, messages that passed the document gate): for
  // them JSON.stringify writes exactly the canonical form, natively. A
  // lone surrogate, which has no canonical form, comes out of it escaped:
  // one look at the text finds it (or, rarely, an escaped backslash before
  // "ud8", which only sends the value the general way).
  if (inCanonicalOrder(value, 0)) {
    const text = JSON.stringify(value);
    if (!LONE_SURROGATE.test(text)) return text;
  }
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError("value has no JSON form");
  }
  return text;
}

/** How JSON.stringify writes a lone surrogate. */
const LONE_SURROGATE = /\\u[dD][89a-fA-F]/;

/**
 * Whether JSON.stringify writes `value` in its RFC 8785 form, but for lone
 * surrogates: only plain objects, arrays, finite numbers, booleans, null
 * and strings, and every object's keys already in the order RFC 8785 sorts
 * them to (UTF-16 code units, which is how `<` compares strings). Numbers
 * and strings need nothing more: RFC 8785 writes them as ECMAScript does.
 * Anything else (a key out of order, an integer-like key, undefined, NaN,
 * a Date) is left to the general path, which sorts, and throws where it
 * must.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!inCanonicalOrder(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      let last: string | null = null;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) return false;
        if (last !== null && !(last < key)) return false;
        if (!inCanonicalOrder(record[key], depth + 1)) return false;
        last = key;
      }
      return true;
    }
    default:
      return false;
  }
}

const encoder = new TextEncoder();

/** Lowercase hex SHA-256 of a string's UTF-8 bytes, or of raw bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  // Strings are encoded here rather than passed to update(): Deno 2.9.6
  // aborts the process ("Lazy deopt after a fast API call") when a GC hits
  // inside update(string) under memory pressure; update(bytes) does not.
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The `hash` of an event: SHA-256 of the canonical form of the event without
 * its `hash` member.
 */
export function hashEvent(event: UnsealedEvent): string {
  const { hash: _ignored, ...rest } = event as ChainEvent;
  return sha256Hex(canonicalJson(rest));
}

/** Adds its `hash` to an event. */
export function sealEvent(event: UnsealedEvent): ChainEvent {
  return { ...event, hash: hashEvent(event) };
}

/** The exact line (without `\n`) a chain file holds for an event. */
export function eventLine(event: ChainEvent): string {
  return canonicalJson(event);
}

/**
 * Seals an event and writes its line, as UTF-8 ending in `\n`, with one
 * canonicalisation of `data` and one encoding: the envelope members are
 * simple (an actor id, a hash or null, integers, a type name), so their
 * RFC 8785 form is written directly, in the key order RFC 8785 sorts them
 * to, and the hashed bytes and the line differ only by the `hash` member,
 * which goes between the two halves. Equal, byte for byte, to
 * `eventLine(sealEvent(event))` and a newline (tested over random events).
 *
 * @throws {TypeError} when `data` has no canonical form.
 */
export function sealLine(
  event: UnsealedEvent,
): { event: ChainEvent; bytes: Uint8Array } {
  const head = `{"actor":${JSON.stringify(event.actor)},"data":${
    canonicalJson(event.data)
  },`;
  const tail = `"parent":${
    event.parent === null ? "null" : `"${event.parent}"`
  },"seq":${event.seq},"ts":${event.ts},"type":${
    JSON.stringify(event.type)
  },"v":${event.v}}\n`;
  // Room for both halves at 3 bytes per UTF-16 unit, and the hash member.
  const out = new Uint8Array(3 * (head.length + tail.length) + HASH_MEMBER);
  const h = encoder.encodeInto(head, out).written;
  const t = encoder.encodeInto(tail, out.subarray(h + HASH_MEMBER)).written;
  const hash = createHash("sha256")
    .update(out.subarray(0, h))
    .update(out.subarray(h + HASH_MEMBER, h + HASH_MEMBER + t - 1))
    .digest("hex");
  encoder.encodeInto(`"hash":"${hash}",`, out.subarray(h, h + HASH_MEMBER));
  return {
    event: { ...event, hash },
    bytes: out.subarray(0, h + HASH_MEMBER + t),
  };
}

/** Bytes of `"hash":"<64 hex>",`. */
const HASH_MEMBER = 74;
