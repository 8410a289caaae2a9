// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { verifyChain } from "./verify.ts";
import { concatBytes } from "./bytes.ts";
import { writeFileAtomicSync } from "./files.ts";
import {
  ChainWriteError,
  ChainWriter,
  type FsyncPolicy,
  lastEvent,
} from "./writer.ts";
import { withTempDir } from "../tests/_helpers.ts";

const stop = { reason: "test" };

for (const fsync of ["every-event", "batch", "none"] as FsyncPolicy[]) {
  Deno.test(`fsync ${fsync}: concurrent appends land in call order`, async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "a.jsonl");
      const writer = await ChainWriter.open(path, { actor: "a", fsync });
      const appends = [];
      for (let i = 0; i < 50; i++) {
        appends.push(
          writer.append("message.in", { from: "x", msg: i, link: null }),
        );
      }
      const events = await Promise.all(appends);
      await writer.close();
      assert.deepEqual(events.map((e) => e.seq), [...Array(50).keys()]);
      const report = await verifyChain(path);
      assert.equal(report.ok, true, report.error?.message);
      assert.equal(report.head, events[49].hash);
      const lines = (await Deno.readTextFile(path)).trim().split("\n");
      assert.deepEqual(lines.map((l) => JSON.parse(l).data.msg), [
        ...Array(50).keys(),
      ]);
    });
  });
}

Deno.test("a reopened chain continues its seq and parent", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const first = await ChainWriter.open(path, { actor: "a" });
    const e0 = await first.append("actor.stop", stop);
    await first.close();
    const second = await ChainWriter.open(path, { actor: "a" });
    assert.equal(second.seq, 1);
    assert.equal(second.head, e0.hash);
    const e1 = await second.append("actor.stop", stop);
    await second.close();
    assert.equal(e1.parent, e0.hash);
    assert.equal((await verifyChain(path)).ok, true);
  });
});

Deno.test("append refuses data that does not fit its type, and moves on", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a" });
    assert.throws(
      () => writer.append("actor.stop", { why: "x" }),
      /missing field "data.reason"/,
    );
    assert.throws(
      () => writer.append("actor.stop", { reason: NaN as unknown as string }),
    );
    assert.equal(writer.seq, 0);
    await writer.append("actor.stop", stop);
    await writer.close();
    assert.equal((await verifyChain(path)).ok, true);
  });
});

Deno.test("open refuses a torn tail and says why", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a" });
    await writer.append("actor.stop", stop);
    await writer.append("actor.stop", stop);
    await writer.close();
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.slice(0, -10));
    await assert.rejects(
      ChainWriter.open(path, { actor: "a" }),
      (e) => e instanceof ChainWriteError && /torn tail/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(path), text.slice(0, -10));
  });
});

Deno.test("open refuses an invalid last line and another actor's chain", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a" });
    await writer.append("actor.stop", stop);
    await writer.close();
    await assert.rejects(
      ChainWriter.open(path, { actor: "b" }),
      /belongs to actor a, not b/,
    );
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace("test", "tezt"));
    await assert.rejects(
      ChainWriter.open(path, { actor: "a" }),
      /last line is invalid: hash mismatch/,
    );
  });
});

Deno.test("check full refuses corruption before the last line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a" });
    await writer.append("actor.stop", { reason: "one" });
    await writer.append("actor.stop", { reason: "two" });
    await writer.close();
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace("one", "0ne"));
    const tail = await ChainWriter.open(path, { actor: "a" });
    await tail.close();
    await assert.rejects(
      ChainWriter.open(path, { actor: "a", check: "full" }),
      /a.jsonl:1: refusing to append: hash mismatch/,
    );
  });
});

Deno.test("open refuses a symlinked chain file", async () => {
  await withTempDir(async (dir) => {
    const target = join(dir, "real.jsonl");
    await Deno.writeTextFile(target, "");
    await Deno.symlink(target, join(dir, "a.jsonl"));
    await assert.rejects(
      ChainWriter.open(join(dir, "a.jsonl"), { actor: "a" }),
      /refusing to append to a symlink/,
    );
  });
});

Deno.test("open refuses a bad actor id and a chain path that is a directory", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      ChainWriter.open(join(dir, "x.jsonl"), { actor: "../x" }),
      /invalid actor id/,
    );
    await Deno.mkdir(join(dir, "d.jsonl"));
    await assert.rejects(
      ChainWriter.open(join(dir, "d.jsonl"), { actor: "d" }),
      /not a regular file/,
    );
  });
});

Deno.test("appends after close are refused", async () => {
  await withTempDir(async (dir) => {
    const writer = await ChainWriter.open(join(dir, "a.jsonl"), {
      actor: "a",
    });
    await writer.close();
    await assert.rejects(writer.append("actor.stop", stop), /closed/);
  });
});

Deno.test("lastEvent: the last checked event, or null for empty, torn or altered", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.jsonl`;
    assert.equal(lastEvent(path), null);
    const w = await ChainWriter.open(path, { actor: "a", fsync: "none" });
    await w.append("actor.stop", { reason: "x".repeat(100_000) });
    await w.append("actor.stop", { reason: "done" });
    await w.close();
    assert.equal(lastEvent(path)?.data.reason, "done");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace('"done"', '"dune"'));
    assert.equal(lastEvent(path), null);
    await Deno.writeTextFile(path, text.slice(0, -1));
    assert.equal(lastEvent(path), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomicSync: the whole file or the old one, with its mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f`;
    writeFileAtomicSync(path, new TextEncoder().encode("one"), { sync: true });
    writeFileAtomicSync(path, new TextEncoder().encode("two"), { mode: 0o600 });
    assert.equal(await Deno.readTextFile(path), "two");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inMemory: seals the very lines a file writer writes, and writes none", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.jsonl");
    const clock = () => 1000;
    const file = await ChainWriter.open(path, {
      actor: "a",
      fsync: "none",
      clock,
    });
    const lines: Uint8Array[] = [];
    const memory = ChainWriter.inMemory({
      actor: "a",
      clock,
      onAppend: (_event, line) => lines.push(line),
    });
    for (const writer of [file, memory]) {
      await writer.appendAll([
        { type: "message.in", data: { from: "x", msg: "hi", link: null } },
        { type: "actor.stop", data: stop },
      ]);
      await writer.close();
    }
    assert.equal(
      new TextDecoder().decode(concatBytes(lines)),
      await Deno.readTextFile(path),
    );
    assert.equal(memory.bytes, (await Deno.stat(path)).size);
    assert.throws(
      () => ChainWriter.inMemory({ actor: "../x" }),
      ChainWriteError,
    );
  });
});
