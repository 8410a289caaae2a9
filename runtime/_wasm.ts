// Copyright the Theater authors. MIT license.
// Just enough of the WebAssembly binary format to tell modules from
// components and to cap a core module's memories.

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

function writeU32(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/**
 * Returns a copy of a core module whose defined 32-bit memories may grow to
 * at most `maxBytes`. A module whose memory starts larger is refused.
 */
export function capMemory(
  module: Uint8Array,
  maxBytes: number,
): Uint8Array<ArrayBuffer> {
  const maxPages = Math.floor(maxBytes / PAGE);
  const out: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at];
    const [size, body] = readU32(module, at + 1);
    const end = body + size;
    if (id !== 5) {
      out.push(module.subarray(at, end));
      at = end;
      continue;
    }
    let [count, p] = readU32(module, body);
    const section: number[] = writeU32(count);
    while (count-- > 0) {
      const flags = module[p++];
      if (flags > 1) {
        throw new RangeError(
          "shared or 64-bit memories are not supported",
        );
      }
      let min: number;
      [min, p] = readU32(module, p);
      let max = maxPages;
      if (flags === 1) {
        let declared: number;
        [declared, p] = readU32(module, p);
        max = Math.min(declared, maxPages);
      }
      if (min > maxPages) {
        throw new RangeError(
          `memory starts at ${min * PAGE / 2 ** 20} MiB, over the limit of ${
            maxBytes / 2 ** 20
          } MiB`,
        );
      }
      section.push(1, ...writeU32(min), ...writeU32(max));
    }
    out.push(new Uint8Array([5, ...writeU32(section.length), ...section]));
    at = end;
  }
  const result = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of out) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
