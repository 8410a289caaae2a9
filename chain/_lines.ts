// Copyright the Theater authors. MIT license.
import { concatBytes } from "./bytes.ts";
import { MAX_LINE_BYTES } from "./event.ts";

/** One line of a file, as bytes, without its `\n`. */
export interface RawLine {
  /** 1-based line number. */
  number: number;
  /** The line's bytes; empty when `tooLong`. */
  bytes: Uint8Array;
  /** The line's length in bytes, even when it was too long to keep. */
  length: number;
  /** False for a final line with no `\n` after it. */
  terminated: boolean;
  /** True when the line is longer than the limit; its bytes were dropped. */
  tooLong: boolean;
}

/**
 * Why a line of `length` bytes is refused (the `line-too-long` check of
 * docs/chain-format.md): the one wording of every reader.
 */
export function lineTooLong(length: number, max = MAX_LINE_BYTES): string {
  return `line is ${length} bytes, over the limit of ${max}`;
}

const CHUNK = 256 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Splits a file into lines on `\n`, holding at most one chunk and one line
 * (up to `maxBytes`) in memory, so any file streams in constant memory.
 * Lines come in batches, one per chunk read, to keep per-line overhead low.
 *
 * With `start`/`end`, only the lines that begin at a byte offset in
 * `[start, end)` are read (line numbers then count from that range's first
 * line), so ranges that meet cover every line once.
 */
export async function* readLines(
  file: Deno.FsFile,
  options: { maxBytes?: number; start?: number; end?: number } = {},
): AsyncGenerator<RawLine[]> {
  const maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  const end = options.end ?? Infinity;
  let parts: Uint8Array[] = [];
  let length = 0;
  let number = 1;
  /** Absolute offset of the byte after the last one read. */
  let offset = 0;
  /** Absolute offset where the current line began. */
  let lineStart = 0;
  let skipping = false;
  if (options.start) {
    // The line under way at `start - 1` belongs to the range before.
    offset = options.start - 1;
    await file.seek(offset, Deno.SeekMode.Start);
    skipping = true;
  }
  const take = (terminated: boolean): RawLine => {
    const tooLong = length > maxBytes;
    const line = {
      number: number++,
      bytes: tooLong ? EMPTY : concatBytes(parts),
      length,
      terminated,
      tooLong,
    };
    parts = [];
    length = 0;
    return line;
  };
  while (true) {
    if (!skipping && length === 0 && lineStart >= end) return;
    const chunk = new Uint8Array(CHUNK);
    const n = await file.read(chunk);
    if (n === null) break;
    const base = offset;
    offset += n;
    const batch: RawLine[] = [];
    let start = 0;
    if (skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1 || nl >= n) continue;
      skipping = false;
      start = nl + 1;
      lineStart = base + start;
    }
    while (start < n) {
      if (length === 0 && lineStart >= end) {
        if (batch.length > 0) yield batch;
        return;
      }
      const nl = chunk.indexOf(10, start);
      const stop: number = nl === -1 || nl >= n ? n : nl;
      const piece = chunk.subarray(start, stop);
      length += piece.length;
      if (length <= maxBytes) parts.push(piece);
      else parts = [];
      if (stop === n) break;
      batch.push(take(true));
      start = stop + 1;
      lineStart = base + start;
    }
    if (batch.length > 0) yield batch;
  }
  if (skipping) return;
  if (length > 0) yield [take(false)];
}
