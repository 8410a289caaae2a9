// Copyright the Theater authors. MIT license.
// Check 14 of docs/chain-format.md §7: verify rebuilds the state and checks
// every state_hash, in one pass or in ranges verified at once.
import assert from "node:assert/strict";
import { join } from "node:path";
import { eventLine, sealEvent } from "./canonical.ts";
import { type ChainEvent, type Json, TYPE_VERSION } from "./event.ts";
import { diffStates, stateHash } from "./state.ts";
import { type ChainReport, verifyChain } from "./verify.ts";

/** An event before it is sealed into a chain. */
type Step = { type: ChainEvent["type"]; data: Record<string, Json> };

/** Seals `steps` into a chain, each line's parent the one before. */
function seal(steps: Step[], actor = "s"): ChainEvent[] {
  let parent: string | null = null;
  return steps.map((step, seq) => {
    const event = sealEvent({
      v: TYPE_VERSION[step.type],
      seq,
      actor,
      parent,
      ts: 1764028800000 + seq,
      type: step.type,
      data: step.data,
    });
    parent = event.hash;
    return event;
  });
}

async function write(path: string, steps: Step[]): Promise<void> {
  await Deno.writeTextFile(
    path,
    seal(steps).map((e) => eventLine(e) + "\n").join(""),
  );
}

const start: Step = {
  type: "actor.start",
  data: { component: "ab".repeat(32), manifest: {}, params: null, link: null },
};
const resume: Step = {
  type: "actor.resume",
  data: { component: "ab".repeat(32), manifest: {}, params: null, cut: null },
};
const init = (state: Json): Step => ({ type: "actor.init", data: { state } });
const full = (state: Json): Step => ({
  type: "handle.ok",
  data: { state, reply: null },
});
const message = (msg: Json): Step => ({
  type: "message.in",
  data: { from: "external", msg, link: null },
});
const patched = (patch: Json[], to: Json): Step => ({
  type: "handle.patch",
  data: { patch, reply: null, state_hash: stateHash(to) },
});
const step = (from: Json, to: Json): Step => patched(diffStates(from, to), to);

/**
 * Verifies `path` in one pass and cut into 2, 3, 4 and 7 ranges (each
 * report the same), and returns the one-pass report.
 */
async function verifyAll(path: string): Promise<ChainReport> {
  const one = await verifyChain(path);
  for (const ranges of [2, 3, 4, 7]) {
    assert.deepEqual(await verifyChain(path, { ranges }), one, `${ranges}`);
  }
  return one;
}

async function expectBadState(path: string, line: number): Promise<void> {
  const report = await verifyAll(path);
  assert.equal(report.ok, false, "chain should not verify");
  assert.equal(report.error?.reason, "bad-state", report.error?.message);
  assert.equal(report.error?.line, line, report.error?.message);
  assert.equal(report.events, line - 1, "intact events before the bad line");
  const without = await verifyChain(path, { state: false });
  assert.equal(without.ok, true, "intact without the state check");
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A counter with a short log: start, init, then `n` steps of two events. */
function counterSteps(n: number, fullEvery = 0): Step[] {
  const at = (i: number) => ({ count: i, log: [i - 2, i - 1, i] });
  const steps: Step[] = [start, init(at(0))];
  for (let i = 1; i <= n; i++) {
    steps.push(message({ op: "inc" }));
    steps.push(
      fullEvery && i % fullEvery === 0 ? full(at(i)) : step(at(i - 1), at(i)),
    );
  }
  return steps;
}

Deno.test("state: a chain of patches verifies; every RFC 6902 operation is read", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    const a = { b: 1, list: [1, 2], "x/y": { "~t": 0 } };
    const b = { a: 0, b: 1, list: [0, 1, 2, 3], "x/y": { "~t": 0 }, c: [1, 2] };
    const ops: Json[] = [
      { op: "test", path: "/b", value: 1.0 },
      { op: "test", path: "/x~1y/~0t", value: 0 },
      { op: "add", path: "/a", value: 0 },
      { op: "add", path: "/list/-", value: 3 },
      { op: "add", path: "/list/0", value: 0 },
      { op: "copy", from: "/list", path: "/c" },
      { op: "remove", path: "/c/0" },
      { op: "move", from: "/c/2", path: "/c/-" },
      { op: "remove", path: "/c/2" },
      // Members beyond those of the operation are ignored (RFC 6902 §4).
      { op: "replace", path: "/b", value: 1, note: "ignored" },
    ];
    await write(path, [start, init(a), message("go"), patched(ops, b)]);
    const report = await verifyAll(path);
    assert.equal(report.ok, true, report.error?.message);
    assert.equal(report.events, 4);
    // A whole-state replacement, and a bare value as the state.
    await write(path, [
      init(null),
      patched([{ op: "replace", path: "", value: [1] }], [1]),
      patched([{ op: "add", path: "", value: "s" }], "s"),
    ]);
    assert.equal((await verifyAll(path)).ok, true);
  });
});

Deno.test("state: a re-hashed chain whose patch misses its state_hash is bad-state on that line", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    const steps = counterSteps(6);
    const at = 7; // a handle.patch (line 8)
    assert.equal(steps[at].type, "handle.patch");
    const patch = steps[at].data.patch as { value?: Json }[];
    const mutations: [string, Step][] = [
      ["changed op value", {
        ...steps[at],
        data: {
          ...steps[at].data,
          patch: patch.map((op, i) => i === 0 ? { ...op, value: 99 } : op),
        },
      }],
      ["dropped op", {
        ...steps[at],
        data: { ...steps[at].data, patch: patch.slice(1) },
      }],
      ["changed state_hash", {
        ...steps[at],
        data: { ...steps[at].data, state_hash: stateHash({ count: 3 }) },
      }],
    ];
    for (const [what, changed] of mutations) {
      const list = [...steps];
      list[at] = changed;
      await write(path, list);
      await expectBadState(path, at + 1);
      const report = await verifyChain(path);
      assert.match(report.error!.message, /state_hash/, what);
      assert.equal(report.error?.actual, list[at].data.state_hash, what);
    }
  });
});

Deno.test("state: a patch with no state before it is bad-state", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    await write(path, [start, message("go"), step({}, { n: 1 })]);
    await expectBadState(path, 3);
    const report = await verifyChain(path);
    assert.match(report.error!.message, /no state before it/);
  });
});

Deno.test("state: actor.resume and actor.start keep the state, patches included", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    for (const restart of [resume, start]) {
      const kept = [
        start,
        init({ list: [0] }),
        step({ list: [0] }, { list: [0, 1] }),
        restart,
        step({ list: [0, 1] }, { list: [0, 1, 2] }),
      ];
      await write(path, kept);
      const ok = await verifyAll(path);
      assert.equal(ok.ok, true, ok.error?.message);
      // A patch from the last full state, as if the patch before the
      // restart were dropped, does not reach its state_hash.
      const dropped = step({ list: [0] }, { list: [0, 2] });
      await write(path, [...kept.slice(0, 4), dropped]);
      await expectBadState(path, 5);
    }
  });
});

Deno.test("state: malformed or non-RFC 6902 operations are bad-state, not bad-field", async () => {
  const state = { list: [1, 2], o: { k: 1 } };
  const cases: [string, Json][] = [
    ["not an object", 5],
    ["no op", { path: "/o/k", value: 2 }],
    ["no path", { op: "replace", value: 2 }],
    ["unknown op", { op: "frob", path: "/o/k", value: 2 }],
    ["library-internal op", { op: "_get", path: "/o/k" }],
    ["inherited name as op", { op: "constructor", path: "/o/k" }],
    ["add without value", { op: "add", path: "/o/j" }],
    ["move without from", { op: "move", path: "/o/j" }],
    ["path without leading slash", { op: "replace", path: "o/k", value: 2 }],
    ["bad escape", { op: "add", path: "/o/~2", value: 2 }],
    ["leading-zero index", { op: "replace", path: "/list/01", value: 2 }],
    ["index past the end", { op: "add", path: "/list/3", value: 2 }],
    ["- where an element must exist", {
      op: "replace",
      path: "/list/-",
      value: 2,
    }],
    ["remove of the whole state", { op: "remove", path: "" }],
    ["remove of a missing member", { op: "remove", path: "/gone" }],
    ["failed test", { op: "test", path: "/o/k", value: 2 }],
    ["prototype", { op: "add", path: "/__proto__/x", value: 1 }],
  ];
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    for (const [what, op] of cases) {
      await write(path, [init(state), patched([op], state)]);
      const report = await verifyChain(path);
      assert.equal(
        report.error?.reason,
        "bad-state",
        `${what}: ${report.error?.message}`,
      );
      assert.equal(report.error?.line, 2, what);
      assert.match(report.error!.message, /operation 0/, what);
      assert.ok(report.error!.message.length < 300, `${what}: short message`);
    }
    // A patch that is not an array stays a bad field (check 7).
    await write(path, [init(state), {
      type: "handle.patch",
      data: { patch: {}, reply: null, state_hash: stateHash(state) },
    }]);
    assert.equal((await verifyChain(path)).error?.reason, "bad-field");
  });
});

Deno.test("state: in ranges, a bad patch anywhere gives the one-pass report", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.jsonl");
    // Without full states after init (every range must take the state of
    // the one before), and with one every 25 steps.
    for (const fullEvery of [0, 25]) {
      const steps = counterSteps(150, fullEvery);
      await write(path, steps);
      assert.equal((await verifyAll(path)).ok, true);
      let seed = 11 + fullEvery;
      const next = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const patches = steps.flatMap((s, i) =>
        s.type === "handle.patch" ? [i] : []
      );
      for (let trial = 0; trial < 6; trial++) {
        const at = patches[next(patches.length)];
        const list = [...steps];
        const data = list[at].data;
        list[at] = {
          ...list[at],
          data: trial % 2
            ? { ...data, patch: (data.patch as Json[]).slice(1) }
            : { ...data, state_hash: stateHash(trial) },
        };
        await write(path, list);
        await expectBadState(path, at + 1);
      }
    }
  });
});
