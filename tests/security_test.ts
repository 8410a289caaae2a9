// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { verifyPath } from "../chain/mod.ts";
import { actorWorker, ComponentError, loadComponent } from "../runtime/mod.ts";
import { runCli, withTempDir } from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

Deno.test("an actor worker has no route to files, network, processes or env", async () => {
  const worker = actorWorker(
    new URL("./testdata/escape_probe.ts", import.meta.url),
  );
  try {
    const results = await new Promise<string[]>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(e.message);
    });
    assert.equal(results.length, 9);
    for (const line of results) {
      assert.doesNotMatch(line, /ALLOWED/, line);
      assert.match(line, /NotCapable|PermissionDenied|TypeError/, line);
    }
  } finally {
    worker.terminate();
  }
});

Deno.test("a JS actor built with WASI imports is refused at load", async () => {
  const { componentize } = await import("componentize-qjs");
  await withTempDir(async (dir) => {
    const { component } = await componentize({
      witPath: new URL("../wit/theater.wit", import.meta.url).pathname,
      world: "actor-world",
      jsSource: `export const actor = {
        init: (p) => p,
        handle: (s, m) => [s, m],
      };`,
      stubWasi: false,
      sync: true,
    });
    const path = join(dir, "wasi.wasm");
    await Deno.writeFile(path, new Uint8Array(component));
    await assert.rejects(
      loadComponent(path),
      (e) =>
        e instanceof ComponentError &&
        /imports wasi:[a-z-]+\/[a-z-]+, which actors may not use/.test(
          e.message,
        ),
    );
  });
});

async function counterIn(dir: string): Promise<string> {
  for (const name of ["counter.wasm", "manifest.json"]) {
    await Deno.copyFile(join(COUNTER, name), join(dir, name));
  }
  return join(dir, "manifest.json");
}

Deno.test("a manifest that points outside its directory is refused", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "evil.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify({ name: "evil", component: "../../etc/passwd" }),
    );
    const r = await runCli(["run", path]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /field "component": "\.\.\/\.\.\/etc\/passwd" points outside/,
    );
  });
});

Deno.test("a manifest whose paths a symbolic link leads outside its directory is refused, and chain.dir is such a path", async () => {
  await withTempDir(async (dir) => {
    const app = join(dir, "app");
    const outside = join(dir, "outside");
    await Deno.mkdir(app);
    await Deno.mkdir(outside);
    await counterIn(outside);
    const manifest = join(app, "manifest.json");
    const write = (m: Record<string, unknown>, file = manifest) =>
      Deno.writeTextFile(
        file,
        JSON.stringify({ name: "counter", component: "counter.wasm", ...m }),
      );
    // The component: a link in the folder to a component outside it.
    await Deno.symlink(
      join(outside, "counter.wasm"),
      join(app, "counter.wasm"),
    );
    await write({});
    let r = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(
      r.stderr.includes(
        `${manifest}: field "component": "counter.wasm" leads outside`,
      ),
      r.stderr,
    );
    await Deno.remove(join(app, "counter.wasm"));
    await Deno.copyFile(
      join(outside, "counter.wasm"),
      join(app, "counter.wasm"),
    );
    // chain.dir: written nowhere outside.
    await write({ chain: { dir: "../../x" } });
    r = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /field "chain\.dir": "\.\.\/\.\.\/x" points outside/,
    );
    await assert.rejects(
      Deno.lstat(join(dir, "..", "x")),
      Deno.errors.NotFound,
    );
    // A child manifest, itself inside, whose component is a link out.
    await Deno.mkdir(join(app, "kid"));
    await Deno.symlink(
      join(outside, "counter.wasm"),
      join(app, "kid", "counter.wasm"),
    );
    const kid = join(app, "kid", "kid.json");
    await write({ name: "kid" }, kid);
    await write({ children: [{ manifest: "kid/kid.json" }] });
    r = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(
      r.stderr.includes(
        `${kid}: field "component": "counter.wasm" leads outside`,
      ),
      r.stderr,
    );
  });
});

Deno.test("a symlink swapped in for a chain file is refused; the target is untouched", async () => {
  await withTempDir(async (dir) => {
    const manifest = await counterIn(dir);
    const chains = join(dir, "chains");
    const first = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(first.code, 0, first.stderr);
    const victim = join(dir, "victim.txt");
    await Deno.writeTextFile(victim, "precious\n");
    const chain = join(chains, "counter.jsonl");
    await Deno.rename(chain, join(dir, "moved.jsonl"));
    await Deno.symlink(victim, chain);
    const r = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /counter\.jsonl: refusing to append to a symlink/);
    assert.equal(await Deno.readTextFile(victim), "precious\n");
    const moved = await verifyPath(join(dir, "moved.jsonl"));
    assert.equal(moved.ok, true);
  });
});

Deno.test("a dangling symlink where a new actor's chain goes is refused; nothing is created at its target", async () => {
  await withTempDir(async (dir) => {
    const manifest = await counterIn(dir);
    const chains = join(dir, "chains");
    await Deno.mkdir(chains);
    const target = join(dir, "planted.jsonl");
    await Deno.symlink(target, join(chains, "counter.jsonl"));
    const r = await runCli(["run", manifest, "--send", '"inc"', "--quiet"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /counter\.jsonl: refusing to append to a symlink/);
    await assert.rejects(Deno.lstat(target), Deno.errors.NotFound);
  });
});

Deno.test("a chain dir that is a file is refused clearly", async () => {
  await withTempDir(async (dir) => {
    const manifest = await counterIn(dir);
    await Deno.writeTextFile(join(dir, "chains"), "not a dir");
    const r = await runCli(["run", manifest, "--send", '"inc"']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /chains: the chain directory is not a directory/);
  });
});

Deno.test("huge and deeply nested messages are refused; the actor goes on", async () => {
  await withTempDir(async (dir) => {
    const manifest = await counterIn(dir);
    const huge = JSON.stringify("x".repeat(3 * 1024 * 1024));
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const r = await runCli(["run", manifest, "--quiet"], {
      stdin: `"inc"\n${huge}\n${deep}\n"inc"\n`,
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /stdin:2: message is at least \d+ characters, over the limit of 1048576 bytes/,
    );
    assert.match(
      r.stderr,
      /stdin:3: message is nested more than 64 deep, over the limit/,
    );
    assert.deepEqual(
      r.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((l) =>
        !l.input
      ),
      [
        { actor: "counter", reply: { count: 1 } },
        { actor: "counter", reply: { count: 2 } },
      ],
    );
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
  });
});
