// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import canonicalize from "canonicalize";
import {
  canonicalJson,
  eventLine,
  hashEvent,
  sealEvent,
  sealLine,
  sha256Hex,
} from "./canonical.ts";
import type { Json, UnsealedEvent } from "./event.ts";

const VECTORS = new URL("../../shared/testdata/jcs/", import.meta.url);

Deno.test("canonicalJson matches every RFC 8785 test vector", async () => {
  let count = 0;
  for await (const entry of Deno.readDir(new URL("input/", VECTORS))) {
    const input = await Deno.readTextFile(
      new URL(`input/${entry.name}`, VECTORS),
    );
    const expected = await Deno.readFile(
      new URL(`output/${entry.name}`, VECTORS),
    );
    const actual = new TextEncoder().encode(canonicalJson(JSON.parse(input)));
    assert.deepEqual(actual, expected, entry.name);
    count++;
  }
  assert.ok(count >= 6, `expected the shared vectors, found ${count}`);
});

Deno.test("canonicalJson refuses values JSON cannot carry", () => {
  assert.throws(() => canonicalJson(NaN));
  assert.throws(() => canonicalJson({ a: Infinity }));
  assert.throws(() => canonicalJson("\ud800"));
  assert.throws(() => canonicalJson(undefined));
});

Deno.test("sha256Hex gives the FIPS 180-2 digest of 'abc'", () => {
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

// The worked example of docs/chain-format.md §4: if this changes, the doc
// must change with it.
Deno.test("the worked example of docs/chain-format.md hashes as documented", async () => {
  const event: UnsealedEvent = {
    v: 1,
    seq: 0,
    actor: "counter",
    parent: null,
    ts: 1764028800000,
    type: "actor.init",
    data: { state: { count: 0 } },
  };
  const bytes =
    '{"actor":"counter","data":{"state":{"count":0}},"parent":null,"seq":0,"ts":1764028800000,"type":"actor.init","v":1}';
  assert.equal(canonicalJson(event), bytes);
  const doc = await Deno.readTextFile(
    new URL("../docs/chain-format.md", import.meta.url),
  );
  assert.ok(doc.includes(bytes), "doc shows the canonical bytes");
  assert.ok(doc.includes(hashEvent(event)), "doc shows the hash");
  assert.equal(sealEvent(event).hash, hashEvent(event));
});

Deno.test("sealLine writes exactly the RFC 8785 line of the sealed event", () => {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const value = (depth: number): unknown => {
    const kind = Math.floor(Math.random() * (depth > 2 ? 4 : 6));
    switch (kind) {
      case 0:
        return pick([null, true, false]);
      case 1:
        return pick([0, -0.5, 1e21, 123456789.125, 2 ** 53 - 1, 5e-324]);
      case 2:
        return pick([
          "",
          "a\u00e9\u20ac",
          "\ud83d\ude00",
          '\u0000\n\t"\\',
          "\u2028",
        ]);
      case 3:
        return Math.random() * 1e6;
      case 4:
        return Array.from({ length: 3 }, () => value(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: 3 }, (_, i) => [
            pick(["b", "a", "\u00e9", "€", "\ud83d\ude00", `k${i}`]),
            value(depth + 1),
          ]),
        );
    }
  };
  for (let i = 0; i < 500; i++) {
    const event = {
      v: 1 as const,
      seq: i,
      actor: pick(["counter", "a.b-1", "root.x_y"]),
      parent: i === 0 ? null : "ab".repeat(32),
      ts: 1764028800000 + i,
      type: pick(["handle.ok", "message.in", "actor.stop"] as const),
      data: { state: value(0), reply: value(0) } as { [key: string]: Json },
    };
    const { event: sealed, bytes } = sealLine(event);
    assert.equal(
      new TextDecoder().decode(bytes),
      eventLine(sealEvent(event)) + "\n",
    );
    assert.equal(sealed.hash, sealEvent(event).hash);
  }
});

Deno.test("canonicalJson's fast path gives what the RFC 8785 library gives, over random documents", () => {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const keys = [
    "a",
    "b",
    "B",
    "10",
    "9",
    "1",
    "\u00e9",
    "€",
    "\ud83d\ude00",
    "",
    "a b",
    "__proto__x",
  ];
  const value = (depth: number): unknown => {
    switch (Math.floor(Math.random() * (depth > 3 ? 4 : 6))) {
      case 0:
        return pick([null, true, false]);
      case 1:
        return pick([0, -0, -0.5, 1e21, 1e-7, 123456789.125, 2 ** 53, 5e-324]);
      case 2:
        return pick([
          "",
          "x",
          "\u00e9\u20ac",
          "\ud83d\ude00",
          '\u0000\n"\\',
          "\u2028",
        ]);
      case 3:
        return (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 30);
      case 4:
        return Array.from(
          { length: Math.floor(Math.random() * 4) },
          () => value(depth + 1),
        );
      default: {
        // Keys sometimes sorted (the fast path), sometimes not.
        const ks = Array.from(
          { length: Math.floor(Math.random() * 5) },
          () => pick(keys),
        );
        if (Math.random() < 0.5) ks.sort();
        return Object.fromEntries(ks.map((k) => [k, value(depth + 1)]));
      }
    }
  };
  for (let i = 0; i < 5000; i++) {
    const v = value(0);
    assert.equal(canonicalJson(v), canonicalize(v), JSON.stringify(v));
  }
  // What the fast path must leave to the library: it sorts, or refuses.
  assert.equal(canonicalJson({ b: 1, a: 2 }), '{"a":2,"b":1}');
  assert.equal(canonicalJson({ "10": 1, "9": 2 }), '{"10":1,"9":2}');
  assert.throws(() => canonicalJson({ a: "\udc00" }));
  assert.throws(() => canonicalJson({ "\ud800": 1 }));
  assert.throws(() => canonicalJson(["x\ud83d"]));
  // Text that only looks like an escaped surrogate, and a paired one.
  assert.equal(canonicalJson(["\\ud800"]), '["\\\\ud800"]');
  assert.equal(
    canonicalJson({ "\ud83d\ude00": "\ud83d\ude00" }),
    canonicalize({ "\ud83d\ude00": "\ud83d\ude00" }),
  );
  assert.throws(() => canonicalJson([1, NaN]));
});
