// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { canonicalJson, hashEvent, sealEvent, sha256Hex } from "./canonical.ts";
import type { UnsealedEvent } from "./event.ts";

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
