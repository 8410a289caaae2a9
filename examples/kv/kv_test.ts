// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { ALLOWED_IMPORTS, loadComponent } from "../../runtime/component.ts";
import { type Actor, createActor } from "./kv.ts";

function fakeActor(): { actor: Actor; logs: string[] } {
  const logs: string[] = [];
  let clock = 1000;
  const actor = createActor({
    log: (msg) => logs.push(msg),
    now: () => clock++,
  });
  return { actor, logs };
}

function send(actor: Actor, state: string, msg: unknown): [string, unknown] {
  const [next, reply] = actor.handle(state, JSON.stringify(msg));
  return [next, reply === null ? null : JSON.parse(reply)];
}

Deno.test("kv init starts empty or from params.entries", () => {
  const { actor, logs } = fakeActor();
  assert.deepEqual(JSON.parse(actor.init("null")), {
    entries: {},
    updated_at: 1000,
  });
  assert.deepEqual(JSON.parse(actor.init("{}")).entries, {});
  assert.deepEqual(
    JSON.parse(actor.init('{"entries":{"a":1}}')).entries,
    { a: 1 },
  );
  assert.deepEqual(logs, [
    "started with 0 entries",
    "started with 0 entries",
    "started with 1 entries",
  ]);
  assert.throws(() => actor.init("[]"), (e) => typeof e === "string");
  assert.throws(
    () => actor.init('{"entries":3}'),
    (e) => typeof e === "string",
  );
});

Deno.test("kv put, get, delete and keys", () => {
  const { actor, logs } = fakeActor();
  let state = actor.init("null");
  let reply: unknown;
  [state, reply] = send(actor, state, { op: "put", key: "b", value: [1] });
  assert.deepEqual(reply, { ok: true });
  [state, reply] = send(actor, state, {
    op: "put",
    key: "__proto__",
    value: 2,
  });
  assert.deepEqual(reply, { ok: true });
  [state, reply] = send(actor, state, { op: "get", key: "b" });
  assert.deepEqual(reply, { value: [1] });
  [state, reply] = send(actor, state, { op: "get", key: "__proto__" });
  assert.deepEqual(reply, { value: 2 });
  [state, reply] = send(actor, state, { op: "get", key: "missing" });
  assert.deepEqual(reply, { value: null });
  [state, reply] = send(actor, state, { op: "keys" });
  assert.deepEqual(reply, { keys: ["__proto__", "b"] });
  [state, reply] = send(actor, state, { op: "delete", key: "b" });
  assert.deepEqual(reply, { deleted: true });
  const before = state;
  [state, reply] = send(actor, state, { op: "delete", key: "b" });
  assert.deepEqual(reply, { deleted: false });
  assert.equal(state, before);
  assert.equal(JSON.parse(state).updated_at, 1003);
  assert.deepEqual(logs.slice(1), [
    'put "b"',
    'put "__proto__"',
    'delete "b"',
    'delete "b" (absent)',
  ]);
});

Deno.test("kv errors are thrown as strings (the WIT err)", () => {
  const { actor } = fakeActor();
  const state = actor.init("null");
  for (
    const [msg, error] of [
      ['{"op":"nope"}', 'unknown op "nope"'],
      ['"junk"', "message must be an object"],
      ["{", "message is not JSON"],
      ['{"op":"get"}', '"get" needs a string "key"'],
      ['{"op":"put","key":"k"}', '"put" needs a "value"'],
    ]
  ) {
    assert.throws(
      () => actor.handle(state, msg),
      (e) => typeof e === "string" && e.startsWith(error),
    );
  }
});

Deno.test("kv.wasm imports only theater:actor/* and exports the actor", async () => {
  const c = await loadComponent(new URL("kv.wasm", import.meta.url).pathname);
  for (const name of c.imports) {
    assert.ok(ALLOWED_IMPORTS.includes(name.replace(/@[^/]*$/, "")), name);
  }
  assert.deepEqual(c.exports, ["theater:actor/actor@0.1.0"]);
});
