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
  /** The `seq` of the event at fault, when one is. */
  seq?: number;
  /** For a wrong `state_hash`: the hash of the state the patches give. */
  expected?: string;
  /** For a wrong `state_hash`: the one recorded. */
  actual?: string;

  /** An error at event `seq` (named in the message), with its hashes. */
  constructor(
    message: string,
    details: { seq?: number; expected?: string; actual?: string } = {},
  ) {
    super(
      details.seq === undefined ? message : `seq ${details.seq}: ${message}`,
    );
    Object.assign(this, details);
  }
}

/** The operations of RFC 6902 §4; any other `op` is refused. */
const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);

/** An array index token of RFC 6901: `0`, or digits not starting with `0`. */
const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * Why operation `op` cannot be applied to `doc`, as RFC 6902 and RFC 6901
 * read strictly, or null. The library applies what passes; this refuses
 * what it would read loosely: an `op` outside RFC 6902 (it would run an
 * internal `_get`, or an inherited `constructor`), `remove` of the whole
 * document (a state is always a JSON value), and array indexes other
 * than RFC 6901's (`01`, `1e0`, `-` where an element must exist).
 */
function operationProblem(doc: Json, op: unknown): string | null {
  if (op === null || typeof op !== "object" || Array.isArray(op)) {
    return "not an object";
  }
  const o = op as Record<string, unknown>;
  if (typeof o.op !== "string" || !OPS.has(o.op)) {
    return `"op" ${
      JSON.stringify(o.op) ?? "missing"
    } is not an RFC 6902 operation`;
  }
  if (typeof o.path !== "string") return '"path" is not a string';
  if ((o.op === "move" || o.op === "copy") && typeof o.from !== "string") {
    return `"from" is not a string`;
  }
  if (
    (o.op === "add" || o.op === "replace" || o.op === "test") &&
    !Object.hasOwn(o, "value")
  ) {
    return '"value" is missing';
  }
  if (o.op === "remove" && o.path === "") {
    return "removes the whole state";
  }
  const adds = o.op === "add" || o.op === "move" || o.op === "copy";
  return pointerProblem(doc, o.path, adds, "path") ??
    (typeof o.from === "string" && (o.op === "move" || o.op === "copy")
      ? pointerProblem(doc, o.from, false, "from")
      : null);
}

/**
 * Why a JSON pointer does not name a place in `doc`: a syntax error, or an
 * array index that is not RFC 6901's (the last token of an `add` may be
 * `-` or the array's length). Members that do not exist are left to the
 * library, which knows where `add` may create one.
 */
function pointerProblem(
  doc: Json,
  pointer: string,
  adds: boolean,
  member: string,
): string | null {
  if (pointer === "") return null;
  if (pointer[0] !== "/") return `"${member}" does not start with "/"`;
  const tokens = pointer.slice(1).split("/");
  let at: Json | undefined = doc;
  for (const [i, raw] of tokens.entries()) {
    if (/~(?![01])/.test(raw)) {
      return `"${member}" has a "~" not followed by 0 or 1`;
    }
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const last = i === tokens.length - 1;
    if (Array.isArray(at)) {
      if (last && adds && token === "-") return null;
      if (!INDEX.test(token)) {
        return `"${member}": ${JSON.stringify(raw)} is not an array index`;
      }
      at = at[Number(token)];
    } else if (at !== null && typeof at === "object") {
      at = Object.hasOwn(at, token) ? at[token] : undefined;
    } else {
      return null;
    }
  }
  return null;
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

/**
 * Whether a patch names a pointer token that readers refuse
 * (`__proto__`, or `prototype` right after `constructor`: a reader in
 * JavaScript must not let a patch reach an object's prototype). A state
 * whose diff needs one is recorded whole instead (docs/chain-format.md §5).
 */
export function patchReachesPrototype(patch: readonly Json[]): boolean {
  const reaches = (pointer: unknown) => {
    if (typeof pointer !== "string") return false;
    const tokens = pointer.split("/");
    return tokens.some((t, i) =>
      t === "__proto__" ||
      (t === "prototype" && tokens[i - 1] === "constructor")
    );
  };
  return patch.some((op) => {
    const o = op as { path?: unknown; from?: unknown };
    return reaches(o.path) || reaches(o.from);
  });
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
  return applyOperations(structuredClone(state), patch);
}

/**
 * Applies `patch` to `doc` in place, one operation at a time, each checked
 * first as RFC 6902 reads strictly ({@linkcode operationProblem}); returns
 * the new document (a new value when the root is replaced).
 */
function applyOperations(doc: Json, patch: Json[], seq?: number): Json {
  for (const [i, op] of patch.entries()) {
    const problem = operationProblem(doc, op);
    if (problem) {
      throw new StateError(
        `patch does not apply: operation ${i}: ${problem}`,
        { seq },
      );
    }
    try {
      doc = jsonpatch.applyOperation(
        doc,
        op as unknown as Operation,
        true,
        true,
        true,
        i,
      ).newDocument as Json;
    } catch (err) {
      // The library's message ends with the operation and the whole
      // document, pretty-printed: keep its first line.
      const why = String((err as Error).message).split("\n")[0];
      throw new StateError(
        `patch does not apply: operation ${i}: ${why}`,
        { seq },
      );
    }
  }
  return doc;
}

/**
 * Follows the state through a chain's events: `actor.init` and
 * `handle.ok` set it, `handle.patch` changes it in place; every other
 * event (`actor.start` and `actor.resume` too) leaves it as it is. The
 * `state_hash` of the last patch is checked when the state is read, so
 * following a long chain costs the patches, not a hash of the whole state
 * per event; {@linkcode StateTracker.check} checks it at once. The state
 * read is the tracker's own: clone it to keep it past the next event.
 */
export class StateTracker {
  #state: Json = null;
  /** Whether an `actor.init` or `handle.ok` came before. */
  #known = false;
  /** Whether `#state` is still the event's own value (not yet copied). */
  #shared = false;
  #unchecked: { hash: string; seq: number } | null = null;

  /**
   * A tracker that starts from a state (known, as after a full state)
   * when one is given, else from none.
   */
  constructor(options: { state?: Json } = {}) {
    if (options.state !== undefined) {
      this.#state = options.state;
      this.#known = true;
      this.#shared = true;
    }
  }

  /** Whether the events so far hold a full state (else the state is null). */
  get known(): boolean {
    return this.#known;
  }

  /**
   * The state after the events so far (null before any).
   *
   * @throws {StateError} when the last patch did not give its recorded
   * `state_hash`.
   */
  get state(): Json {
    this.check();
    if (this.#shared) {
      this.#state = structuredClone(this.#state);
      this.#shared = false;
    }
    return this.#state;
  }

  /**
   * Checks the last patch's `state_hash` now, if not yet checked.
   *
   * @throws {StateError} when the patched state does not have it.
   */
  check(): void {
    if (!this.#unchecked) return;
    const { hash, seq } = this.#unchecked;
    this.#unchecked = null;
    let actual: string;
    try {
      actual = stateHash(this.#state);
    } catch (err) {
      throw new StateError(
        `the patched state has no RFC 8785 form: ${(err as Error).message}`,
        { seq },
      );
    }
    if (actual !== hash) {
      throw new StateError(
        "the patched state does not have the recorded state_hash",
        { seq, expected: actual, actual: hash },
      );
    }
  }

  /**
   * Takes the next event. A full state is taken as the event holds it and
   * copied only when a patch comes to change it.
   *
   * @throws {StateError} when a patch does not apply, or comes before any
   * full state.
   */
  add(event: ChainEvent): void {
    if (event.type === "actor.init" || event.type === "handle.ok") {
      this.#state = event.data.state;
      this.#known = true;
      this.#shared = true;
      this.#unchecked = null;
    } else if (event.type === "handle.patch") {
      if (!this.#known) {
        throw new StateError(
          "handle.patch with no state before it (no actor.init or handle.ok earlier in the chain)",
          { seq: event.seq },
        );
      }
      if (this.#shared) {
        this.#state = structuredClone(this.#state);
        this.#shared = false;
      }
      this.#state = applyOperations(
        this.#state,
        event.data.patch as Json[],
        event.seq,
      );
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
