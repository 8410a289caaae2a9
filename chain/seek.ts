// Copyright the Theater authors. MIT license.
/**
 * Random access into a chain file: the state after any event without
 * reading the chain from its start. Events are in `seq` order, one per
 * line, so the line of a `seq` is found by bisecting the file's bytes; the
 * state is then rebuilt from the last full state before it (a chain keeps
 * the patches since a full state smaller than the state, so this reads
 * about twice the state at most, plus the events in between).
 *
 * @module
 */
import { lineTooLong } from "./_lines.ts";
import { concatBytes } from "./bytes.ts";
import { FileRefused, openRegularSync } from "./files.ts";
import { ChainFormatError } from "./reader.ts";
import { type ChainEvent, type Json, MAX_LINE_BYTES } from "./event.ts";
import { StateError, StateTracker } from "./state.ts";
import {
  ChainReadError,
  checkLine,
  describeIoError,
  type LineProblem,
} from "./verify.ts";

/** Asked for an event the chain does not have. */
export class NoSuchEvent extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "NoSuchEvent";
}

const BLOCK = 64 * 1024;
/** Read size when only looking for newlines, on the way to an error. */
const SCAN = 1024 * 1024;
const NL = 10;

/**
 * The actor's recorded state right after event `seq` of the chain at
 * `path`. Every event read on the way is checked on its own (JSON, shape,
 * hash, canonical form) and against its neighbours (seq, parent); the
 * rebuilt state is checked against the last patch's `state_hash`. The
 * rest of the chain is not read: `verifyChain` checks all of it.
 *
 * @throws {NoSuchEvent} when the chain has no event `seq`.
 * @throws {ChainFormatError} at a line that is not a valid event.
 * @throws {StateError} when the events do not rebuild a consistent state.
 * @throws {ChainReadError} when the file cannot be read.
 */
export async function stateAt(path: string, seq: number): Promise<Json> {
  let opened: { file: Deno.FsFile; size: number };
  try {
    opened = openRegularSync(path);
  } catch (err) {
    throw new ChainReadError(
      `${path}: cannot read: ${
        err instanceof FileRefused ? err.message : describeIoError(err)
      }`,
    );
  }
  const { file, size } = opened;
  try {
    const reader = new LineReader(file, path, size);
    const at = await reader.find(seq);
    // Back from the event to the last full state (or the chain's start).
    const events: ChainEvent[] = [at.event];
    if (!isFull(at.event)) {
      for await (const event of reader.linesBefore(at.offset)) {
        events.push(event);
        if (isFull(event)) break;
      }
    }
    events.reverse();
    const tracker = new StateTracker();
    for (const [i, event] of events.entries()) {
      const prev = events[i - 1];
      if (prev && (event.seq !== prev.seq + 1 || event.parent !== prev.hash)) {
        throw new StateError(
          `seq ${event.seq}: not linked to the event before it`,
        );
      }
      tracker.add(event);
    }
    return tracker.state;
  } finally {
    file.close();
  }
}

function isFull(event: ChainEvent): boolean {
  return event.type === "actor.init" || event.type === "handle.ok";
}

/** Reads whole lines of a chain file at byte offsets. */
class LineReader {
  #file: Deno.FsFile;
  #path: string;
  #size: number;

  constructor(file: Deno.FsFile, path: string, size: number) {
    this.#file = file;
    this.#path = path;
    this.#size = size;
  }

  /** The line of event `seq`, by bisection over the file's bytes. */
  async find(seq: number): Promise<{ offset: number; event: ChainEvent }> {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new NoSuchEvent(`no event ${seq}: seq is a whole number from 0`);
    }
    // lo: the offset of a line whose seq is <= seq; hi: past the end or a
    // line whose seq is > seq.
    let lo = 0;
    let hi = this.#size;
    let first = await this.lineAt(0);
    if (first === null) throw new NoSuchEvent(`no event ${seq}: empty chain`);
    while (hi - lo > BLOCK) {
      const mid = await this.lineStartAfter(Math.floor((lo + hi) / 2));
      if (mid === null || mid >= hi) {
        hi = Math.floor((lo + hi) / 2);
        continue;
      }
      const line = (await this.lineAt(mid))!;
      if (line.event.seq <= seq) lo = mid;
      else hi = mid;
    }
    // A short walk forward from lo.
    let offset = lo;
    first = await this.lineAt(offset);
    while (first !== null && first.event.seq < seq) {
      offset = first.end;
      first = await this.lineAt(offset);
    }
    if (first === null || first.event.seq !== seq) {
      const last = await this.lineBefore(this.#size).catch(() => null);
      throw new NoSuchEvent(
        `no event ${seq}: the chain has events 0 to ${last?.event.seq ?? "?"}`,
      );
    }
    return { offset, event: first.event };
  }

  /** The offset of the first line that begins after `offset`. */
  async lineStartAfter(offset: number): Promise<number | null> {
    let at = offset;
    while (at < this.#size) {
      const block = await this.#read(at, BLOCK);
      const nl = block.indexOf(NL);
      if (nl !== -1) return at + nl + 1 < this.#size ? at + nl + 1 : null;
      at += block.length;
    }
    return null;
  }

  /**
   * The line beginning at `offset`, or null at the end of the file. At
   * most a line's limit is held: a longer line is refused as soon as it
   * passes it.
   */
  async lineAt(
    offset: number,
  ): Promise<{ event: ChainEvent; end: number } | null> {
    if (offset >= this.#size) return null;
    const parts: Uint8Array[] = [];
    let length = 0;
    let at = offset;
    while (true) {
      const block = await this.#read(at, BLOCK);
      if (block.length === 0) {
        throw await this.#bad(offset, {
          reason: "truncated",
          message: "truncated final line (no newline at end of file)",
        });
      }
      const nl = block.indexOf(NL);
      const piece = nl === -1 ? block : block.subarray(0, nl);
      length += piece.length;
      if (length > MAX_LINE_BYTES) throw await this.#tooLong(offset);
      parts.push(piece);
      if (nl !== -1) {
        return { event: await this.#event(parts, offset), end: at + nl + 1 };
      }
      at += block.length;
    }
  }

  /** The events of the lines before `offset` (a line start), last first. */
  async *linesBefore(offset: number): AsyncGenerator<ChainEvent> {
    // Bytes of the partial line at the front of what was read so far.
    let carry: Uint8Array[] = [];
    let carried = 0;
    let end = offset;
    while (end > 0) {
      const from = Math.max(0, end - BLOCK);
      const block = await this.#read(from, end - from);
      // The block's last byte is a `\n` only when the carry is empty.
      let stop = block.length;
      if (carry.length === 0 && end === offset) stop--; // the `\n` at offset-1
      let nl = block.lastIndexOf(NL, stop - 1);
      while (nl !== -1) {
        if (carried + stop - nl - 1 > MAX_LINE_BYTES) {
          throw await this.#tooLong(from + nl + 1);
        }
        yield await this.#event(
          [block.subarray(nl + 1, stop), ...carry],
          from + nl + 1,
        );
        carry = [];
        carried = 0;
        stop = nl;
        nl = stop > 0 ? block.lastIndexOf(NL, stop - 1) : -1;
      }
      carry = [block.subarray(0, stop), ...carry];
      carried += stop;
      if (carried > MAX_LINE_BYTES) throw await this.#tooLong(from);
      end = from;
    }
    if (carried > 0) yield await this.#event(carry, 0);
  }

  /** The whole line that ends right before `offset` (a line start). */
  async lineBefore(
    offset: number,
  ): Promise<{ offset: number; event: ChainEvent }> {
    const parts: Uint8Array[] = [];
    let length = 0;
    // offset - 1 is the `\n` ending the line wanted.
    let end = offset - 1;
    while (end > 0) {
      const from = Math.max(0, end - BLOCK);
      const block = await this.#read(from, end - from);
      const nl = block.lastIndexOf(NL);
      const piece = block.subarray(nl + 1);
      length += piece.length;
      if (length > MAX_LINE_BYTES) throw await this.#tooLong(end - 1);
      parts.unshift(piece);
      if (nl !== -1) {
        return {
          offset: from + nl + 1,
          event: await this.#event(parts, from + nl + 1),
        };
      }
      end = from;
    }
    return { offset: 0, event: await this.#event(parts, 0) };
  }

  /** The event of a line's bytes; a bad line is refused with its number. */
  async #event(parts: Uint8Array[], offset: number): Promise<ChainEvent> {
    const checked = checkLine(concatBytes(parts));
    if ("reason" in checked) throw await this.#bad(offset, checked);
    return checked.event;
  }

  /** The error for the line at `offset`, named by its line number. */
  async #bad(
    offset: number,
    problem: Pick<LineProblem, "reason" | "message">,
  ): Promise<ChainFormatError> {
    return new ChainFormatError({
      file: this.#path,
      line: await this.#lineNumber(offset),
      reason: problem.reason,
      message: problem.message,
    });
  }

  /**
   * The error for a line over the limit, given any byte of it: its start
   * and length are found by reading on either side (not holding it).
   */
  async #tooLong(inside: number): Promise<ChainFormatError> {
    let start = 0;
    for (let at = inside; at > 0;) {
      const from = Math.max(0, at - SCAN);
      const nl = (await this.#read(from, at - from)).lastIndexOf(NL);
      if (nl !== -1) {
        start = from + nl + 1;
        break;
      }
      at = from;
    }
    let end = this.#size;
    for (let at = inside; at < this.#size;) {
      const block = await this.#read(at, SCAN);
      const nl = block.indexOf(NL);
      if (nl !== -1) {
        end = at + nl;
        break;
      }
      at += block.length;
    }
    return await this.#bad(start, {
      reason: "line-too-long",
      message: lineTooLong(end - start),
    });
  }

  /** The 1-based number of the line beginning at `offset`. */
  async #lineNumber(offset: number): Promise<number> {
    let line = 1;
    for (let at = 0; at < offset;) {
      const block = await this.#read(at, Math.min(SCAN, offset - at));
      for (let i = block.indexOf(NL); i !== -1; i = block.indexOf(NL, i + 1)) {
        line++;
      }
      at += block.length;
    }
    return line;
  }

  async #read(at: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(Math.min(length, this.#size - at));
    let got = 0;
    await this.#file.seek(at, Deno.SeekMode.Start);
    while (got < buf.length) {
      const n = await this.#file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.subarray(0, got);
  }
}
