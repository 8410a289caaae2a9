// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../chain/mod.ts";
import {
  compileComponent,
  compileCores,
  ComponentError,
  defaultCacheDir,
  loadComponent,
  TRANSPILER,
} from "./component.ts";
import {
  buildTestComponent,
  TEST_COMPONENTS,
  type TestComponent,
} from "./testdata/components.ts";
import { withTempDir } from "../tests/_helpers.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const TESTDATA = new URL("./testdata/", import.meta.url).pathname;
const LOAD = join(TESTDATA, "load.ts");
const ROOT = new URL("..", import.meta.url).pathname;

interface LoadReport {
  sha256: string;
  cached: boolean;
  cacheEntry: string | null;
  ms: number;
}

/** Loads a component in a fresh process (empty in-process cache). */
async function loadElsewhere(
  args: string[],
  options: { flags?: string[]; env?: Record<string, string> } = {},
): Promise<LoadReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...(options.flags ?? ["--allow-read", "--allow-write", "--allow-env"]),
      LOAD,
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("the counter loads with its SHA-256, imports and exports", async () => {
  const c = await loadComponent(COUNTER, { cacheDir: false });
  assert.equal(c.sha256, sha256Hex(await Deno.readFile(COUNTER)));
  assert.match(c.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(c.imports, ["theater:actor/runtime"]);
  assert.deepEqual(c.exports, ["theater:actor/actor@0.1.0"]);
  assert.equal(c.supervised, false);
  assert.match(c.bindings, /export function instantiate/);
  assert.ok(Object.keys(c.cores).length >= 1);
});

Deno.test("a second load in one process does not transpile again", async () => {
  const first = await loadComponent(join(TESTDATA, "echo.wasm"), {
    cacheDir: false,
  });
  const again = await loadComponent(join(TESTDATA, "echo.wasm"), {
    cacheDir: false,
  });
  assert.equal(again.cached, true);
  assert.equal(again.bindings, first.bindings);
  assert.equal(again.cacheEntry, null);
});

Deno.test("transpiled output is cached on disk by transpiler and SHA-256", async () => {
  await withTempDir(async (dir) => {
    const cold = await loadElsewhere([COUNTER, dir]);
    const entry = join(dir, TRANSPILER, cold.sha256);
    assert.deepEqual([cold.cached, cold.cacheEntry], [false, entry]);
    const meta = JSON.parse(await Deno.readTextFile(join(entry, "meta.json")));
    assert.equal(meta.transpiler, TRANSPILER);
    assert.deepEqual(meta.imports, ["theater:actor/runtime"]);
    const warm = await loadElsewhere([COUNTER, dir]);
    assert.deepEqual([warm.cached, warm.cacheEntry], [true, entry]);
    // No jco import, no transpile: a warm load is much faster.
    assert.ok(warm.ms < cold.ms, `warm ${warm.ms} ms, cold ${cold.ms} ms`);

    // A damaged entry is not used, and is replaced.
    await Deno.writeTextFile(join(entry, "bindings.js"), "export {}");
    const repaired = await loadElsewhere([COUNTER, dir]);
    assert.deepEqual([repaired.cached, repaired.cacheEntry], [false, entry]);
    assert.equal((await loadElsewhere([COUNTER, dir])).cached, true);
  });
});

Deno.test("the default cache follows THEATER_CACHE_DIR, XDG_CACHE_HOME, HOME", () => {
  const names = ["THEATER_CACHE_DIR", "XDG_CACHE_HOME", "HOME"];
  const saved = names.map((n) => Deno.env.get(n));
  try {
    for (const n of names) Deno.env.delete(n);
    assert.equal(defaultCacheDir(), null);
    Deno.env.set("HOME", "/home/u");
    assert.equal(defaultCacheDir(), "/home/u/.cache/theater");
    Deno.env.set("XDG_CACHE_HOME", "/xdg");
    assert.equal(defaultCacheDir(), "/xdg/theater");
    Deno.env.set("THEATER_CACHE_DIR", "/somewhere");
    assert.equal(defaultCacheDir(), "/somewhere");
    Deno.env.set("THEATER_CACHE_DIR", "");
    assert.equal(defaultCacheDir(), null);
  } finally {
    names.forEach((n, i) => {
      if (saved[i] === undefined) Deno.env.delete(n);
      else Deno.env.set(n, saved[i]);
    });
  }
});

Deno.test("the default cache is used only as far as permissions allow", async () => {
  await withTempDir(async (dir) => {
    const env = { THEATER_CACHE_DIR: dir };
    // Read but no write permission: loads, writes nothing, never prompts.
    const readOnly = await loadElsewhere([COUNTER], {
      flags: ["--allow-read", "--allow-env"],
      env,
    });
    assert.deepEqual([readOnly.cached, readOnly.cacheEntry], [false, null]);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    const full = await loadElsewhere([COUNTER], { env });
    assert.equal(full.cacheEntry, join(dir, TRANSPILER, full.sha256));
    const warm = await loadElsewhere([COUNTER], {
      flags: ["--allow-read", "--allow-env"],
      env,
    });
    assert.deepEqual([warm.cached, warm.cacheEntry], [true, full.cacheEntry]);
  });
});

Deno.test("TRANSPILER names the jco that deno.json pins", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(join(ROOT, "deno.json")),
  );
  const jco = config.imports["@bytecodealliance/jco"] as string;
  const version = jco.replace(/^npm:@bytecodealliance\/jco@/, "");
  assert.equal(TRANSPILER, `jco-${version}-sync`);
});

Deno.test("components an actor may not be are refused, naming the reason", async () => {
  const cases: [TestComponent, RegExp][] = [
    [
      "wasi",
      /: imports wasi:cli\/environment, which actors may not use \(allowed: theater:actor\/runtime, /,
    ],
    [
      "noexport",
      /: does not export theater:actor\/actor \(it exports theater:actor\/supervised@0\.1\.0\)$/,
    ],
    ["core", /: is a core WebAssembly module, not a component/],
    ["garbage", /: is not a WebAssembly component$/],
    ["truncated", /: not a valid component: /],
  ];
  for (const [kind, message] of cases) {
    const path = join(TESTDATA, `${kind}.wasm`);
    await assert.rejects(
      loadComponent(path, { cacheDir: false }),
      (e) =>
        e instanceof ComponentError && message.test(e.message) &&
        e.message.startsWith(`${path}: `) && !e.message.includes("\n"),
      kind,
    );
  }
  await assert.rejects(
    loadComponent(join(TESTDATA, "missing.wasm")),
    (e) =>
      e instanceof ComponentError &&
      /testdata\/missing\.wasm: cannot read: no such file/.test(e.message),
  );
  await assert.rejects(
    loadComponent(TESTDATA),
    (e) => e instanceof ComponentError && e.message.startsWith(TESTDATA),
  );
});

Deno.test("runtime/testdata holds what build.ts makes", async () => {
  await withTempDir(async (dir) => {
    for (const kind of TEST_COMPONENTS) {
      const fresh = await Deno.readFile(await buildTestComponent(kind, dir));
      const kept = await Deno.readFile(join(TESTDATA, `${kind}.wasm`));
      assert.deepEqual(
        kept,
        fresh,
        `runtime/testdata/${kind}.wasm is stale: run runtime/testdata/build.ts`,
      );
    }
  });
});

Deno.test("cores compile once per component and memory limit", async () => {
  const c = await loadComponent(COUNTER, { cacheDir: false });
  const a = compileComponent(c, { memoryMb: 1 });
  assert.equal(compileComponent(c, { memoryMb: 1 }), a);
  assert.notEqual(compileComponent(c, { memoryMb: 2 }), a);
  assert.equal(compileCores(c, { memoryMb: 1 }), a.modules);
  for (const m of Object.values(a.modules)) {
    assert.ok(m instanceof WebAssembly.Module);
  }
  // The counter starts with one 64 KiB page: a limit below it must fail.
  assert.throws(
    () => compileCores(c, { memoryMb: 0 }),
    (e) =>
      e instanceof ComponentError &&
      /counter\.wasm: memory starts at 0\.0625 MiB, over the limit/.test(
        e.message,
      ),
  );
});

Deno.test("a component file is read and hashed once while it stays the same; a changed file is read again", async () => {
  await withTempDir(async (dir) => {
    await buildTestComponent("echo", dir);
    await buildTestComponent("relay", dir);
    const path = join(dir, "actor.wasm");
    await Deno.copyFile(join(dir, "echo.wasm"), path);
    const first = await loadComponent(path, { cacheDir: false });
    const again = await loadComponent(path, { cacheDir: false });
    assert.equal(again.cached, true);
    assert.equal(again.sha256, first.sha256);
    // Not read again: bytes changed under an unchanged stamp (same inode,
    // size and mtime) are not seen, and the hash is still that of what runs.
    const info = await Deno.stat(path);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    await Deno.utime(path, info.atime!, info.mtime!);
    assert.equal(
      (await loadComponent(path, { cacheDir: false })).sha256,
      first.sha256,
    );
    // Another build in its place: another stamp, so it is read and hashed.
    await Deno.remove(path);
    await Deno.copyFile(join(dir, "relay.wasm"), path);
    const second = await loadComponent(path, { cacheDir: false });
    assert.notEqual(second.sha256, first.sha256);
    assert.equal(
      second.sha256,
      sha256Hex(await Deno.readFile(join(dir, "relay.wasm"))),
    );
  });
});
