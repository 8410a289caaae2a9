// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../chain/mod.ts";
import { compileCores, ComponentError, loadComponent } from "./component.ts";
import {
  buildTestComponent,
  type TestComponent,
} from "./testdata/components.ts";
import { withTempDir } from "../tests/_helpers.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;

Deno.test("the counter loads with its SHA-256, imports and exports", async () => {
  const c = await loadComponent(COUNTER);
  assert.equal(c.sha256, sha256Hex(await Deno.readFile(COUNTER)));
  assert.deepEqual(c.imports, ["theater:actor/runtime"]);
  assert.deepEqual(c.exports, ["theater:actor/actor@0.1.0"]);
  assert.equal(c.supervised, false);
  assert.match(c.bindings, /export function instantiate/);
  assert.ok(Object.keys(c.cores).length >= 1);
});

Deno.test("transpiled output is cached on disk by SHA-256", async () => {
  await withTempDir(async (dir) => {
    const first = await loadComponent(COUNTER, { cacheDir: dir });
    const meta = JSON.parse(
      await Deno.readTextFile(join(dir, first.sha256, "meta.json")),
    );
    assert.deepEqual(meta.imports, first.imports);
    const again = await loadComponent(COUNTER, { cacheDir: dir });
    assert.equal(again.cached, true);
    assert.equal(again.bindings, first.bindings);
  });
});

Deno.test("components an actor may not be are refused, naming the reason", async () => {
  const cases: [TestComponent, RegExp][] = [
    ["wasi", /imports wasi:cli\/environment, which actors may not use/],
    [
      "noexport",
      /does not export theater:actor\/actor \(it exports theater:actor\/supervised@0\.1\.0\)/,
    ],
    ["core", /is a core WebAssembly module, not a component/],
    ["garbage", /is not a WebAssembly component/],
  ];
  await withTempDir(async (dir) => {
    for (const [kind, message] of cases) {
      const path = await buildTestComponent(kind, dir);
      await assert.rejects(
        loadComponent(path),
        (e) =>
          e instanceof ComponentError && message.test(e.message) &&
          e.message.startsWith(path),
        kind,
      );
    }
    await assert.rejects(
      loadComponent(join(dir, "missing.wasm")),
      /missing\.wasm: cannot read: no such file/,
    );
  });
});

Deno.test("a component whose memory starts over the limit is refused", async () => {
  const c = await loadComponent(COUNTER);
  assert.ok(compileCores(c, { memoryMb: 1 }));
  // The counter starts with one 64 KiB page: a limit below it must fail.
  assert.throws(
    () => compileCores(c, { memoryMb: 0 }),
    /memory starts at 0\.0625 MiB, over the limit/,
  );
});
