// Copyright the Theater authors. MIT license.
/**
 * An actor's state as its chain records it (docs/chain-format.md §5): a
 * full state in `actor.init` and `handle.ok`, or, since version 3, a
 * `handle.patch`: an RFC 6902 JSON Patch from the state before, with the
 * SHA-256 of the RFC 8785 form of the state it yields. Patches come from
 * `fast-json-patch` (a well-kept RFC 6902 implementation) and are computed
 * between canonical forms, so the same two states always give the same
 * patch, in a live run and in its replay.
 *
 * @module
 */
import jsonpatch, { type Operation } from "fast-json-patch";
import { canonicalJson, sha256Hex } from "./canonical.ts";
import type { ChainEvent, Json } from "./event.ts";

/** A state that a chain's patches do not lead to. */
export class StateError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "StateError";
}

/** The `state_hash` of a state: SHA-256 of its RFC 8785 form. */
export function stateHash(state: Json): string {
  return sha256Hex(canonicalJson(state));
}

/**
 * A state in RFC 8785 form: its text, and the value parsed back from it
 * (keys in RFC 8785 order), which is what patches are made between.
 */
export function canonicalState(state: Json): { text: string; value: Json } {
  const text = canonicalJson(state);
  return { text, value: JSON.parse(text) };
}

/**
 * The RFC 6902 patch between two states already in RFC 8785 key order
 * (see {@linkcode canonicalState}).
 */
export function patchBetween(from: Json, to: Json): Json[] {
  const kind = (v: Json) =>
    v === null || typeof v !== "object"
      ? "value"
      : Array.isArray(v)
      ? "array"
      : "object";
  if (kind(from) === "value" || kind(from) !== kind(to)) {
    // Not two containers of one kind: the whole state is replaced.
    return [{ op: "replace", path: "", value: to }];
  }
  return jsonpatch.compare(from as object, to as object) as unknown as Json[];
}

/** The RFC 6902 patch that turns `from` into `to`, in any key order. */
export function diffStates(from: Json, to: Json): Json[] {
  return patchBetween(canonicalState(from).value, canonicalState(to).value);
}

/**
 * Applies a recorded patch to a state (not changed in place).
 *
 * @throws {StateError} when the patch does not apply.
 */
export function applyStatePatch(state: Json, patch: Json[]): Json {
  try {
    return jsonpatch.applyPatch(
      structuredClone(state),
      patch as unknown as Operation[],
      true,
      false,
    ).newDocument as Json;
  } catch (err) {
    throw new StateError(`patch does not apply: ${(err as Error).message}`);
  }
}

/**
 * Follows the state through a chain's events: `actor.init` and
 * `handle.ok` set it, `handle.patch` changes it in place. The `state_hash`
 * of the last patch is checked when the state is read, so following a long
 * chain costs the patches, not a hash of the whole state per event. The
 * state read is the tracker's own: clone it to keep it past the next event.
 */
export class StateTracker {
  #state: Json = null;
  #unchecked: { hash: string; seq: number } | null = null;

  /**
   * The state after the events so far (null before any).
   *
   * @throws {StateError} when the last patch did not give its recorded
   * `state_hash`.
   */
  get state(): Json {
    if (this.#unchecked) {
      const { hash, seq } = this.#unchecked;
      this.#unchecked = null;
      if (stateHash(this.#state) !== hash) {
        throw new StateError(
          `seq ${seq}: the patched state does not have the recorded state_hash`,
        );
      }
    }
    return this.#state;
  }

  /**
   * Takes the next event.
   *
   * @throws {StateError} when a patch does not apply.
   */
  add(event: ChainEvent): void {
    if (event.type === "actor.init" || event.type === "handle.ok") {
      this.#state = structuredClone(event.data.state);
      this.#unchecked = null;
    } else if (event.type === "handle.patch") {
      try {
        this.#state = jsonpatch.applyPatch(
          this.#state,
          event.data.patch as unknown as Operation[],
          true,
          true,
        ).newDocument as Json;
      } catch (err) {
        throw new StateError(
          `seq ${event.seq}: patch does not apply: ${(err as Error).message}`,
        );
      }
      this.#unchecked = {
        hash: String(event.data.state_hash),
        seq: event.seq,
      };
    }
  }
}

/**
 * Lines saying how `b` differs from `a`, path by path:
 * `~ $.path: old -> new`, `+ $.path: value`, `- $.path: value`.
 */
export function changes(a: Json, b: Json, path = "$"): string[] {
  const isObj = (v: Json): v is { [k: string]: Json } =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const lines: string[] = [];
    for (
      const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    ) {
      const p = `${path}.${key}`;
      if (!(key in b)) lines.push(`- ${p}: ${JSON.stringify(a[key])}`);
      else if (!(key in a)) lines.push(`+ ${p}: ${JSON.stringify(b[key])}`);
      else lines.push(...changes(a[key], b[key], p));
    }
    return lines;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((v, i) => changes(v, b[i], `${path}[${i}]`));
  }
  return JSON.stringify(a) === JSON.stringify(b)
    ? []
    : [`~ ${path}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`];
}
