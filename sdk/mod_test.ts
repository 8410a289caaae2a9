// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { ActorError, bindActor, defineActor, type RawImports } from "./mod.ts";

function fakeImports(log: string[]): RawImports {
  return {
    runtime: {
      log: (msg) => log.push(msg),
      now: () => 42n,
      random: (len) => Array.from({ length: len }, (_, i) => i),
      selfId: () => "me",
    },
    message: {
      send: (to, msg) => {
        if (to === "nobody") throw 'no actor "nobody" is running';
        log.push(`send ${to} ${msg}`);
      },
      sender: () => "root.child-1",
      request: () => "rq-1",
    },
    timers: {
      after: () => "t-1",
      every: () => "t-2",
      cancel: () => true,
    },
    supervisor: {
      spawn: (manifest, params) => `me.${manifest}-${params}`,
      stop: () => {},
      restart: () => {},
      children: () => ["me.a"],
    },
  };
}

const counter = defineActor<{ n: number }, "inc" | "get" | "ping", number>({
  init: (params) => ({ n: typeof params === "number" ? params : 0 }),
  handle(state, msg, host) {
    if (msg === "get") return { state, reply: state.n };
    if (msg === "ping") {
      host.send("nobody", "ping");
      return { state };
    }
    host.log(`at ${host.now()}`);
    host.send("peer", { n: state.n + 1 });
    return { state: { n: state.n + 1 } };
  },
});

Deno.test("bindActor does the JSON glue both ways", () => {
  const log: string[] = [];
  const bound = bindActor(counter, fakeImports(log));
  const state = bound.actor.init("5");
  assert.equal(state, '{"n":5}');
  assert.deepEqual(bound.actor.handle(state, '"get"'), ['{"n":5}', "5"]);
  assert.deepEqual(bound.actor.handle(state, '"inc"'), ['{"n":6}', null]);
  assert.deepEqual(log, ["at 42", 'send peer {"n":6}']);
});

Deno.test("a thrown error or a failed host call becomes the WIT err string", () => {
  const bound = bindActor(counter, fakeImports([]));
  assert.throws(
    () => bound.actor.handle('{"n":1}', '"ping"'),
    (e) => e === 'no actor "nobody" is running',
  );
  const refusing = bindActor(
    defineActor({
      init: () => null,
      handle: () => {
        throw new ActorError("not today");
      },
    }),
    fakeImports([]),
  );
  assert.throws(
    () => refusing.actor.handle("null", "1"),
    (e) => e === "not today",
  );
});

Deno.test("any other exception is a crash: logged, then a value that traps", () => {
  const log: string[] = [];
  const buggy = bindActor(
    defineActor<null, string, null>({
      init: () => null,
      handle: (_state, msg) => {
        if (msg === "oops") {
          return (null as unknown as { f(): never }).f();
        }
        throw new RangeError("out of range");
      },
    }),
    fakeImports(log),
  );
  const out = buggy.actor.handle("null", '"oops"');
  assert.equal(typeof out, "symbol");
  assert.match(log[0], /^crash: uncaught TypeError: /);
  assert.equal(typeof buggy.actor.handle("null", '"x"'), "symbol");
  assert.equal(log[1], "crash: uncaught RangeError: out of range");
});

Deno.test("onChildEvent is optional and typed", () => {
  const seen: string[] = [];
  const sup = bindActor(
    defineActor<string[], null, null>({
      init: () => [],
      handle: (state) => ({ state }),
      onChildEvent: (state, event, host) => {
        seen.push(host.children().join());
        return [...state, `${event.child} ${event.event}`];
      },
    }),
    fakeImports([]),
  );
  const next = sup.supervised.onChildEvent(
    "[]",
    '{"child":"me.a","event":"started","reason":null}',
  );
  assert.equal(next, '["me.a started"]');
  assert.deepEqual(seen, ["me.a"]);
  const plain = bindActor(counter, fakeImports([]));
  assert.equal(plain.supervised.onChildEvent('{"n":1}', "{}"), '{"n":1}');
});

Deno.test("the typed host converts random bytes, spawn params and time", () => {
  const log: string[] = [];
  let host!: Parameters<typeof counter.handle>[2];
  const bound = bindActor(
    defineActor({
      init: (_p, h) => {
        host = h;
        return null;
      },
      handle: (state) => ({ state }),
    }),
    fakeImports(log),
  );
  bound.actor.init("null");
  assert.deepEqual(host.random(3), new Uint8Array([0, 1, 2]));
  assert.equal(host.now(), 42);
  assert.equal(host.spawn("w.json", { id: 1 }), 'me.w.json-{"id":1}');
  assert.equal(host.spawn("w.json"), "me.w.json-null");
  assert.equal(host.selfId(), "me");
  assert.equal(host.sender(), "root.child-1");
});
