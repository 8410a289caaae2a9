// Copyright the Theater authors. MIT license.
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

const CHUNK = 256 * 1024;
const EMPTY = new Uint8Array(0);

/** The bytes of `parts` one after another (no copy for a single part). */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Splits a file into lines on `\n`, holding at most one chunk and one line
 * (up to `maxBytes`) in memory, so any file streams in constant memory.
 * Lines come in batches, one per chunk read, to keep per-line overhead low.
 */
export async function* readLines(
  file: Deno.FsFile,
  options: { maxBytes?: number } = {},
): AsyncGenerator<RawLine[]> {
  const maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  let parts: Uint8Array[] = [];
  let length = 0;
  let number = 1;
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
    const chunk = new Uint8Array(CHUNK);
    const n = await file.read(chunk);
    if (n === null) break;
    const batch: RawLine[] = [];
    let start = 0;
    while (start < n) {
      const nl = chunk.indexOf(10, start);
      const end: number = nl === -1 || nl >= n ? n : nl;
      const piece = chunk.subarray(start, end);
      length += piece.length;
      if (length <= maxBytes) parts.push(piece);
      else parts = [];
      if (end === n) break;
      batch.push(take(true));
      start = end + 1;
    }
    if (batch.length > 0) yield batch;
  }
  if (length > 0) yield [take(false)];
}
