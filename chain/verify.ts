// Copyright the Theater authors. MIT license.
/**
 * Streaming verification of chain files and run directories
 * (docs/chain-format.md §6).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { readLines } from "./_lines.ts";
import {
  blobProblem,
  type BlobReference,
  blobsOf,
  STORE_DIR,
} from "./blobs.ts";
import { canonicalJson, sha256Hex } from "./canonical.ts";
import { COMPONENTS_DIR, FileRefused, openRegularSync } from "./files.ts";
import {
  type ChainEvent,
  type ChainLink,
  checkShape,
  type Json,
  MAX_LINE_BYTES,
} from "./event.ts";
import { StateError, StateTracker } from "./state.ts";

/** Why a chain is not intact. */
export type VerifyReason =
  | "empty-file"
  | "line-too-long"
  | "truncated"
  | "crlf"
  | "bad-utf8"
  | "bad-json"
  | "bad-field"
  | "unknown-version"
  | "unknown-type"
  | "bad-hash"
  | "not-canonical"
  | "wrong-actor"
  | "seq-gap"
  | "seq-repeat"
  | "broken-link"
  | "dangling-link"
  | "bad-link"
  | "missing-chain"
  | "missing-blob"
  | "bad-state"
  | "bad-component";

/** The first thing wrong with a chain. */
export interface VerifyError {
  /** The chain file the error is in. */
  file: string;
  /** 1-based line number of the first bad line. */
  line: number;
  /** Which check failed. */
  reason: VerifyReason;
  /** A human-readable description of the error. */
  message: string;
  /** The value the check wanted (such as the computed hash), if any. */
  expected?: string;
  /** The value the chain holds instead, when `expected` is given. */
  actual?: string;
}

/** What verifying one chain file found. */
export interface ChainReport {
  /** The chain file verified. */
  file: string;
  /** Whether the whole chain is intact. */
  ok: boolean;
  /** Intact events read before the first error (all of them when ok). */
  events: number;
  /** The chain's actor id, or null when no event was intact. */
  actor: string | null;
  /** Hash of the last intact event. */
  head: string | null;
  /** The first error, or null when the chain is intact. */
  error: VerifyError | null;
}

/** What verifying a directory of chains found. */
export interface DirReport {
  /** The directory verified. */
  dir: string;
  /** Whether every chain and link is intact. */
  ok: boolean;
  /** One report per chain file. */
  chains: ChainReport[];
  /** Cross-chain links checked. */
  links: number;
  /** Blobs of the run's store the chains name, each checked. */
  blobs?: number;
  /** Files of the run's `components/` checked against their names. */
  components?: number;
  /** The first error over all chains and links. */
  error: VerifyError | null;
}

/**
 * How deep JSON values in a line may nest (arrays and objects, the event
 * itself counting one): RFC 8259 §9 lets a parser limit nesting, and the
 * format fixes the limit (docs/chain-format.md §2), so that every
 * verifier, whatever its stack, gives one answer. Theater's documents nest
 * at most 64 deep (runtime/json_limits.ts).
 */
export const MAX_DEPTH = 1000;

/** A chain or directory that cannot be read at all (exit 2, not 1). */
export class ChainReadError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ChainReadError";
}

/** Options for {@linkcode verifyChain}. */
export interface VerifyChainOptions {
  /** The actor the chain must belong to (its file name stem in a run dir). */
  actor?: string;
  /** Called with every intact event and its line, in order. */
  onEvent?: (event: ChainEvent, line: number) => void;
  /** Called with every cross-chain link in an intact event, in order. */
  onLink?: (link: ChainLink, line: number) => void;
  /** Longest line accepted, in bytes. */
  maxLineBytes?: number;
  /** Called after each chunk read with the file and the events so far. */
  onProgress?: (file: string, events: number) => void;
  /**
   * How many byte ranges to verify at once (default: one per core, up to
   * 4, for files of at least 16 MB per range; 1 with `onEvent`).
   */
  ranges?: number;
  /**
   * Whether to rebuild the actor's state and check every `state_hash`
   * (check 14, `bad-state`; default true). A caller that folds the state
   * itself may leave it to its own fold.
   */
  state?: boolean;
}

/** Options for {@linkcode verifyDir} and {@linkcode verifyPath}. */
export type VerifyOptions = Pick<
  VerifyChainOptions,
  "maxLineBytes" | "onProgress" | "state"
>;

function openForRead(path: string): Deno.FsFile {
  try {
    return openRegularSync(path).file;
  } catch (err) {
    if (err instanceof FileRefused) {
      throw new ChainReadError(`${path}: not a regular file`);
    }
    throw new ChainReadError(`${path}: cannot read: ${describeIoError(err)}`);
  }
}

/** A short, human reason for a file system error. */
export function describeIoError(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotCapable) {
    return "not allowed by Deno permissions";
  }
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.AlreadyExists) return "already exists";
  // Deno's own text ends with the call and the path, which the caller has
  // already named: keep the OS's reason only.
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/ \(os error \d+\).*$/, "").replace(
    /^./,
    (c) => c.toLowerCase(),
  );
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function short(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A problem found in one line on its own. */
export type LineProblem = Omit<VerifyError, "file" | "line">;

/**
 * Checks one line (its bytes without `\n`) on its own: UTF-8, JSON, the
 * event's shape, its hash, and that the line is the event's canonical form.
 * Links to other lines (seq, parent, actor) are the caller's to check.
 */
export function checkLine(
  bytes: Uint8Array,
): { event: ChainEvent } | LineProblem {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 13) {
    return { reason: "crlf", message: "line ends with CR (CRLF line endings)" };
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { reason: "bad-utf8", message: "line is not valid UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The parser quotes the text: control characters are shown escaped.
    const why = text.length === 0
      ? "empty line"
      : (err as Error).message.replace(
        // deno-lint-ignore no-control-regex
        /[\u0000-\u001f\u007f]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      );
    return { reason: "bad-json", message: `bad JSON: ${why}` };
  }
  // A line shorter than twice the limit cannot nest past it.
  if (text.length > 2 * MAX_DEPTH && nestsDeeper(text, MAX_DEPTH)) {
    return {
      reason: "bad-json",
      message: `bad JSON: nested deeper than ${MAX_DEPTH} levels`,
    };
  }
  const shape = checkShape(value);
  if (shape) return shape;
  const event = value as ChainEvent;
  // Fast path: a line that JSON.stringify gives back unchanged, with every
  // object's keys already in RFC 8785 order, is canonical (RFC 8785 writes
  // numbers and strings exactly as JSON.stringify does), and its hashed
  // text is the line without its `hash` member.
  // (An escaped surrogate can only be a lone one in such a line: the
  // general path below rejects it.)
  if (
    JSON.stringify(event) === text && !/\\u[dD][89a-fA-F]/.test(text) &&
    keysSorted(event)
  ) {
    // `hash` sorts right before `parent`, the last top-level member that
    // is not of a fixed form.
    const member = `"hash":${JSON.stringify(event.hash)},`;
    const at = text.lastIndexOf(',"parent":') + 1 - member.length;
    if (at > 0 && text.startsWith(member, at)) {
      const hashed = text.slice(0, at) + text.slice(at + member.length);
      const actual = sha256Hex(hashed);
      if (actual === event.hash) return { event };
      return {
        reason: "bad-hash",
        message: "hash mismatch",
        expected: actual,
        actual: event.hash,
      };
    }
  }
  let line: string;
  let actual: string;
  try {
    const { hash: _hash, ...body } = event;
    const hashed = canonicalJson(body);
    actual = sha256Hex(hashed);
    // The full event's canonical form is the hashed bytes with `hash`
    // inserted before `parent`, the member after it in sort order. Only
    // fixed-form members (parent, seq, ts, a known type, v) follow, so the
    // last `,"parent":` is the top-level one.
    const at = hashed.lastIndexOf(',"parent":') + 1;
    line = `${hashed.slice(0, at)}"hash":${JSON.stringify(event.hash)},${
      hashed.slice(at)
    }`;
  } catch (err) {
    return {
      reason: "bad-field",
      message: `event has no canonical form: ${(err as Error).message}`,
    };
  }
  if (actual !== event.hash) {
    return {
      reason: "bad-hash",
      message: "hash mismatch",
      expected: actual,
      actual: event.hash,
    };
  }
  if (line !== text) {
    return {
      reason: "not-canonical",
      message: "line is not the RFC 8785 canonical form of its event",
      expected: short(line),
      actual: short(text),
    };
  }
  return { event };
}

/**
 * Whether the JSON text `text` (already parsed, so well formed) has arrays
 * and objects nested more than `limit` deep; a scan of the text, without
 * recursion.
 */
function nestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** Whether every object in `value` has its keys in RFC 8785 order. */
function keysSorted(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!keysSorted(v)) return false;
    return true;
  }
  let prev: string | null = null;
  for (const key in value) {
    if (prev !== null && !(prev < key)) return false;
    prev = key;
    if (!keysSorted((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/**
 * Verifies one chain file in a single streaming pass. Memory stays flat
 * however long the file is: one line at a time is held. A large file is
 * split into byte ranges verified at once on the machine's cores, and the
 * links at the seams are checked after; the result is the same as one
 * pass, first error included.
 *
 * @throws {ChainReadError} when the file cannot be opened or read.
 */
export async function verifyChain(
  path: string,
  options: VerifyChainOptions = {},
): Promise<ChainReport> {
  const file = openForRead(path);
  try {
    const size = file.statSync().size;
    notBinary(path, file);
    const parts = options.onEvent ? 1 : options.ranges ?? Math.min(
      MAX_RANGES,
      navigator.hardwareConcurrency,
      Math.floor(size / RANGE_MIN_BYTES),
    );
    if (parts > 1) {
      const report = await verifyParallel(path, file, size, parts, options)
        .catch(() => null);
      if (report) return report;
    }
    return await finish(
      path,
      options,
      await verifyRange(file, path, { ...options, first: true }),
      null,
    );
  } catch (err) {
    if (err instanceof ChainReadError) throw err;
    throw new ChainReadError(`${path}: cannot read: ${describeIoError(err)}`);
  } finally {
    file.close();
  }
}

/**
 * Refuses a file that is plainly not a chain (a WebAssembly component, or
 * binary data where a chain's first line would begin with `{`), so that
 * mixing up the arguments is an unreadable input (exit 2), not a broken
 * chain.
 */
function notBinary(path: string, file: Deno.FsFile): void {
  const head = new Uint8Array(512);
  const n = file.readSync(head) ?? 0;
  file.seekSync(0, Deno.SeekMode.Start);
  const bytes = head.subarray(0, n);
  if (bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73) {
    throw new ChainReadError(
      `${path}: not a chain: a WebAssembly file (give the chain, *.jsonl)`,
    );
  }
  if (n > 0 && bytes[0] !== 0x7b && bytes.includes(0)) {
    throw new ChainReadError(`${path}: not a chain: binary data`);
  }
}

/** Ranges of one file verified at once, at most (one per core). */
const MAX_RANGES = 4;
/** Smallest range worth a worker of its own (its start costs ~30 ms). */
const RANGE_MIN_BYTES = 16 * 1024 * 1024;

/** What verifying one byte range of a chain found. */
export interface RangeResult {
  /** Lines read, intact or not, up to and including a bad one. */
  lines: number;
  /** Intact events read before the first error. */
  events: number;
  /** The range's first event, before its links to the range before. */
  first: { seq: number; parent: string | null; actor: string } | null;
  /** The range's last intact event. */
  last: { seq: number; hash: string; actor: string } | null;
  /** The first error, its line counted from the range's first line. */
  error: VerifyError | null;
  /** Links of intact events, with their lines, when asked for. */
  links: [ChainLink, number][] | null;
  /** The range's state fold, when states are checked. */
  state: RangeState | null;
}

/**
 * The state fold of one range. A range that does not begin the file
 * folds from its first full state (`actor.init` or `handle.ok`) on; the
 * patches before it need the state the range before ends with, and are
 * folded again in order once it is known ({@linkcode finish}).
 */
export interface RangeState {
  /** Line of the range's first full state; null when it has none. */
  firstFull: number | null;
  /** Whether a `handle.patch` comes before that line (in the range). */
  pending: boolean;
  /** Whether the state after the range is known (a full state was seen). */
  known: boolean;
  /** The state after the range's last intact event, when known. */
  end: Json;
}

/**
 * Verifies the lines that begin in `[start, end)` of a chain; the first
 * line's `seq` and `parent` are checked only when `first` (the range that
 * begins the file). For the verifier's worker; use
 * {@linkcode verifyChain}.
 */
export async function verifyRange(
  file: Deno.FsFile,
  path: string,
  options: VerifyChainOptions & {
    first: boolean;
    start?: number;
    end?: number;
    collectLinks?: boolean;
  },
): Promise<RangeResult> {
  const checkState = options.state ?? true;
  const result: RangeResult = {
    lines: 0,
    events: 0,
    first: null,
    last: null,
    error: null,
    links: options.collectLinks ? [] : null,
    state: null,
  };
  const fail = (
    line: number,
    reason: VerifyReason,
    message: string,
    extra: { expected?: string; actual?: string } = {},
  ): RangeResult => {
    result.error = { file: path, line, reason, message, ...extra };
    return result;
  };
  // The range that begins the file folds from its start; another, from
  // its first full state.
  const tracker = checkState ? new StateTracker() : null;
  const state: RangeState = {
    firstFull: null,
    pending: false,
    known: false,
    end: null,
  };
  let folding = options.first;
  let prev: ChainEvent | null = null;
  for await (
    const batch of readLines(file, {
      maxBytes: options.maxLineBytes,
      start: options.start,
      end: options.end,
    })
  ) {
    for (const raw of batch) {
      const n = raw.number;
      result.lines = n;
      if (raw.tooLong) {
        return fail(
          n,
          "line-too-long",
          `line is ${raw.length} bytes, over the limit of ${
            options.maxLineBytes ?? MAX_LINE_BYTES
          }`,
        );
      }
      if (!raw.terminated) {
        return fail(
          n,
          "truncated",
          "truncated final line (no newline at end of file)",
        );
      }
      const checked = checkLine(raw.bytes);
      if ("reason" in checked) {
        result.error = { file: path, line: n, ...checked };
        return result;
      }
      const event = checked.event;
      const wantActor = prev?.actor ?? options.actor ?? null;
      if (wantActor !== null && event.actor !== wantActor) {
        return fail(n, "wrong-actor", "event belongs to another actor", {
          expected: wantActor,
          actual: event.actor,
        });
      }
      if (prev !== null || options.first) {
        const wantSeq = prev === null ? 0 : prev.seq + 1;
        if (event.seq !== wantSeq) {
          return fail(
            n,
            event.seq < wantSeq ? "seq-repeat" : "seq-gap",
            event.seq < wantSeq
              ? `seq ${event.seq} repeats or goes back`
              : `seq ${event.seq} skips ahead`,
            { expected: String(wantSeq), actual: String(event.seq) },
          );
        }
        const wantParent = prev?.hash ?? null;
        if (event.parent !== wantParent) {
          return fail(
            n,
            "broken-link",
            "parent is not the hash of the previous line",
            { expected: String(wantParent), actual: String(event.parent) },
          );
        }
      }
      if (tracker) {
        if (!folding && isFullState(event)) {
          folding = true;
          state.firstFull = n;
        }
        if (folding) {
          const problem = foldState(tracker, event);
          if (problem) return fail(n, "bad-state", problem.message, problem);
        } else if (event.type === "handle.patch") {
          state.pending = true;
        }
      }
      if (prev === null) {
        result.first = {
          seq: event.seq,
          parent: event.parent,
          actor: event.actor,
        };
      }
      const link = event.data.link as ChainLink | null | undefined;
      if (link) {
        result.links?.push([link, n]);
        options.onLink?.(link, n);
      }
      options.onEvent?.(event, n);
      prev = event;
      result.last = { seq: event.seq, hash: event.hash, actor: event.actor };
      result.events++;
    }
    if (options.first) options.onProgress?.(path, result.events);
  }
  if (tracker) {
    state.known = tracker.known;
    state.end = tracker.known ? tracker.state : null;
    result.state = state;
  }
  return result;
}

function isFullState(event: ChainEvent): boolean {
  return event.type === "actor.init" || event.type === "handle.ok";
}

/**
 * Check 14: takes an event into the state, and checks a patch's
 * `state_hash` at once. Returns what is wrong, or null.
 */
function foldState(
  tracker: StateTracker,
  event: ChainEvent,
): { message: string; expected?: string; actual?: string } | null {
  try {
    tracker.add(event);
    if (event.type === "handle.patch") tracker.check();
    return null;
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    return err.expected === undefined
      ? { message: err.message }
      : { message: err.message, expected: err.expected, actual: err.actual };
  }
}

/**
 * Folds again, in order, the patches a range met before its first full
 * state, from the state the range before ends with: lines 1 to
 * `limit - 1` of the range at `start` (all intact). Returns the state
 * after them, or the first line whose state is wrong (with the hash of
 * the line before it).
 */
async function refold(
  file: Deno.FsFile,
  carried: { known: boolean; end: Json },
  range: { start: number; end: number; limit: number },
): Promise<
  | { state: { known: boolean; end: Json } }
  | {
    line: number;
    head: string | null;
    problem: { message: string; expected?: string; actual?: string };
  }
> {
  const tracker = new StateTracker(
    carried.known ? { state: carried.end } : {},
  );
  let head: string | null = null;
  scan: for await (
    const batch of readLines(file, { start: range.start, end: range.end })
  ) {
    for (const raw of batch) {
      if (raw.number >= range.limit) break scan;
      const event = JSON.parse(decoder.decode(raw.bytes)) as ChainEvent;
      const problem = foldState(tracker, event);
      if (problem) return { line: raw.number, head, problem };
      head = event.hash;
    }
  }
  return {
    state: {
      known: tracker.known,
      end: tracker.known ? tracker.state : null,
    },
  };
}

/**
 * Turns the results of a file's ranges, in order, into its report; `starts`
 * are the ranges' first bytes (for the patches a range could not fold on
 * its own).
 */
async function finish(
  path: string,
  options: VerifyChainOptions,
  head: RangeResult,
  rest: RangeResult[] | null,
  file?: Deno.FsFile,
  cuts?: number[],
): Promise<ChainReport> {
  const report: ChainReport = {
    file: path,
    ok: false,
    events: 0,
    actor: options.actor ?? null,
    head: null,
    error: null,
  };
  let lines = 0;
  let last: RangeResult["last"] = null;
  let carried: { known: boolean; end: Json } = { known: false, end: null };
  for (const [i, r] of [head, ...(rest ?? [])].entries()) {
    const seam = i > 0 && last !== null ? r.first : null;
    if (seam && last) {
      // The checks a single pass makes on this line, in the same order.
      const at = lines + 1;
      const fail = (
        reason: VerifyReason,
        message: string,
        expected: string,
        actual: string,
      ) => {
        report.error = {
          file: path,
          line: at,
          reason,
          message,
          expected,
          actual,
        };
        return report;
      };
      if (seam.actor !== last.actor) {
        return fail(
          "wrong-actor",
          "event belongs to another actor",
          last.actor,
          seam.actor,
        );
      }
      if (seam.seq !== last.seq + 1) {
        return fail(
          seam.seq < last.seq + 1 ? "seq-repeat" : "seq-gap",
          seam.seq < last.seq + 1
            ? `seq ${seam.seq} repeats or goes back`
            : `seq ${seam.seq} skips ahead`,
          String(last.seq + 1),
          String(seam.seq),
        );
      }
      if (seam.parent !== last.hash) {
        return fail(
          "broken-link",
          "parent is not the hash of the previous line",
          last.hash,
          String(seam.parent),
        );
      }
    }
    let limit = Infinity;
    if (i > 0 && r.state?.pending && file && cuts) {
      // This range's patches before its first full state follow from the
      // state the ranges before end with: folded again here, in order.
      limit = Math.min(
        r.state.firstFull ?? Infinity,
        r.error?.line ?? Infinity,
        r.lines + 1,
      );
      const again = await refold(file, carried, {
        start: cuts[i],
        end: cuts[i + 1],
        limit,
      });
      if ("problem" in again) {
        if (rest && r.links && options.onLink) {
          for (const [link, n] of r.links) {
            if (n < again.line) options.onLink(link, lines + n);
          }
        }
        report.events += again.line - 1;
        if (again.head !== null) report.head = again.head;
        report.error = {
          file: path,
          line: lines + again.line,
          reason: "bad-state",
          ...again.problem,
        };
        return report;
      }
      if (r.state.firstFull === null) carried = again.state;
    }
    if (r.state && (i === 0 || r.state.firstFull !== null)) {
      carried = { known: r.state.known, end: r.state.end };
    }
    if (i > 0 && rest && r.links && options.onLink) {
      for (const [link, n] of r.links) options.onLink(link, lines + n);
    }
    report.events += r.events;
    if (r.last) {
      last = r.last;
      report.actor = r.last.actor;
      report.head = r.last.hash;
    }
    if (r.error) {
      report.error = { ...r.error, line: lines + r.error.line };
      return report;
    }
    lines += r.lines;
  }
  if (report.events === 0) {
    report.error = {
      file: path,
      line: 1,
      reason: "empty-file",
      message: "empty file (no events)",
    };
    return report;
  }
  options.onProgress?.(path, report.events);
  report.ok = true;
  return report;
}

/** Verifies `parts` ranges at once: the first here, the others in workers. */
async function verifyParallel(
  path: string,
  file: Deno.FsFile,
  size: number,
  parts: number,
  options: VerifyChainOptions,
): Promise<ChainReport> {
  const cuts = Array.from(
    { length: parts + 1 },
    (_, i) => Math.floor(size * i / parts),
  );
  const workers: Worker[] = [];
  try {
    const others = Array.from({ length: parts - 1 }, (_, k) => {
      const worker = new Worker(
        new URL("./_verify_worker.ts", import.meta.url),
        { type: "module" },
      );
      workers.push(worker);
      return new Promise<RangeResult>((resolve, reject) => {
        worker.onmessage = (e) =>
          e.data.error === undefined
            ? resolve(e.data.result)
            : reject(new Error(e.data.error));
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
        worker.postMessage({
          path,
          start: cuts[k + 1],
          end: cuts[k + 2],
          actor: options.actor,
          maxLineBytes: options.maxLineBytes,
          collectLinks: options.onLink !== undefined,
          state: options.state ?? true,
        });
      });
    });
    const head = await verifyRange(file, path, {
      actor: options.actor,
      maxLineBytes: options.maxLineBytes,
      onLink: options.onLink,
      onProgress: options.onProgress,
      state: options.state,
      first: true,
      start: 0,
      end: cuts[1],
    });
    if (head.error) return await finish(path, options, head, null);
    return await finish(
      path,
      options,
      head,
      await Promise.all(others),
      file,
      cuts,
    );
  } finally {
    for (const w of workers) w.terminate();
  }
}

interface PendingLink {
  file: string;
  line: number;
  link: ChainLink;
  /** For a `message.in`: the receiver and the SHA-256 of its message. */
  delivery?: { to: string; msg: string };
}

/** What a link's target must be, as found in the target chain. */
interface Target {
  type: string;
  /** For a `message.out`: the receiver and the SHA-256 of its message. */
  to?: string;
  msg?: string;
}

function messageHash(msg: unknown): string {
  return sha256Hex(canonicalJson(msg));
}

/**
 * Verifies every `*.jsonl` chain in a run directory, then what holds the
 * chains together (§6 of docs/chain-format.md): each link must name an
 * event that exists in the named actor's chain; a `message.in` link must
 * name a `message.out` to this actor with the same message, and each
 * `message.out` may be consumed once; and every child a chain says was
 * `started` must have its chain here. Memory grows with the number of
 * links and children, not events.
 *
 * @throws {ChainReadError} when the directory cannot be read, holds no
 * chains, or holds a `*.jsonl` that is not a regular file.
 */
export async function verifyDir(
  dir: string,
  options: VerifyOptions = {},
): Promise<DirReport> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".jsonl")) continue;
      if (!entry.isFile) {
        throw new ChainReadError(
          `${join(dir, entry.name)}: not a regular file`,
        );
      }
      names.push(entry.name);
    }
  } catch (err) {
    if (err instanceof ChainReadError) throw err;
    throw new ChainReadError(`${dir}: cannot read: ${describeIoError(err)}`);
  }
  if (names.length === 0) {
    throw new ChainReadError(`${dir}: no chains (*.jsonl) in directory`);
  }
  names.sort();
  const report: DirReport = {
    dir,
    ok: false,
    chains: [],
    links: 0,
    error: null,
  };
  const pending = new Map<string, PendingLink[]>();
  const children: { file: string; line: number; child: string }[] = [];
  // Each distinct naming of a blob (hash and size), at its first line: a
  // blob named again with another size is checked again.
  const blobs = new Map<
    string,
    { file: string; line: number; ref: BlobReference }
  >();
  for (const name of names) {
    const file = join(dir, name);
    const actor = basename(name, ".jsonl");
    const chain = await verifyChain(file, {
      actor,
      maxLineBytes: options.maxLineBytes,
      onProgress: options.onProgress,
      state: options.state,
      onEvent: (event, line) => {
        for (const ref of blobsOf(event)) {
          const key = `${ref.sha256} ${ref.size}`;
          if (!blobs.has(key)) blobs.set(key, { file, line, ref });
        }
        if (event.type === "child.event" && event.data.event === "started") {
          children.push({ file, line, child: String(event.data.child) });
        }
        const link = event.data.link as ChainLink | null | undefined;
        if (!link) return;
        const list = pending.get(link.actor) ?? [];
        list.push({
          file,
          line,
          link,
          delivery: event.type === "message.in"
            ? { to: actor, msg: messageHash(event.data.msg) }
            : undefined,
        });
        pending.set(link.actor, list);
      },
    });
    report.chains.push(chain);
    report.error ??= chain.error;
  }
  const problems: VerifyError[] = [];
  const present = new Set(names.map((n) => basename(n, ".jsonl")));
  for (const { file, line, child } of children) {
    if (present.has(child)) continue;
    problems.push({
      file,
      line,
      reason: "missing-chain",
      message: `child ${child} was started, but ${
        join(dir, `${child}.jsonl`)
      } is missing`,
    });
  }
  // Every blob a chain names must be in the run's store, whole.
  for (const { file, line, ref } of blobs.values()) {
    const problem = blobProblem(join(dir, STORE_DIR), ref);
    if (problem) {
      problems.push({ file, line, reason: "missing-blob", message: problem });
    }
  }
  report.blobs = new Set([...blobs.values()].map((b) => b.ref.sha256)).size;
  for (const [actor, links] of pending) {
    report.links += links.length;
    const target = report.chains.find((c) =>
      basename(c.file, ".jsonl") === actor
    );
    const found = target
      ? await targetsIn(target.file, links, target.events)
      : new Map<string, Target>();
    const consumed = new Map<string, PendingLink>();
    for (const p of links) {
      const { file, line, link, delivery } = p;
      const t = found.get(link.hash);
      if (!t) {
        problems.push({
          file,
          line,
          reason: "dangling-link",
          message: target
            ? `link to ${actor} event ${link.hash} not found in ${target.file}`
            : `link to actor ${actor}, which has no chain in ${dir}`,
        });
        continue;
      }
      if (!delivery) continue;
      const why = t.type !== "message.out"
        ? `names a ${t.type}, not a message.out`
        : t.to !== delivery.to
        ? `names a message.out to ${t.to}, not to ${delivery.to}`
        : t.msg !== delivery.msg
        ? "names a message.out with another message"
        : consumed.has(link.hash)
        ? `names a message.out already delivered at ${
          consumed.get(link.hash)!.file
        }:${consumed.get(link.hash)!.line}`
        : null;
      if (why) {
        problems.push({
          file,
          line,
          reason: "bad-link",
          message: `message.in link to ${actor} event ${link.hash} ${why}`,
        });
        continue;
      }
      consumed.set(link.hash, p);
    }
  }
  // In file name order (UTF-16 code units, as the chains were read), then
  // line order.
  const order = new Map(names.map((n, i) => [join(dir, n), i]));
  problems.sort((a, b) =>
    order.get(a.file)! - order.get(b.file)! || a.line - b.line
  );
  report.error ??= problems[0] ?? null;
  // The kept components, last: they are checked whether or not the chains
  // are intact, but a chain's error comes first.
  const component = checkComponents(dir);
  report.components = component.count;
  report.error ??= component.error;
  report.ok = report.error === null;
  return report;
}

/** How a kept component is named: its SHA-256, `.wasm`. */
const COMPONENT_NAME = /^[0-9a-f]{64}\.wasm$/;

/**
 * Check 20 of docs/chain-format.md §7: every `<sha256>.wasm` directly in
 * the run's `components/` holds bytes with that SHA-256 (`bad-component`,
 * reported on the file, line 0). Other names there are not components
 * (a temporary file left by a crash mid-copy) and are not read.
 *
 * @throws {ChainReadError} when `components` or a file named as a
 * component is not a regular directory or file (a symlink, a FIFO).
 */
function checkComponents(
  dir: string,
): { count: number; error: VerifyError | null } {
  const folder = join(dir, COMPONENTS_DIR);
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(folder);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { count: 0, error: null };
    throw new ChainReadError(`${folder}: cannot read: ${describeIoError(err)}`);
  }
  if (!info.isDirectory) {
    throw new ChainReadError(`${folder}: not a directory`);
  }
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(folder)) {
      if (!COMPONENT_NAME.test(entry.name)) continue;
      if (!entry.isFile) {
        throw new ChainReadError(
          `${join(folder, entry.name)}: not a regular file`,
        );
      }
      names.push(entry.name);
    }
  } catch (err) {
    if (err instanceof ChainReadError) throw err;
    throw new ChainReadError(`${folder}: cannot read: ${describeIoError(err)}`);
  }
  names.sort();
  let error: VerifyError | null = null;
  for (const name of names) {
    const path = join(folder, name);
    const actual = fileSha256(path);
    if (error === null && actual !== name.slice(0, 64)) {
      error = {
        file: path,
        line: 0,
        reason: "bad-component",
        message: "component's bytes do not have the SHA-256 it is named by",
        expected: name.slice(0, 64),
        actual,
      };
    }
  }
  return { count: names.length, error };
}

/** SHA-256 of a regular file's bytes, read in blocks. */
function fileSha256(path: string): string {
  let opened: { file: Deno.FsFile };
  try {
    opened = openRegularSync(path);
  } catch (err) {
    if (err instanceof FileRefused) {
      throw new ChainReadError(`${path}: not a regular file`);
    }
    throw new ChainReadError(`${path}: cannot read: ${describeIoError(err)}`);
  }
  using file = opened.file;
  const hash = createHash("sha256");
  const block = new Uint8Array(1 << 20);
  while (true) {
    const n = file.readSync(block);
    if (n === null) break;
    hash.update(block.subarray(0, n));
  }
  return hash.digest("hex");
}

/** The wanted events among the first `lines` (intact) lines of a chain. */
async function targetsIn(
  path: string,
  wanted: PendingLink[],
  lines: number,
): Promise<Map<string, Target>> {
  const want = new Set(wanted.map((p) => p.link.hash));
  const found = new Map<string, Target>();
  const file = openForRead(path);
  try {
    scan: for await (const batch of readLines(file)) {
      for (const raw of batch) {
        if (raw.number > lines) break scan;
        const event = JSON.parse(decoder.decode(raw.bytes)) as ChainEvent;
        if (!want.has(event.hash)) continue;
        found.set(
          event.hash,
          event.type === "message.out"
            ? {
              type: event.type,
              to: String(event.data.to),
              msg: messageHash(event.data.msg),
            }
            : { type: event.type },
        );
        if (found.size === want.size) break scan;
      }
    }
  } finally {
    file.close();
  }
  return found;
}

/** Verifies a chain file, or a directory of chains with its cross-links. */
export async function verifyPath(
  path: string,
  options: VerifyOptions = {},
): Promise<ChainReport | DirReport> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw new ChainReadError(`${path}: cannot read: ${describeIoError(err)}`);
  }
  return info.isDirectory
    ? await verifyDir(path, options)
    : await verifyChain(path, options);
}
