// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { withTempDir } from "../tests/_helpers.ts";
import { eventLine, sealEvent } from "./canonical.ts";
import {
  generateKeys,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
} from "./checkpoint.ts";
import type { ChainEvent } from "./event.ts";
import {
  chainCheckpoint,
  checkChainAgainst,
  checkProof,
  proveConsistency,
  proveInclusion,
} from "./proofs.ts";
import { ChainWriter } from "./writer.ts";

async function chainOf(path: string, n: number): Promise<ChainEvent[]> {
  const writer = await ChainWriter.open(path, { actor: "a", fsync: "none" });
  const events = [];
  for (let i = 0; i < n; i++) {
    events.push(
      await writer.append("message.in", { from: "x", msg: i, link: null }, {
        ts: 1000 + i,
      }),
    );
  }
  await writer.close();
  return events;
}

async function keys() {
  const { privateKey, publicKey } = await generateKeys("test");
  return {
    signer: await parseSignerKey(privateKey),
    verifier: await parseVerifierKey(publicKey),
  };
}

Deno.test("a signed checkpoint opens with its key and no other", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    await chainOf(path, 7);
    const { signer, verifier } = await keys();
    const head = await chainCheckpoint(path);
    const text = await signCheckpoint(head, signer);
    assert.match(
      text,
      /^theater\/a\n7\n[A-Za-z0-9+/]{43}=\n\n\u2014 test \S+\n$/,
    );
    const opened = await openCheckpoint(text, verifier);
    assert.deepEqual(opened, head);
    const other = await keys();
    await assert.rejects(
      openCheckpoint(text, other.verifier),
      /no valid signature/,
    );
    await assert.rejects(
      openCheckpoint(text.replace("\n7\n", "\n8\n"), verifier),
      /no valid signature/,
    );
  });
});

Deno.test("a chain tampered, truncated or forked after its checkpoint is caught", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const events = await chainOf(path, 10);
    const cp = await chainCheckpoint(path, { size: 8 });
    assert.equal(await checkChainAgainst(path, cp), null);
    const text = await Deno.readTextFile(path);
    const lines = text.trimEnd().split("\n");

    await Deno.writeTextFile(path, text.replace('"msg":3', '"msg":33'));
    assert.match(String(await checkChainAgainst(path, cp)), /hash mismatch/);

    await Deno.writeTextFile(path, lines.slice(0, 6).join("\n") + "\n");
    assert.match(
      String(await checkChainAgainst(path, cp)),
      /has 6 events, fewer than the 8 of the checkpoint: it was truncated/,
    );

    // A fork: a valid chain that differs from event 5 on.
    const forked = lines.slice(0, 5);
    let parent = events[4].hash;
    for (let seq = 5; seq < 10; seq++) {
      const e = sealEvent({
        v: 1,
        seq,
        actor: "a",
        parent,
        ts: 5000 + seq,
        type: "message.in",
        data: { from: "x", msg: `forked ${seq}`, link: null },
      });
      parent = e.hash;
      forked.push(eventLine(e));
    }
    await Deno.writeTextFile(path, forked.join("\n") + "\n");
    assert.match(
      String(await checkChainAgainst(path, cp)),
      /first 8 events do not have the checkpoint's root: the log was rewritten or forked/,
    );
  });
});

Deno.test("proofs check against a checkpoint without the chain", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    await chainOf(path, 13);
    const head = await chainCheckpoint(path);
    const inclusion = await proveInclusion(path, { seq: 6 });
    assert.equal(checkProof(inclusion, head), null);
    const consistency = await proveConsistency(path, { from: 5 });
    assert.equal(checkProof(consistency, head), null);

    const altered = structuredClone(inclusion);
    altered.event.data.msg = 666;
    assert.match(String(checkProof(altered, head)), /hash does not match/);
    const moved = { ...inclusion, index: 7 };
    assert.match(String(checkProof(moved, head)), /seq 6, the proof index 7/);
    const wrongRoot = { ...consistency, first_root: "00".repeat(32) };
    assert.match(String(checkProof(wrongRoot, head)), /does not hold/);
    const smaller = await chainCheckpoint(path, { size: 12 });
    assert.match(
      String(checkProof(inclusion, smaller)),
      /tree of 13, the checkpoint of 12/,
    );
  });
});

Deno.test("a consistency proof from another root than the old checkpoint's is refused", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a", fsync: "none" });
    for (let i = 0; i < 9; i++) {
      await writer.append("actor.stop", { reason: `r${i}` }, { ts: i });
    }
    await writer.close();
    const proof = await proveConsistency(path, { from: 4 });
    const now = await chainCheckpoint(path);
    const old = await chainCheckpoint(path, { size: 4 });
    assert.equal(checkProof(proof, now, { old }), null);
    const forked = { ...old, root: new Uint8Array(32) };
    assert.match(
      checkProof(proof, now, { old: forked })!,
      /first_root is not the old checkpoint's root/,
    );
  });
});
