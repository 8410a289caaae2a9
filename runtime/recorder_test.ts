// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChainWriter, readEvents, stateAt, verifyChain } from "../chain/mod.ts";
import { ActorRecorder, type Executor, type GuestOutcome } from "./recorder.ts";

/** A guest written in TypeScript, driven the way a component would be. */
function fakeExecutor(
  handle: (state: string, msg: string) => GuestOutcome,
): Executor {
  return {
    call(_actor, { fn, args }) {
      if (fn === "init") {
        return Promise.resolve({ calls: [], status: "ok", value: args[0] });
      }
      return Promise.resolve(handle(args[0], args[1]));
    },
  };
}

async function withRecorder(
  executor: Executor,
  fn: (r: ActorRecorder, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    const writer = await ChainWriter.open(path, { actor: "a", fsync: "none" });
    const recorder = new ActorRecorder("a", { writer, executor });
    await recorder.start({
      component: "00".repeat(32),
      manifest: { name: "a" },
      params: { count: 0 },
      link: null,
    });
    await fn(recorder, path);
    await recorder.stop("test over");
    await writer.close();
    const report = await verifyChain(path);
    assert.equal(report.ok, true, report.error?.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function types(path: string): Promise<string[]> {
  const out = [];
  for await (const e of readEvents(path)) out.push(e.type);
  return out;
}

const counter = fakeExecutor((state, msg) => {
  const s = JSON.parse(state);
  if (msg === '"boom"') return { calls: [], status: "trap", error: "boom" };
  if (msg === '"err"') return { calls: [], status: "err", error: "no" };
  if (msg === '"junk"') {
    return { calls: [], status: "ok", value: ["{not json", null] };
  }
  const next = JSON.stringify({ count: s.count + 1 });
  return {
    calls: [
      {
        interface: "theater:actor/runtime",
        function: "log",
        args: [`count ${s.count + 1}`],
        result: null,
      },
      {
        interface: "theater:actor/message",
        function: "send",
        args: ["b", next],
        result: { ok: null },
      },
    ],
    status: "ok",
    value: [next, next],
  };
});

Deno.test("a handled message is recorded in order, effects after", async () => {
  await withRecorder(counter, async (r, path) => {
    const d = await r.deliver("inc", { from: "external" });
    assert.equal(d.ok, true);
    assert.deepEqual(d.reply, { count: 1 });
    assert.deepEqual(d.logs, ["count 1"]);
    assert.equal(d.outgoing.length, 1);
    assert.deepEqual(d.outgoing[0].msg, { count: 1 });
    assert.equal(d.outgoing[0].link.actor, "a");
    const events = [];
    for await (const e of readEvents(path)) events.push(e);
    assert.deepEqual(events.map((e) => e.type), [
      "actor.start",
      "actor.init",
      "message.in",
      "host.call",
      "host.call",
      "handle.ok",
      "message.out",
    ]);
    assert.equal(events[6].hash, d.outgoing[0].link.hash);
  });
});

Deno.test("trap, err and non-JSON state are handle.error and keep the state", async () => {
  await withRecorder(counter, async (r, path) => {
    await r.deliver("inc", { from: "external" });
    for (
      const [msg, error] of [
        ["boom", /^trap: boom$/],
        ["err", /^no$/],
        ["junk", /new state is not valid JSON/],
      ] as const
    ) {
      const d = await r.deliver(msg, { from: "external" });
      assert.equal(d.ok, false);
      assert.match(d.error!, error);
      assert.deepEqual(d.outgoing, []);
      assert.deepEqual(r.state, { count: 1 });
    }
    const after = await r.deliver("inc", { from: "external" });
    assert.deepEqual(after.reply, { count: 2 });
    const t = await types(path);
    assert.equal(t.filter((x) => x === "handle.error").length, 3);
  });
});

Deno.test("concurrent deliveries are handled one at a time", async () => {
  await withRecorder(counter, async (r) => {
    const all = await Promise.all(
      [1, 2, 3, 4, 5].map(() => r.deliver("inc", { from: "external" })),
    );
    assert.deepEqual(
      all.map((d) => d.reply),
      [1, 2, 3, 4, 5].map((n) => ({
        count: n,
      })),
    );
  });
});

Deno.test("group commit: the next step runs while the last is synced; nothing resolves before it is durable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.jsonl");
    const durable = new Set<string>();
    const log: string[] = [];
    const writer = await ChainWriter.open(path, {
      actor: "a",
      fsync: "batch",
      onAppend: (e) => {
        durable.add(e.hash);
        if (e.type === "handle.ok") log.push("synced");
      },
    });
    let calls = 0;
    const executor: Executor = {
      call(actor, call) {
        if (call.fn === "handle") log.push(`call ${++calls}`);
        return counter.call(actor, call);
      },
    };
    const r = new ActorRecorder("a", { writer, executor });
    await r.start({
      component: "00".repeat(32),
      manifest: { name: "a" },
      params: { count: 0 },
      link: null,
    });
    const deliveries = [1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
      r.deliver("inc", { from: "external" }).then((d) => {
        log.push(`reply ${n}`);
        // Everything the step wrote, its outgoing message included, is on
        // disk before the reply is out.
        assert.ok(durable.has(d.event.hash), `reply ${n} before its fsync`);
        assert.ok(durable.has(d.outgoing[0].link.hash));
        return d.reply;
      })
    );
    const replies = await Promise.all(deliveries);
    assert.deepEqual(
      replies,
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ count: n })),
    );
    // Replies come out in order, and some call ran before the step before
    // it was synced: steps did not wait for each other's fsync.
    const order = log.filter((x) => x.startsWith("reply"));
    assert.deepEqual(order, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `reply ${n}`));
    const syncedAt = log.flatMap((x, i) => x === "synced" ? [i] : []);
    assert.ok(
      [2, 3, 4, 5, 6, 7, 8].some((k) =>
        log.indexOf(`call ${k}`) < syncedAt[k - 2]
      ),
      `no pipelining: ${log.join(", ")}`,
    );
    await r.stop("test over");
    await writer.close();
    const report = await verifyChain(path);
    assert.equal(report.ok, true, report.error?.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bare-value state given back unchanged records what a diff of the two would", async () => {
  // A null state: equal states of a bare value diff to a replacement.
  const still = fakeExecutor(() => ({
    calls: [],
    status: "ok",
    value: ["null", null],
  }));
  await withRecorder(still, async (recorder, path) => {
    for (let i = 0; i < 6; i++) {
      await recorder.deliver("x", { from: "external" });
    }
    // Replacing a bare value is never smaller than the value: each step
    // records it whole, as the diff of the two states says (an empty
    // patch here would be what replay, which diffs, does not compute).
    const done = [];
    for await (const e of readEvents(path)) {
      if (e.type.startsWith("handle.")) done.push([e.type, e.data]);
    }
    assert.deepEqual(
      done,
      Array(6).fill(["handle.ok", { reply: null, state: null }]),
    );
  });
});

Deno.test("a state given back unchanged is recorded as before, its hash reused, and reads back", async () => {
  // A guest whose state is large enough to be a patch, changed only by
  // "inc", given back as the very same text otherwise.
  const big = fakeExecutor((state, msg) => {
    const s = JSON.parse(state);
    const text = msg === '"inc"'
      ? JSON.stringify({ pad: "x".repeat(6000), count: (s.count ?? 0) + 1 })
      : state;
    return { calls: [], status: "ok", value: [text, null] };
  });
  await withRecorder(big, async (recorder, path) => {
    for (const msg of ["inc", "get", "get", "inc", "get", "get", "get"]) {
      await recorder.deliver(msg, { from: "external" });
    }
    const events = await Array.fromAsync(readEvents(path));
    for (const e of events) {
      // Each state read back is checked against its recorded hash.
      await stateAt(path, e.seq);
    }
    const done = events.filter((e) => e.type.startsWith("handle."));
    assert.deepEqual(
      done.map((e) => e.type === "handle.patch" ? e.data.patch : "full"),
      [
        "full",
        [],
        [],
        [{ op: "replace", path: "/count", value: 2 }],
        [],
        [],
        [],
      ],
    );
    assert.equal(
      (await stateAt(path, events.at(-1)!.seq) as { count: number }).count,
      2,
    );
  });
});

Deno.test("a state whose diff would reach through __proto__ is recorded whole, so every reader reads it back", async () => {
  // A hostile (or unlucky) guest keeps a member named __proto__: a patch
  // to it is one that every reader refuses, so the recorder writes the
  // state in full instead, and the chain verifies and reads back.
  const proto = fakeExecutor((state, msg) => {
    const s = JSON.parse(state);
    const n = (s.n ?? 0) + 1;
    const text = msg === '"proto"'
      ? `{"__proto__":{"n":${n}},"n":${n},"pad":"${"x".repeat(200)}"}`
      : JSON.stringify({ n, pad: "x".repeat(200) });
    return { calls: [], status: "ok", value: [text, null] };
  });
  await withRecorder(proto, async (recorder, path) => {
    for (const msg of ["inc", "proto", "proto", "inc", "inc"]) {
      await recorder.deliver(msg, { from: "external" });
    }
    const events = await Array.fromAsync(readEvents(path));
    const done = events.filter((e) => e.type.startsWith("handle."));
    assert.deepEqual(done.map((e) => e.type), [
      "handle.ok",
      "handle.ok",
      "handle.ok",
      "handle.ok",
      "handle.patch",
    ]);
    const last = await stateAt(path, events.at(-1)!.seq) as { n: number };
    assert.equal(last.n, 5);
    const third = await stateAt(path, done[2].seq) as Record<string, unknown>;
    assert.equal(Object.hasOwn(third, "__proto__"), true);
  });
});
