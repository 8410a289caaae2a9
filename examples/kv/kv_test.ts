// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { loadComponent } from "../../runtime/mod.ts";
import { bindActor, type RawImports } from "../../sdk/mod.ts";
import kv from "./actor.ts";

function fakeHost(log: string[]): RawImports {
  let now = 1000;
  return {
    runtime: {
      log: (m) => log.push(m),
      now: () => now++,
      random: (n) => new Uint8Array(n),
      selfId: () => "kv",
    },
    message: {
      send: () => {},
      sender: () => "external",
      request: () => "rq-1",
    },
    timers: {
      after: () => "t-1",
      every: () => "t-2",
      cancel: () => true,
    },
    store: { put: () => "", get: () => undefined },
    supervisor: {
      spawn: () => "",
      stop: () => {},
      restart: () => {},
      children: () => [],
    },
  };
}

Deno.test("kv init starts empty or from params.entries", () => {
  const log: string[] = [];
  const actor = bindActor(kv, fakeHost(log)).actor;
  assert.equal(actor.init("null"), '{"entries":{},"updated_at":1000}');
  assert.equal(
    actor.init('{"entries":{"a":1}}'),
    '{"entries":{"a":1},"updated_at":1001}',
  );
  assert.throws(
    () => actor.init("[1]"),
    (e) => e === "params must be null or an object",
  );
  assert.deepEqual(log, ["started with 0 entries", "started with 1 entries"]);
});

Deno.test("kv put, get, delete and keys", () => {
  const actor = bindActor(kv, fakeHost([])).actor;
  let state = actor.init("null");
  const send = (msg: unknown) => {
    const [next, reply] = actor.handle(state, JSON.stringify(msg));
    state = next;
    return JSON.parse(reply!);
  };
  assert.deepEqual(send({ op: "put", key: "b", value: [1] }), { ok: true });
  assert.deepEqual(send({ op: "put", key: "__proto__", value: 2 }), {
    ok: true,
  });
  assert.deepEqual(send({ op: "get", key: "b" }), { value: [1] });
  assert.deepEqual(send({ op: "get", key: "__proto__" }), { value: 2 });
  assert.deepEqual(send({ op: "keys" }), { keys: ["__proto__", "b"] });
  assert.deepEqual(send({ op: "delete", key: "b" }), { deleted: true });
  assert.deepEqual(send({ op: "delete", key: "b" }), { deleted: false });
  assert.deepEqual(send({ op: "get", key: "b" }), { value: null });
});

Deno.test("kv refuses bad messages with an error reply (the WIT err)", () => {
  const actor = bindActor(kv, fakeHost([])).actor;
  const state = actor.init("null");
  for (
    const [msg, error] of [
      [
        '{"op":"nope"}',
        'unknown op "nope" (expected put, get, delete or keys)',
      ],
      ['{"op":"get"}', '"get" needs a string "key"'],
      ['{"op":"put","key":"a"}', '"put" needs a "value"'],
      ["[1]", 'message must be an object with an "op"'],
    ]
  ) {
    assert.throws(() => actor.handle(state, msg), (e) => e === error, msg);
  }
});

Deno.test("kv.wasm imports only theater:actor/* and exports the actor", async () => {
  const c = await loadComponent(new URL("./kv.wasm", import.meta.url).pathname);
  assert.ok(
    c.imports.every((i) => i.startsWith("theater:actor/")),
    String(c.imports),
  );
  assert.deepEqual(c.exports, ["theater:actor/actor@0.1.0"]);
});
