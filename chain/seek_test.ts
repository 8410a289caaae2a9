// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { readEvents } from "./reader.ts";
import { ChainFormatError } from "./reader.ts";
import { NoSuchEvent, stateAt } from "./seek.ts";
import { StateError, StateTracker } from "./state.ts";
import { type Json, MAX_LINE_BYTES } from "./event.ts";
import { ActorRecorder } from "../runtime/recorder.ts";
import { ChainWriter } from "./writer.ts";

/** A recorded chain whose state grows, changes and shrinks over 400 steps. */
async function recorded(path: string): Promise<void> {
  const writer = await ChainWriter.open(path, { actor: "a", fsync: "none" });
  const recorder = new ActorRecorder("a", {
    writer,
    executor: {
      call(_actor, { fn, args }) {
        if (fn === "init") {
          return Promise.resolve({ calls: [], status: "ok", value: args[0] });
        }
        const state = JSON.parse(args[0]);
        const n = JSON.parse(args[1]) as number;
        if (n % 97 === 0) state.items = {};
        else state.items[`k${n % 50}`] = "x".repeat(n % 30);
        state.n = n;
        const next = JSON.stringify(state);
        return Promise.resolve({
          calls: [],
          status: "ok",
          value: [next, n % 7 === 0 ? null : String(n)],
        });
      },
    },
  });
  await recorder.start({
    component: "00".repeat(32),
    manifest: { name: "a" },
    params: { items: {}, n: 0 },
    link: null,
  });
  for (let n = 1; n <= 400; n++) {
    await recorder.deliver(n, { from: "external" });
  }
  await recorder.stop("done");
  await writer.close();
}

Deno.test("stateAt: the state after every event equals a fold of the whole chain", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    await recorded(path);
    const tracker = new StateTracker();
    const want: Json[] = [];
    const types = new Set<string>();
    for await (const event of readEvents(path)) {
      tracker.add(event);
      types.add(event.type);
      want.push(structuredClone(tracker.state));
    }
    // Both forms are in the chain, so the walk back is exercised.
    assert.ok(types.has("handle.patch") && types.has("handle.ok"));
    for (let seq = 0; seq < want.length; seq++) {
      assert.deepEqual(await stateAt(path, seq), want[seq], `seq ${seq}`);
    }
    await assert.rejects(
      () => stateAt(path, want.length),
      NoSuchEvent,
      `the chain has events 0 to ${want.length - 1}`,
    );
    await assert.rejects(() => stateAt(path, -1), NoSuchEvent);
    await assert.rejects(() => stateAt(dir, 0), /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stateAt: an altered line on the way back is refused, and so is a broken link", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    await recorded(path);
    const lines = (await Deno.readTextFile(path)).split("\n").slice(0, -1);
    const last = lines.length - 2;
    // A patch near the end, altered: its hash no longer fits. The state
    // after the event that follows it is read back through it.
    const at = lines.findLastIndex((l, i) =>
      i < last && l.includes('"type":"handle.patch"')
    );
    const altered = [...lines];
    altered[at] = altered[at].replace('"op":"', '"op":"x');
    await Deno.writeTextFile(path, altered.join("\n") + "\n");
    await assert.rejects(() => stateAt(path, at + 1), ChainFormatError);
    // The line removed: the events around it do not link.
    const removed = lines.filter((_, i) => i !== at);
    await Deno.writeTextFile(path, removed.join("\n") + "\n");
    await assert.rejects(() => stateAt(path, at + 1), StateError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stateAt: reading back over a full state longer than its read block", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a", fsync: "none" });
    const recorder = new ActorRecorder("a", {
      writer,
      executor: {
        call(_actor, { fn, args }) {
          if (fn === "init") {
            return Promise.resolve({ calls: [], status: "ok", value: args[0] });
          }
          const state = JSON.parse(args[0]);
          state.n = JSON.parse(args[1]);
          return Promise.resolve({
            calls: [],
            status: "ok",
            value: [JSON.stringify(state), null],
          });
        },
      },
    });
    // 200 KB of state: its full line spans several 64 KB blocks.
    await recorder.start({
      component: "00".repeat(32),
      manifest: { name: "a" },
      params: { blob: "x".repeat(200_000), n: 0 },
      link: null,
    });
    for (let n = 1; n <= 20; n++) {
      await recorder.deliver(n, { from: "external" });
    }
    await writer.close();
    const tracker = new StateTracker();
    const want: Json[] = [];
    for await (const event of readEvents(path)) {
      tracker.add(event);
      want.push(structuredClone(tracker.state));
    }
    for (const seq of [1, 2, 3, want.length - 1]) {
      assert.deepEqual(await stateAt(path, seq), want[seq], `seq ${seq}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stateAt: a line over the limit is refused by its number without being held, whichever way it is read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    await recorded(path);
    const lines = (await Deno.readTextFile(path)).split("\n").slice(0, -1);
    const last = lines.length - 1;
    const at = lines.findLastIndex((l, i) =>
      i < last - 1 && l.includes('"type":"handle.patch"')
    );
    const big = "x".repeat(MAX_LINE_BYTES + 1);
    const refused = (line: number) => (e: Error) =>
      e instanceof ChainFormatError &&
      e.problem.reason === "line-too-long" && e.problem.line === line &&
      e.message ===
        `${path}:${line}: line is ${big.length} bytes, over the limit of ${MAX_LINE_BYTES}`;
    // Read back over, from the event after it.
    const over = [...lines];
    over[at] = big;
    await Deno.writeTextFile(path, over.join("\n") + "\n");
    await assert.rejects(() => stateAt(path, at + 1), refused(at + 1));
    // Read forward into, as the last line.
    const end = [...lines];
    end[last] = big;
    await Deno.writeTextFile(path, end.join("\n") + "\n");
    await assert.rejects(() => stateAt(path, last), refused(last + 1));
    // Any other bad line is named by its number too.
    const altered = [...lines];
    altered[at] = altered[at].replace('"op":"', '"op":"x');
    await Deno.writeTextFile(path, altered.join("\n") + "\n");
    await assert.rejects(
      () => stateAt(path, at + 1),
      (e: Error) =>
        e instanceof ChainFormatError && e.problem.line === at + 1 &&
        e.message.startsWith(`${path}:${at + 1}: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
