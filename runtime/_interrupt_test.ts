// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  FUEL,
  instrument,
  InstrumentError,
  INTERRUPT_FUNCTION,
  INTERRUPT_MODULE,
} from "./_interrupt.ts";
import { loadComponent } from "./component.ts";

const { parse } = await import("@bytecodealliance/jco");

async function module(wat: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await parse(wat));
}

function run(
  bytes: Uint8Array<ArrayBuffer>,
  check: () => number,
  imports: Record<string, Record<string, unknown>> = {},
) {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    ...imports,
    [INTERRUPT_MODULE]: { [INTERRUPT_FUNCTION]: check },
  } as WebAssembly.Imports).exports as Record<string, CallableFunction>;
}

Deno.test("instrument: a loop that never ends is stopped by the check", async () => {
  const bytes = instrument(
    await module(`(module (func (export "spin") (loop $l (br $l))))`),
  );
  let checks = 0;
  const exports = run(bytes, () => {
    if (++checks === 3) throw new Error("deadline");
    return FUEL;
  });
  assert.throws(() => exports.spin(), /deadline/);
  assert.equal(checks, 3);
});

Deno.test("instrument: unbounded tail calls are stopped too (checks at function entry)", async () => {
  const bytes = instrument(
    await module(`(module
      (func $f (export "f") (param i32) (result i32)
        (return_call $f (i32.add (local.get 0) (i32.const 1)))))`),
  );
  let checks = 0;
  const exports = run(bytes, () => {
    if (++checks === 2) throw new Error("deadline");
    return FUEL;
  });
  assert.throws(() => exports.f(0), /deadline/);
});

Deno.test("instrument: behaviour is unchanged, function indices shift everywhere", async () => {
  const wat = `(module
    (import "env" "add" (func $add (param i32 i32) (result i32)))
    (type $t (func (result i32)))
    (table 2 funcref)
    (elem (i32.const 0) $seven $eight)
    (global $g funcref (ref.func $eight))
    (func $seven (result i32) (i32.const 7))
    (func $eight (result i32) (i32.const 8))
    (func (export "sum") (param $n i32) (result i32)
      (local $acc i32)
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc
            (call $add (local.get $acc)
              (call_indirect (type $t) (i32.rem_u (local.get $n) (i32.const 2)))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $next)))
      (i32.add (local.get $acc) (call $seven)))
    (func $begin (drop (call $seven)))
    (start $begin))`;
  const env = { env: { add: (a: number, b: number) => a + b } };
  const plain = run(await module(wat), () => FUEL, env);
  let checks = 0;
  const instrumented = run(instrument(await module(wat)), () => {
    checks++;
    return 3;
  }, env);
  assert.equal(instrumented.sum(25), plain.sum(25));
  assert.equal(plain.sum(25), 12 * 7 + 13 * 8 + 7);
  // Past the first fuel, the check runs, and the result is still the same.
  assert.equal(instrumented.sum(30_000), plain.sum(30_000));
  assert.ok(checks > 0);
});

Deno.test("instrument: every core module of the examples, QuickJS ones included, still validates", async () => {
  for (
    const path of [
      "../examples/counter/counter.wasm",
      "../examples/kv/kv.wasm",
      "../examples/supervisor/supervisor.wasm",
    ]
  ) {
    const loaded = await loadComponent(
      new URL(path, import.meta.url).pathname,
      { cacheDir: false },
    );
    for (const [name, bytes] of Object.entries(loaded.cores)) {
      const out = instrument(bytes as Uint8Array<ArrayBuffer>);
      assert.ok(WebAssembly.validate(out), `${path} ${name}`);
    }
  }
});

Deno.test("instrument: an instruction it cannot decode is refused, not passed through", () => {
  // (module (func (drop (i32.const 0)) ... with an unknown opcode 0xFB 0x00 (GC).
  const bytes = new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0, // header
    1,
    4,
    1,
    0x60,
    0,
    0, // type () -> ()
    3,
    2,
    1,
    0, // one function
    10,
    6,
    1,
    4,
    0,
    0xfb,
    0x00,
    0x0b, // body: gc prefix
  ]);
  assert.throws(() => instrument(bytes), InstrumentError);
});
