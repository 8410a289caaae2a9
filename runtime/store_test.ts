// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  blobProblem,
  blobsOf,
  type ChainEvent,
  ChainWriter,
  MAX_LINE_BYTES,
  readEvents,
  sha256Hex,
  STORE_DIR,
  STORE_INTERFACE,
  verifyDir,
} from "../chain/mod.ts";
import { ActorRecorder, type GuestOutcome } from "./recorder.ts";
import { BlobStore } from "./store.ts";
import { RUNTIME, STORE } from "./wit.ts";

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

/** The record a guest's `store.put` of `bytes` leaves. */
function putRecord(bytes: Uint8Array) {
  const sha256 = sha256Hex(bytes);
  return {
    interface: STORE,
    function: "put",
    args: [{ sha256, size: bytes.length }],
    result: { ok: sha256 },
  };
}

Deno.test("store: a call that fails keeps the blobs it put, as its recorded puts name them; one cut off before its outcome writes none", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new BlobStore(join(dir, STORE_DIR), { sync: false });
    const writer = await ChainWriter.open(join(dir, "a.jsonl"), {
      actor: "a",
      fsync: "none",
    });
    const bytesOf = (how: string) => new TextEncoder().encode(`put by ${how}`);
    // What the guest side reports for each way a call can end (_guest.ts;
    // a call cut off by its time limit is executor.ts's trap(): no calls).
    const outcomes: Record<string, (b: Uint8Array) => GuestOutcome> = {
      trap: (b) => ({
        calls: [putRecord(b)],
        blobs: [b],
        status: "trap",
        error: "unreachable",
      }),
      err: (b) => ({
        calls: [putRecord(b)],
        blobs: [b],
        status: "err",
        error: "refused",
      }),
      "bad-state": (b) => ({
        calls: [putRecord(b)],
        blobs: [b],
        status: "ok",
        value: ["1e400", null],
      }),
      "cut-off": () => ({
        calls: [],
        status: "trap",
        error: "timed out after 1000 ms",
      }),
      // Host calls the chain cannot hold: the put with them is not named.
      unrecordable: (b) => ({
        calls: [putRecord(b), {
          interface: RUNTIME,
          function: "log",
          args: ["x".repeat(MAX_LINE_BYTES)],
          result: null,
        }],
        blobs: [b],
        status: "trap",
        error: "unreachable",
      }),
    };
    const recorder = new ActorRecorder("a", {
      writer,
      store,
      executor: {
        call(_actor, { fn, args }) {
          if (fn === "init") {
            return Promise.resolve({ calls: [], status: "ok", value: args[0] });
          }
          const how = JSON.parse(args[1]) as string;
          return Promise.resolve(outcomes[how](bytesOf(how)));
        },
      },
    });
    await recorder.start({
      component: "00".repeat(32),
      manifest: { name: "a" },
      params: 0,
      link: null,
    });
    for (const how of Object.keys(outcomes)) {
      const done = await recorder.deliver(how, { from: "external" });
      assert.equal(done.ok, false, how);
    }
    await recorder.stop("done");
    await writer.close();
    const events = await Array.fromAsync(readEvents(join(dir, "a.jsonl")));
    const named = new Set(
      events.flatMap((e) => blobsOf(e).map((b) => b.sha256)),
    );
    const stored = new Set(
      [...Deno.readDirSync(join(dir, STORE_DIR))].map((e) => e.name),
    );
    for (const how of ["trap", "err", "bad-state"]) {
      const hash = sha256Hex(bytesOf(how));
      assert.ok(stored.has(hash), `${how}: the blob is kept`);
      assert.ok(named.has(hash), `${how}: the chain names it`);
    }
    assert.equal(events.filter((e) => e.type === "handle.error").length, 5);
    const cut = sha256Hex(bytesOf("cut-off"));
    assert.ok(!stored.has(cut) && !named.has(cut), "cut-off: nothing kept");
    const lost = sha256Hex(bytesOf("unrecordable"));
    assert.ok(stored.has(lost), "unrecordable: the blob was written first");
    assert.ok(!named.has(lost), "unrecordable: no event names it");
    assert.match(
      String(events.findLast((e) => e.type === "handle.error")?.data.error),
      /its host calls cannot be recorded/,
    );
    // The store holds every blob the chain names (and one it does not).
    const report = await verifyDir(dir);
    assert.equal(report.ok, true, JSON.stringify(report.error));
    assert.equal(report.blobs, 3);
    assert.equal(stored.size, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: when the store cannot be written the call fails, and verify names the blob its recorded put promised", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A file where the store's folder goes: no blob can be written.
    await Deno.writeTextFile(join(dir, STORE_DIR), "not a folder");
    const writer = await ChainWriter.open(join(dir, "a.jsonl"), {
      actor: "a",
      fsync: "none",
    });
    const bytes = new TextEncoder().encode("never stored");
    const recorder = new ActorRecorder("a", {
      writer,
      store: new BlobStore(join(dir, STORE_DIR), { sync: false }),
      executor: {
        call(_actor, { fn, args }) {
          return Promise.resolve(
            fn === "init" ? { calls: [], status: "ok", value: args[0] } : {
              calls: [putRecord(bytes)],
              blobs: [bytes],
              status: "ok",
              value: ["1", null],
            },
          );
        },
      },
    });
    await recorder.start({
      component: "00".repeat(32),
      manifest: { name: "a" },
      params: 0,
      link: null,
    });
    const done = await recorder.deliver("put", { from: "external" });
    assert.equal(done.ok, false);
    assert.match(String(done.error), /cannot store its blobs/);
    await recorder.stop("done");
    await writer.close();
    const report = await verifyDir(dir);
    assert.equal(report.ok, false);
    assert.equal(report.error?.reason, "missing-blob");
    assert.match(report.error?.message ?? "", new RegExp(sha256Hex(bytes)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
