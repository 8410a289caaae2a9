// Copyright the Theater authors. MIT license.
// Just enough of the WebAssembly binary format to tell modules from
// components and to cap a core module's memories.

import { concatBytes } from "../chain/bytes.ts";

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const PAGE = 65536;

/** What a file's first eight bytes say it is. */
export type BinaryKind = "component" | "core-module" | "not-wasm";

/** Tells a component from a core module from anything else. */
export function binaryKind(bytes: Uint8Array): BinaryKind {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    return "not-wasm";
  }
  // Core modules have version 1 and layer 0; components layer 1.
  if (bytes[4] === 1 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0) {
    return "core-module";
  }
  return bytes[6] === 1 && bytes[7] === 0 ? "component" : "not-wasm";
}

function readU32(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  while (true) {
    if (at >= bytes.length) throw new RangeError("truncated LEB128");
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, at];
    shift += 7;
    if (shift > 35) throw new RangeError("LEB128 too long");
  }
}

/** The unsigned LEB128 encoding of `value`. */
export function writeU32(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/** Reads a `limits` (flags 0 or 1) and caps its maximum at `cap`. */
function cappedLimits(
  bytes: Uint8Array,
  at: number,
  cap: number,
  what: string,
  unit: (n: number) => string,
): [number[], number] {
  const flags = bytes[at++];
  if (flags > 1) {
    throw new RangeError(`shared or 64-bit ${what}s are not supported`);
  }
  let min: number;
  [min, at] = readU32(bytes, at);
  let max = cap;
  if (flags === 1) {
    let declared: number;
    [declared, at] = readU32(bytes, at);
    max = Math.min(declared, cap);
  }
  if (min > cap) {
    throw new RangeError(
      `${what} starts at ${unit(min)}, over the limit of ${unit(cap)}`,
    );
  }
  return [[1, ...writeU32(min), ...writeU32(max)], at];
}

/**
 * Returns a copy of a core module whose defined 32-bit memories may grow to
 * at most `maxBytes` and whose defined tables to at most `tableElements`
 * elements (default: no cap). A module whose memory or table starts larger
 * is refused.
 */
export function capMemory(
  module: Uint8Array,
  maxBytes: number,
  options: { tableElements?: number } = {},
): Uint8Array<ArrayBuffer> {
  const maxPages = Math.floor(maxBytes / PAGE);
  const tableCap = options.tableElements ?? 0xffffffff;
  const mib = (pages: number) => `${pages * PAGE / 2 ** 20} MiB`;
  const elements = (n: number) => `${n} elements`;
  const out: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at];
    const [size, body] = readU32(module, at + 1);
    const end = body + size;
    if (id !== 5 && id !== 4) {
      out.push(module.subarray(at, end));
      at = end;
      continue;
    }
    let [count, p] = readU32(module, body);
    const section: number[] = writeU32(count);
    while (count-- > 0) {
      let limits: number[];
      if (id === 5) {
        [limits, p] = cappedLimits(module, p, maxPages, "memory", mib);
      } else {
        const refType = module[p++];
        if (refType === 0x40) {
          throw new RangeError("tables with initializers are not supported");
        }
        section.push(refType);
        [limits, p] = cappedLimits(module, p, tableCap, "table", elements);
      }
      section.push(...limits);
    }
    out.push(new Uint8Array([id, ...writeU32(section.length), ...section]));
    at = end;
  }
  // Every part was made here, on an ArrayBuffer.
  return concatBytes(out) as Uint8Array<ArrayBuffer>;
}
