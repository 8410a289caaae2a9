// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  blobProblem,
  blobsOf,
  type ChainEvent,
  sha256Hex,
  STORE_INTERFACE,
} from "../chain/mod.ts";
import { BlobStore } from "./store.ts";
import { STORE } from "./wit.ts";

Deno.test("store: the WIT name the chain layer knows is the runtime's", () => {
  assert.equal(STORE_INTERFACE, STORE);
});

Deno.test("store: putSync writes each blob once, under its hash, and readSync checks it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new BlobStore(join(dir, "store"));
    const a = new TextEncoder().encode("alpha");
    store.putSync([a, a]);
    const hash = sha256Hex(a);
    assert.deepEqual(store.readSync(hash), a);
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "store"))].map((e) => e.name),
      [hash],
    );
    assert.equal(store.readSync("0".repeat(64)), null);
    assert.equal(store.readSync("../x"), null);
    // An altered blob is not handed out.
    Deno.writeTextFileSync(store.path(hash), "alphb");
    assert.equal(store.readSync(hash), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function call(fn: string, args: unknown[], result: unknown): ChainEvent {
  return {
    v: 3,
    actor: "a",
    seq: 7,
    ts: 0,
    type: "host.call",
    data: { interface: STORE, function: fn, args, result },
    parent: null,
    hash: "",
  } as unknown as ChainEvent;
}

Deno.test("store: blobsOf names the blobs of successful puts and found gets only", () => {
  const h = "a".repeat(64);
  assert.deepEqual(blobsOf(call("put", [{ sha256: h, size: 3 }], { ok: h })), [
    { sha256: h, size: 3, seq: 7 },
  ]);
  assert.deepEqual(
    blobsOf(call("put", [{ sha256: h, size: 3 }], { err: "too big" })),
    [],
  );
  assert.deepEqual(blobsOf(call("get", [h], { size: 3 })), [
    { sha256: h, size: 3, seq: 7 },
  ]);
  assert.deepEqual(blobsOf(call("get", [h], null)), []);
});

Deno.test("store: blobProblem tells missing, altered and wrong-size blobs apart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = new TextEncoder().encode("data");
    const hash = sha256Hex(bytes);
    assert.match(
      blobProblem(dir, { sha256: hash, size: 4, seq: 1 })!,
      /is missing from/,
    );
    await Deno.writeFile(join(dir, hash), bytes);
    assert.equal(blobProblem(dir, { sha256: hash, size: 4, seq: 1 }), null);
    assert.match(
      blobProblem(dir, { sha256: hash, size: 5, seq: 1 })!,
      /has 4 bytes, the chain says 5/,
    );
    await Deno.writeTextFile(join(dir, hash), "date");
    assert.match(
      blobProblem(dir, { sha256: hash, size: 4, seq: 1 })!,
      /does not match its hash/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
