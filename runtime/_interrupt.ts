// Copyright the Theater authors. MIT license.
// Time limits that work without killing the worker. Deno's
// `Worker.terminate()` does not stop a worker stuck in a loop: its thread
// spins on, a core lost for good (denoland/deno#35657). So every core
// module is instrumented before it is compiled: a fuel counter (a new
// mutable global) is decremented at each function entry and each loop
// header, and when it runs out the module calls an imported host function
// `theater:interrupt/check`, which throws once the call's deadline has
// passed and otherwise returns fresh fuel. The guest then traps like any
// other trap, its host calls so far intact, and the worker goes on.
//
// Uses no Deno API: it also runs where modules are compiled.
import { writeU32 as u32 } from "./_wasm.ts";

/** The import every instrumented module has. */
export const INTERRUPT_MODULE = "theater:interrupt";
/** Its one function: `() -> i32`, the next fuel. */
export const INTERRUPT_FUNCTION = "check";
/** Loop iterations and calls between two checks of the clock. */
export const FUEL = 10_000;

/** A module that uses an instruction or encoding not handled here. */
export class InstrumentError extends Error {
  override name = "InstrumentError";
}

class Reader {
  at: number;
  constructor(readonly bytes: Uint8Array, at = 0) {
    this.at = at;
  }
  byte(): number {
    if (this.at >= this.bytes.length) {
      throw new InstrumentError("unexpected end of module");
    }
    return this.bytes[this.at++];
  }
  u32(): number {
    let value = 0;
    let shift = 0;
    while (true) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
      if (shift > 35) throw new InstrumentError("LEB128 too long");
    }
  }
  /** Skips a LEB128 of any width (s32, s64, u64). */
  leb(): void {
    while (this.byte() & 0x80);
  }
  skip(n: number): void {
    this.at += n;
    if (this.at > this.bytes.length) {
      throw new InstrumentError("unexpected end of module");
    }
  }
  name(): void {
    this.skip(this.u32());
  }
  /** A value type: one byte, or a reference type with a heap type. */
  valtype(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.leb();
  }
  /** A block type: empty, a value type, or a type index (s33). */
  blocktype(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.leb();
    else if (b & 0x80) this.leb();
  }
  limits(): void {
    const flags = this.byte();
    this.leb();
    if (flags & 1) this.leb();
  }
  memarg(): void {
    const align = this.u32();
    if (align & 0x40) this.u32();
    this.leb();
  }
}

function s32(value: number): number[] {
  const out: number[] = [];
  while (true) {
    const b = value & 0x7f;
    value >>= 7;
    if ((value === 0 && !(b & 0x40)) || (value === -1 && (b & 0x40))) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Output built from copied ranges and new bytes. */
class Out {
  chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array | number[]): void {
    const chunk = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

interface Remap {
  /** Function imports before the new one: indices from here shift by 1. */
  imported: number;
  /** The check: `if fuel runs out, fuel = check()`. */
  check: number[];
}

function func(index: number, remap: Remap): number[] {
  return u32(index >= remap.imported ? index + 1 : index);
}

/**
 * Copies instructions from `r` to `out` until `end` (a body) or, when `end`
 * is undefined, through the `end` that closes a constant expression;
 * function indices are shifted, and the check goes after every `loop`.
 */
function instructions(
  r: Reader,
  out: Out,
  remap: Remap,
  end?: number,
): void {
  const bytes = r.bytes;
  // Unchanged instructions are copied in runs, not one by one.
  let copied = r.at;
  const flush = (to: number) => {
    if (to > copied) out.push(bytes.subarray(copied, to));
    copied = to;
  };
  while (end === undefined || r.at < end) {
    const start = r.at;
    const op = r.byte();
    switch (op) {
      case 0x10: // call
      case 0x12: // return_call
      case 0xd2: // ref.func
        flush(start);
        out.push([op, ...func(r.u32(), remap)]);
        copied = r.at;
        continue;
      case 0x03: // loop
        r.blocktype();
        flush(r.at);
        out.push(remap.check);
        continue;
      case 0x02:
      case 0x04:
      case 0x06:
        r.blocktype();
        break;
      case 0x0b:
        if (end === undefined) {
          flush(r.at);
          return;
        }
        continue;
      case 0x07:
      case 0x08:
      case 0x09:
      case 0x18:
      case 0x0c:
      case 0x0d:
      case 0x14:
      case 0x15:
      case 0x20:
      case 0x21:
      case 0x22:
      case 0x23:
      case 0x24:
      case 0x25:
      case 0x26:
      case 0x3f:
      case 0x40:
      case 0xd4:
      case 0xd5:
        r.u32();
        break;
      case 0x0e: {
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.u32();
        break;
      }
      case 0x11:
      case 0x13:
        r.u32();
        r.u32();
        break;
      case 0x1c: {
        const n = r.u32();
        for (let i = 0; i < n; i++) r.valtype();
        break;
      }
      case 0x1f: {
        r.blocktype();
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const kind = r.byte();
          if (kind < 2) r.u32();
          r.u32();
        }
        break;
      }
      case 0x41:
      case 0x42:
        r.leb();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0xd0:
        r.blocktype();
        break;
      case 0xfc: {
        const sub = r.u32();
        if (sub <= 7) break;
        if (sub > 17) throw unknown(op, sub);
        r.u32();
        if (sub === 8 || sub === 10 || sub === 12 || sub === 14) r.u32();
        break;
      }
      case 0xfd: {
        const sub = r.u32();
        if (sub <= 11 || sub === 92 || sub === 93) r.memarg();
        else if (sub === 12 || sub === 13) r.skip(16);
        else if (sub >= 21 && sub <= 34) r.skip(1);
        else if (sub >= 84 && sub <= 91) {
          r.memarg();
          r.skip(1);
        }
        break;
      }
      case 0xfe: {
        const sub = r.u32();
        if (sub === 3) r.skip(1);
        else r.memarg();
        break;
      }
      default:
        if (op >= 0x28 && op <= 0x3e) r.memarg();
        else if (
          !(op <= 0x01 || op === 0x05 || op === 0x0a || op === 0x0f ||
            op === 0x19 || op === 0x1a || op === 0x1b ||
            (op >= 0x45 && op <= 0xc4) || op === 0xd1 || op === 0xd3 ||
            op === 0xd6)
        ) {
          throw unknown(op);
        }
    }
  }
  flush(r.at);
}

function unknown(op: number, sub?: number): InstrumentError {
  const hex = (n: number) => `0x${n.toString(16).padStart(2, "0")}`;
  return new InstrumentError(
    `instruction ${hex(op)}${
      sub === undefined ? "" : ` ${sub}`
    } is not supported (time limits need every loop instrumented)`,
  );
}

interface Section {
  id: number;
  body: Uint8Array;
}

const ORDER = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];

/** A vector section's entries rewritten one by one. */
function vector(
  body: Uint8Array,
  entry: (r: Reader, out: Out) => void,
  extra: Uint8Array[] = [],
): Uint8Array {
  const r = new Reader(body);
  const n = r.u32();
  const out = new Out();
  out.push(u32(n + extra.length));
  for (let i = 0; i < n; i++) entry(r, out);
  for (const e of extra) out.push(e);
  return out.bytes();
}

/**
 * Instruments a core module so a call into it can be stopped at a
 * deadline (see the module comment). A module without code is returned as
 * it is.
 *
 * @throws {InstrumentError} naming what could not be instrumented.
 */
export function instrument(
  module: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const sections: Section[] = [];
  const r = new Reader(module, 8);
  while (r.at < module.length) {
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, body: module.subarray(r.at, r.at + size) });
    r.skip(size);
  }
  if (!sections.some((s) => s.id === 10)) return module;
  if (sections.some((s) => s.id === 0 && isName(s.body))) {
    // Function names would be off by one: drop them.
    sections.splice(sections.findIndex((s) => s.id === 0 && isName(s.body)), 1);
  }
  const find = (id: number) => sections.find((s) => s.id === id);
  const put = (id: number, body: Uint8Array) => {
    const existing = find(id);
    if (existing) {
      existing.body = body;
      return;
    }
    const rank = ORDER.indexOf(id);
    const at = sections.findIndex((s) =>
      s.id !== 0 && ORDER.indexOf(s.id) > rank
    );
    sections.splice(at === -1 ? sections.length : at, 0, { id, body });
  };

  // A new function type () -> i32 at the end of the type section.
  const types = find(1)?.body ?? new Uint8Array([0]);
  const typeIndex = new Reader(types).u32();
  put(
    1,
    vector(types, (tr, out) => {
      const start = tr.at;
      const form = tr.byte();
      if (form !== 0x60) {
        throw new InstrumentError("only function types are supported");
      }
      for (let k = 0; k < 2; k++) {
        const n = tr.u32();
        for (let i = 0; i < n; i++) tr.valtype();
      }
      out.push(types.subarray(start, tr.at));
    }, [new Uint8Array([0x60, 0x00, 0x01, 0x7f])]),
  );

  // The check becomes the last imported function.
  let importedFuncs = 0;
  let importedGlobals = 0;
  const imports = find(2)?.body ?? new Uint8Array([0]);
  const name = (text: string) => {
    const b = new TextEncoder().encode(text);
    return [...u32(b.length), ...b];
  };
  put(
    2,
    vector(imports, (ir, out) => {
      const start = ir.at;
      ir.name();
      ir.name();
      const kind = ir.byte();
      if (kind === 0) {
        importedFuncs++;
        ir.u32();
      } else if (kind === 1) {
        ir.valtype();
        ir.limits();
      } else if (kind === 2) ir.limits();
      else if (kind === 3) {
        importedGlobals++;
        ir.valtype();
        ir.byte();
      } else if (kind === 4) {
        ir.byte();
        ir.u32();
      } else throw new InstrumentError(`unknown import kind ${kind}`);
      out.push(imports.subarray(start, ir.at));
    }, [
      new Uint8Array([
        ...name(INTERRUPT_MODULE),
        ...name(INTERRUPT_FUNCTION),
        0x00,
        ...u32(typeIndex),
      ]),
    ]),
  );

  // The fuel: a new mutable i32 global after every other.
  const globals = find(6)?.body ?? new Uint8Array([0]);
  const fuel = importedGlobals + new Reader(globals).u32();
  const remap: Remap = { imported: importedFuncs, check: [] };
  const g = u32(fuel);
  remap.check = [
    0x23,
    ...g,
    0x41,
    0x7f,
    0x6a,
    0x24,
    ...g, // fuel -= 1
    0x23,
    ...g,
    0x45,
    0x04,
    0x40, // if fuel == 0
    0x10,
    ...u32(importedFuncs),
    0x24,
    ...g, // fuel = check()
    0x0b,
  ];
  put(
    6,
    vector(globals, (gr, out) => {
      const start = gr.at;
      gr.valtype();
      gr.byte();
      out.push(globals.subarray(start, gr.at));
      instructions(gr, out, remap);
    }, [new Uint8Array([0x7f, 0x01, 0x41, ...s32(FUEL), 0x0b])]),
  );

  const exports = find(7);
  if (exports) {
    exports.body = vector(exports.body, (er, out) => {
      const start = er.at;
      er.name();
      const kind = er.byte();
      out.push(exports.body.subarray(start, er.at));
      const index = er.u32();
      out.push(kind === 0 ? func(index, remap) : u32(index));
    });
  }
  const start = find(8);
  if (start) {
    start.body = new Uint8Array(func(new Reader(start.body).u32(), remap));
  }
  const elements = find(9);
  if (elements) {
    const body = elements.body;
    elements.body = vector(body, (er, out) => {
      const flags = er.u32();
      out.push(u32(flags));
      const copy = (fn: () => void) => {
        const s = er.at;
        fn();
        out.push(body.subarray(s, er.at));
      };
      if (flags & 2 && !(flags & 1)) copy(() => er.u32()); // table index
      if (!(flags & 1)) instructions(er, out, remap); // offset
      if (flags & 3) copy(() => (flags & 4 ? er.valtype() : er.byte()));
      const n = er.u32();
      out.push(u32(n));
      for (let i = 0; i < n; i++) {
        if (flags & 4) instructions(er, out, remap);
        else out.push(func(er.u32(), remap));
      }
    });
  }
  const code = find(10)!;
  code.body = vector(code.body, (cr, out) => {
    const size = cr.u32();
    const end = cr.at + size;
    const body = new Out();
    const localsStart = cr.at;
    const groups = cr.u32();
    for (let i = 0; i < groups; i++) {
      cr.u32();
      cr.valtype();
    }
    body.push(cr.bytes.subarray(localsStart, cr.at));
    body.push(remap.check);
    instructions(cr, body, remap, end);
    out.push(u32(body.length));
    for (const c of body.chunks) out.push(c);
  });

  const out = new Out();
  out.push(module.subarray(0, 8));
  for (const s of sections) {
    out.push([s.id, ...u32(s.body.length)]);
    out.push(s.body);
  }
  return out.bytes();
}

function isName(body: Uint8Array): boolean {
  return body.length >= 5 && body[0] === 4 &&
    new TextDecoder().decode(body.subarray(1, 5)) === "name";
}
