// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULTS,
  loadManifest,
  ManifestError,
  validateManifest,
} from "./manifest.ts";

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
