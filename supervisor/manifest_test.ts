// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULTS,
  loadManifest,
  ManifestError,
  validateManifest,
} from "./manifest.ts";
import { DEFAULT_LIMITS } from "../runtime/mod.ts";
import type { Json } from "../chain/mod.ts";

const at = { path: "/srv/app/manifest.json" };

Deno.test("a minimal manifest gets documented defaults and resolved paths", () => {
  const m = validateManifest(
    { name: "counter", component: "counter.wasm" },
    at,
  );
  assert.equal(m.component, "/srv/app/counter.wasm");
  assert.equal(m.chainDir, "/srv/app/chains");
  assert.equal(m.params, null);
  assert.equal(m.fsync, DEFAULTS.fsync);
  assert.equal(m.limits.handleTimeoutMs, DEFAULTS.handleTimeoutMs);
  assert.equal(m.supervision.strategy, "one-for-one");
});

Deno.test("every invalid field is named with what was expected", () => {
  let message = "";
  try {
    validateManifest({
      name: "bad name",
      component: 7,
      limits: { memory_mb: "64" },
      chain: { fsync: "sometimes" },
      extra: true,
    }, at);
  } catch (e) {
    assert.ok(e instanceof ManifestError);
    message = e.message;
  }
  {
    assert.match(message, /field "name": must be 1-64 letters/);
    assert.match(
      message,
      /field "component": Invalid input: expected string, received number/,
    );
    assert.match(
      message,
      /field "limits\.memory_mb": Invalid input: expected number, received string/,
    );
    assert.match(message, /field "chain\.fsync": Invalid option/);
    assert.match(message, /field "extra": unknown field/);
    assert.ok(
      message.split("\n").every((l) =>
        l.startsWith("/srv/app/manifest.json: ")
      ),
    );
  }
});

Deno.test("a missing field is named", () => {
  assert.throws(
    () => validateManifest({ name: "a" }, at),
    /field "component": Invalid input: expected string, received undefined/,
  );
});

Deno.test("paths that leave the manifest's directory are refused", () => {
  assert.throws(
    () => validateManifest({ name: "a", component: "../../etc/x.wasm" }, at),
    /field "component": "..\/..\/etc\/x.wasm" points outside/,
  );
  assert.throws(
    () => validateManifest({ name: "a", component: "/etc/x.wasm" }, at),
    /points outside/,
  );
  assert.throws(
    () =>
      validateManifest({
        name: "a",
        component: "a.wasm",
        children: [{ manifest: "../other.json" }],
      }, at),
    /field "children\[0\].manifest"/,
  );
});

Deno.test("loadManifest names the file for unreadable or non-JSON input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadManifest(join(dir, "nope.json")),
      /nope\.json: cannot read: no such file/,
    );
    await Deno.writeTextFile(join(dir, "m.json"), "{ name: ");
    await assert.rejects(
      loadManifest(join(dir, "m.json")),
      /m\.json: not valid JSON/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("limits: every quota has a default and a bounded manifest field", () => {
  const m = validateManifest({ name: "a", component: "a.wasm" }, at);
  assert.deepEqual(m.limits, DEFAULT_LIMITS);
  const set = validateManifest({
    name: "a",
    component: "a.wasm",
    limits: { host_calls: 5, mailbox: 7, table_elements: 9, actors: 3 },
  }, at);
  assert.equal(set.limits.hostCalls, 5);
  assert.equal(set.limits.mailbox, 7);
  assert.equal(set.limits.tableElements, 9);
  assert.equal(set.limits.actors, 3);
  for (
    const [field, value] of [
      ["handle_timeout_ms", 2 ** 31],
      ["handle_timeout_ms", 0],
      ["mailbox", 0],
      ["recorded_bytes", -1],
      ["component_mb", 1.5],
      ["table_elements", 1e12],
    ] as const
  ) {
    assert.throws(
      () =>
        validateManifest({
          name: "a",
          component: "a.wasm",
          limits: { [field]: value },
        }, at),
      (e: Error) =>
        e instanceof ManifestError &&
        e.message.includes(`field "limits.${field}"`),
      `${field} = ${value}`,
    );
  }
  assert.throws(
    () =>
      validateManifest({
        name: "a",
        component: "a.wasm",
        limits: { forks: 1 },
      }, at),
    /field "limits.forks": unknown field/,
  );
});

Deno.test("params: size and depth limits name the file and field", () => {
  const deep = (n: number): Json => n === 0 ? 1 : [deep(n - 1)];
  assert.throws(
    () =>
      validateManifest({
        name: "a",
        component: "a.wasm",
        params: "x".repeat(2 * 1024 * 1024),
      }, at),
    /\/srv\/app\/manifest.json: field "params": is \d+ bytes, over the limit of 1048576/,
  );
  assert.throws(
    () =>
      validateManifest({
        name: "a",
        component: "a.wasm",
        children: [{ manifest: "b.json", params: deep(100) }],
      }, at),
    /field "children\[0\].params": is nested more than 64 deep/,
  );
  assert.throws(
    () =>
      validateManifest({
        name: "a",
        component: "a.wasm",
        children: Array.from({ length: 3 }, () => ({ manifest: "b.json" })),
        limits: { children: 2 },
      }, at),
    /field "children": 3 children, over limits.children = 2/,
  );
});

Deno.test("a manifest file passes the canonical gate, with line and column", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "manifest.json");
    await Deno.writeTextFile(
      path,
      '{\n  "name": "a",\n  "component": "a.wasm",\n  "params": {"n": 1e400}\n}\n',
    );
    await assert.rejects(
      () => loadManifest(path),
      (e: Error) =>
        e instanceof ManifestError &&
        e.message.startsWith(`${path}:4:19: manifest is not canonical JSON`) &&
        e.message.includes("out of range"),
    );
    await Deno.writeTextFile(
      path,
      `{"name":"a","component":"a.wasm","params":${"[".repeat(5000)}${
        "]".repeat(5000)
      }}`,
    );
    await assert.rejects(
      () => loadManifest(path),
      /manifest\.json:1:\d+: manifest is nested more than 64 deep/,
    );
    await Deno.writeTextFile(
      path,
      '{"name":"a","component":"a.wasm","params":"\\ud800"}',
    );
    await assert.rejects(() => loadManifest(path), /lone surrogate/);
    await Deno.remove(path);
    const fifo = new Deno.Command("mkfifo", { args: [path] });
    if ((await fifo.output()).success) {
      // A FIFO would block a plain read forever.
      await assert.rejects(() => loadManifest(path), /not a regular file/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * `dir/app/` holding a manifest and `dir/outside/` beside it, with the
 * links `links` (name in app -> target) made in app; `fn` gets the app
 * folder.
 */
async function withLinks(
  links: Record<string, string>,
  fn: (app: string, outside: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "theater_manifest_" });
  try {
    const app = join(dir, "app");
    const outside = join(dir, "outside");
    await Deno.mkdir(app);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "x.wasm"), "not inside");
    await Deno.writeTextFile(join(app, "a.wasm"), "inside");
    for (const [name, target] of Object.entries(links)) {
      await Deno.symlink(target, join(app, name));
    }
    await fn(app, outside);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("chain.dir is a path inside the manifest's directory like the others", () => {
  for (const dir of ["../../x", "/tmp/x", "chains/../../x"]) {
    assert.throws(
      () =>
        validateManifest(
          { name: "a", component: "a.wasm", chain: { dir } },
          at,
        ),
      (e: Error) =>
        e instanceof ManifestError &&
        e.message ===
          `/srv/app/manifest.json: field "chain.dir": ${
            JSON.stringify(dir)
          } points outside the manifest's directory`,
      dir,
    );
  }
  const m = validateManifest({
    name: "a",
    component: "a.wasm",
    chain: { dir: "runs/../chains2" },
  }, at);
  assert.equal(m.chainDir, "/srv/app/chains2");
  // A name that only starts with two dots stays inside.
  assert.equal(
    validateManifest({ name: "a", component: "..a.wasm" }, at).component,
    "/srv/app/..a.wasm",
  );
});

Deno.test("a path inside the manifest's directory that a symbolic link leads outside is refused, naming file and field", async () => {
  await withLinks({
    "c.wasm": "../outside/x.wasm",
    "sub": "../outside",
    "chains": "../outside",
    "later": "../outside/not-yet/made",
    "k.key": "../outside/x.wasm",
    "kid.json": "../outside/kid.json",
    "loop": "loop2",
    "loop2": "loop",
    "ok.wasm": "./a.wasm",
  }, (app, outside) => {
    const path = join(app, "manifest.json");
    const refused = (value: Record<string, unknown>, field: string) =>
      assert.throws(
        () =>
          validateManifest({ name: "a", component: "a.wasm", ...value }, {
            path,
          }),
        (e: Error) =>
          e instanceof ManifestError &&
          e.message.startsWith(`${path}: field "${field}": `) &&
          /symbolic link/.test(e.message),
        `${field}: ${JSON.stringify(value)}`,
      );
    refused({ component: "c.wasm" }, "component");
    // A linked folder in the middle of the path.
    refused({ component: "sub/x.wasm" }, "component");
    // The default chain folder, when it is a link out.
    refused({}, "chain.dir");
    refused({ chain: { dir: "sub/chains" } }, "chain.dir");
    // A link to a place that does not exist yet is followed all the same.
    refused({ chain: { dir: "later" } }, "chain.dir");
    refused({ chain: { dir: "later/deeper" } }, "chain.dir");
    refused(
      { chain: { dir: "here", checkpoint: { key: "k.key", every: 1 } } },
      "chain.checkpoint.key",
    );
    refused(
      { chain: { dir: "here" }, children: [{ manifest: "kid.json" }] },
      "children[0].manifest",
    );
    assert.throws(
      () =>
        validateManifest({
          name: "a",
          component: "loop",
          chain: { dir: "here" },
        }, { path }),
      /field "component": "loop": too many levels of symbolic links/,
    );
    // Links that stay inside are paths like any other.
    const m = validateManifest({
      name: "a",
      component: "ok.wasm",
      chain: { dir: "here" },
    }, { path });
    assert.equal(m.component, join(app, "ok.wasm"));
    assert.equal(m.chainDir, join(app, "here"));
    assert.ok(outside);
  });
});

Deno.test("a manifest reached through a linked folder resolves its paths in that folder", async () => {
  await withLinks({}, async (app) => {
    const alias = `${app}-alias`;
    await Deno.symlink(app, alias);
    const path = join(alias, "manifest.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify({ name: "a", component: "a.wasm" }),
    );
    const m = await loadManifest(path);
    assert.equal(m.component, join(alias, "a.wasm"));
    assert.equal(m.chainDir, join(alias, "chains"));
    await Deno.remove(alias);
  });
});
