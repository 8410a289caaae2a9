// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  ActorError,
  bindActor,
  defineActor,
  makeHost,
  type RawImports,
  utf8Decode,
  utf8Encode,
} from "./mod.ts";

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
    store: {
      put: (data) => {
        if (data.length > 8) throw "blob of 9 bytes is over 8";
        const hash = data.join(".");
        blobs.set(hash, data);
        return hash;
      },
      get: (hash) => blobs.get(hash),
    },
  };
}

const blobs = new Map<string, Uint8Array>();

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

Deno.test("sdk: utf8Encode and utf8Decode agree with TextEncoder/TextDecoder", () => {
  const samples = [
    "",
    "plain",
    "é€𝄞",
    "a\u0000b",
    "\u{10FFFF}",
    "😀 mixed 中文",
  ];
  for (const text of samples) {
    assert.deepEqual(utf8Encode(text), new TextEncoder().encode(text));
    assert.equal(utf8Decode(new TextEncoder().encode(text)), text);
  }
  // Lone surrogates and bad bytes become U+FFFD, as TextEncoder/Decoder do.
  assert.deepEqual(
    utf8Encode("a\ud800b"),
    new TextEncoder().encode("a\ud800b"),
  );
  for (
    const bad of [[0xff], [0xc3], [0xe2, 0x82], [0x80, 0x41], [0xc3, 0x41]]
  ) {
    const bytes = Uint8Array.from(bad);
    assert.equal(
      utf8Decode(bytes),
      new TextDecoder().decode(bytes),
      String(bad),
    );
  }
});

Deno.test("sdk: put, get and getText go through the store; an err is an ActorError", () => {
  const host = makeHost(fakeImports([]));
  const hash = host.put("hé");
  assert.deepEqual(host.get(hash), new TextEncoder().encode("hé"));
  assert.equal(host.getText(hash), "hé");
  assert.equal(host.get("missing"), null);
  assert.throws(() => host.put("123456789"), ActorError);
});

Deno.test("sdk: fetch without an HTTP import says how to grant it", () => {
  const host = makeHost(fakeImports([]));
  assert.throws(() => host.fetch("http://127.0.0.1/"), /no HTTP grant/);
});

Deno.test("sdk: fetch passes the request and reads the response", () => {
  const seen: unknown[] = [];
  const host = makeHost({
    ...fakeImports([]),
    http: {
      fetch: (req) => {
        seen.push(req);
        if (req.url.endsWith("/down")) throw "cannot reach http://x:1";
        return {
          status: 200,
          headers: [["content-type", "application/json"], ["x", "1"], [
            "x",
            "2",
          ]],
          body: new TextEncoder().encode('{"a":1}'),
        };
      },
    },
  });
  const r = host.fetch("http://x:1/doc", {
    method: "POST",
    headers: { accept: "application/json" },
    body: "hi",
  });
  assert.deepEqual(seen[0], {
    method: "POST",
    url: "http://x:1/doc",
    headers: [["accept", "application/json"]],
    body: new TextEncoder().encode("hi"),
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { a: 1 });
  assert.equal(r.headers.x, "1, 2");
  assert.throws(
    () => host.fetch("http://x:1/down"),
    (e: Error) => e instanceof ActorError && /cannot reach/.test(e.message),
  );
});
