// Copyright the Theater authors. MIT license.
// Replay of calls that timed out live: the time-out is taken from the
// record, as host call results are, and the guest is not let run past what
// the record shows (docs/replay.md).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ChainEvent,
  eventLine,
  hostCallsOf,
  readEvents,
  sealEvent,
  verifyChain,
} from "../chain/mod.ts";
import { loadManifest } from "../supervisor/manifest.ts";
import { ActorSystem } from "../supervisor/system.ts";
import { buildWatComponent } from "./build_wat.ts";
import { type ActorSlot, type BatchCall, WorkerPool } from "./executor.ts";
import type { GuestFunction, GuestOutcome } from "./recorder.ts";
import { replayChain } from "./replay.ts";
import { withTempDir } from "../tests/_helpers.ts";

const ACTOR = "theater:actor/actor@0.1.0";
const SUPERVISED = "theater:actor/supervised@0.1.0";
/** What the host writes for a call it ended at its deadline. */
const TIMED_OUT = "trap: timed out after 1000 ms";

// The handler dispatches on the message's first letter (a JSON string):
// "e…" returns err "trap: timed out after 1000 ms", "b…" err "timed out
// after 1000 ms", "c…" makes the message the state, "k…" spawns
// ./kid.json; any other logs "a", then "f…" spins for ever, "s…" counts to
// 50,000,000 (it finishes, given the time), and it logs "b" and replies
// with the message. init logs "i"; on-child-event logs "c" and keeps the
// event as the state.
const WAT = `(module
  (import "theater:actor/runtime@0.1.0" "log" (func $log (param i32 i32)))
  (import "theater:actor/supervisor@0.1.0" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{}")
  (data (i32.const 24) "a")
  (data (i32.const 28) "b")
  (data (i32.const 32) "i")
  (data (i32.const 36) "c")
  (data (i32.const 40) "./kid.json")
  (data (i32.const 64) "${TIMED_OUT}")
  (data (i32.const 96) "timed out after 1000 ms")
  (func $realloc (export "cabi_realloc")
    (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8))))
    (local.get $p))
  (func $ok (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.store8 (i32.const 268) (i32.const 0))
    (i32.const 256))
  (func $reply (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.store8 (i32.const 268) (i32.const 1))
    (i32.store (i32.const 272) (local.get 2))
    (i32.store (i32.const 276) (local.get 3))
    (i32.const 256))
  (func $err (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 1))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.const 256))
  (func (export "cabi_post_${ACTOR}#init") (param i32)
    (global.set $heap (i32.const 4096)))
  (func (export "cabi_post_${ACTOR}#handle") (param i32)
    (global.set $heap (i32.const 4096)))
  (func (export "cabi_post_${SUPERVISED}#on-child-event") (param i32)
    (global.set $heap (i32.const 4096)))
  (func (export "${ACTOR}#init") (param i32 i32) (result i32)
    (call $log (i32.const 32) (i32.const 1))
    (call $ok (i32.const 16) (i32.const 2)))
  (func (export "${SUPERVISED}#on-child-event")
    (param i32 i32 i32 i32) (result i32)
    (call $log (i32.const 36) (i32.const 1))
    (call $ok (local.get 2) (local.get 3)))
  (func (export "${ACTOR}#handle") (param i32 i32 i32 i32) (result i32)
    (local $c i32) (local $i i32)
    (local.set $c (i32.load8_u (i32.add (local.get 2) (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 101))
      (then (return (call $err (i32.const 64) (i32.const ${TIMED_OUT.length})))))
    (if (i32.eq (local.get $c) (i32.const 98))
      (then (return (call $err (i32.const 96) (i32.const 23)))))
    (if (i32.eq (local.get $c) (i32.const 99))
      (then (return (call $ok (local.get 2) (local.get 3)))))
    (if (i32.eq (local.get $c) (i32.const 107))
      (then
        (call $spawn (i32.const 40) (i32.const 10) (i32.const 0) (i32.const 0)
          (i32.const 0) (i32.const 512))
        (return (call $ok (local.get 0) (local.get 1)))))
    (call $log (i32.const 24) (i32.const 1))
    (if (i32.eq (local.get $c) (i32.const 102))
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $c) (i32.const 115))
      (then
        (loop $count
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $count (i32.lt_u (local.get $i) (i32.const 50000000))))))
    (call $log (i32.const 28) (i32.const 1))
    (call $reply (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
)`;

/** The same component with `from` replaced by `to` in its source. */
async function build(
  dir: string,
  name: string,
  change?: [string, string],
): Promise<string> {
  const path = join(dir, `${name}.wasm`);
  const source = change ? WAT.replace(change[0], change[1]) : WAT;
  assert.ok(!change || source !== WAT, `no ${change?.[0]} in the source`);
  await Deno.writeFile(
    path,
    await buildWatComponent(path, { source, world: "supervisor-world" }),
  );
  return path;
}

/** Which calls a {@linkcode CuttingPool} ends as timed out. */
interface Cut {
  actor: string;
  fn: GuestFunction;
  /** The message, as the guest gets it (for `handle`). */
  msg?: string;
  /** Host calls the call made before its time ran out. */
  keep: number;
}

/**
 * A pool for recording as a slow or paused machine does: the calls named
 * run as usual, and then end as the host ends a call at its deadline
 * after `keep` host calls (the instrumented deadline keeps the calls made
 * so far; the watchdog, which kills the worker, keeps none).
 */
class CuttingPool extends WorkerPool {
  #cuts: Cut[];
  constructor(cuts: Cut[]) {
    super({ size: 1 });
    this.#cuts = cuts;
  }

  #cut(actor: string, call: BatchCall, outcome: GuestOutcome): GuestOutcome {
    const cut = this.#cuts.find((c) =>
      c.actor === actor && c.fn === call.fn &&
      (c.msg === undefined || c.msg === call.args[1])
    );
    if (!cut) return outcome;
    assert.ok(outcome.calls.length >= cut.keep, "the call made fewer calls");
    return {
      calls: outcome.calls.slice(0, cut.keep),
      status: "trap",
      error: TIMED_OUT.slice("trap: ".length),
    };
  }

  override async callMany(
    actor: string,
    calls: BatchCall[],
  ): Promise<GuestOutcome[]> {
    const outcomes = await super.callMany(actor, calls);
    return outcomes.map((o, k) => this.#cut(actor, calls[k], o));
  }
}

/** Writes `t.json` (and `kid.json`) for the component in `dir`. */
async function manifests(dir: string, timeoutMs = 60_000): Promise<string> {
  const limits = { handle_timeout_ms: timeoutMs };
  await Deno.writeTextFile(
    join(dir, "t.json"),
    JSON.stringify({ name: "t", component: "./t.wasm", limits }),
  );
  await Deno.writeTextFile(
    join(dir, "kid.json"),
    JSON.stringify({ name: "kid", component: "./t.wasm" }),
  );
  return join(dir, "t.json");
}

/** Runs actor `t` with each message sent in turn; its chain's path. */
async function record(
  dir: string,
  messages: string[],
  options: { executor?: WorkerPool; timeoutMs?: number } = {},
): Promise<string> {
  const manifest = await manifests(dir, options.timeoutMs);
  const system = new ActorSystem({
    chainDir: join(dir, "chains"),
    fsync: "none",
    executor: options.executor,
  });
  try {
    await system.start(await loadManifest(manifest));
    for (const msg of messages) await system.send("t", msg).catch(() => {});
    await system.idle();
  } finally {
    await system.shutdown("test over");
    options.executor?.close();
  }
  return join(dir, "chains", "t.jsonl");
}

async function events(path: string): Promise<ChainEvent[]> {
  return await Array.fromAsync(readEvents(path));
}

/** The `handle.error`s of a chain, with the host calls of their steps. */
async function failures(
  path: string,
): Promise<{ phase: unknown; error: unknown; calls: string[] }[]> {
  const out = [];
  let calls: string[] = [];
  for (const e of await events(path)) {
    if (["message.in", "actor.start", "child.event"].includes(e.type)) {
      calls = [];
    }
    for (const c of hostCallsOf(e)) calls.push(`${c.function}(${c.args})`);
    if (e.type === "handle.error") {
      out.push({ phase: e.data.phase, error: e.data.error, calls });
    }
  }
  return out;
}

/** Events sealed again from `from` on, each to the one before. */
function reseal(list: ChainEvent[], from: number): string {
  const out = list.slice(0, from).map((e) => eventLine(e));
  let parent = from > 0 ? list[from - 1].hash : null;
  for (const { hash: _, ...e } of list.slice(from)) {
    const sealed = sealEvent({ ...e, parent });
    out.push(eventLine(sealed));
    parent = sealed.hash;
  }
  return out.join("\n") + "\n";
}

async function assertReplaysToHead(
  chain: string,
  executor?: WorkerPool,
): Promise<void> {
  const report = await replayChain(chain, { cacheDir: false, executor });
  assert.equal(report.ok, true, report.divergence?.detail);
  const verified = await verifyChain(chain);
  assert.equal(report.head, verified.head);
  assert.equal(report.events, verified.events);
}

Deno.test("replay: a call that timed out live, spinning, replays to the same head", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    // The spin takes the whole (short) limit live, every time.
    const chain = await record(dir, ["x", "forever", "x"], {
      timeoutMs: 200,
    });
    assert.deepEqual(await failures(chain), [
      {
        phase: "handle",
        error: "trap: timed out after 200 ms",
        calls: ["log(a)"],
      },
    ]);
    // Replayed where calls get 5 s, the spin is not what ends it: the
    // record is.
    const pool = new (class extends WorkerPool {
      override register(actor: string, slot: ActorSlot): void {
        super.register(actor, { ...slot, timeoutMs: 5000 });
      }
    })({ size: 1 });
    try {
      await assertReplaysToHead(chain, pool);
    } finally {
      pool.close();
    }
  });
});

Deno.test("replay: a call that timed out live but finishes on an idle machine replays to the same head", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    // The slow machine: this one call got 20 ms, not the manifest's 60 s
    // (which replay uses), and counting to 50,000,000 takes far longer.
    const pool = new (class extends WorkerPool {
      override async callMany(actor: string, calls: BatchCall[]) {
        const slow = calls[0].args[1] === '"slow"';
        const slot = this.slot(actor)!;
        if (slow) this.register(actor, { ...slot, timeoutMs: 20 });
        try {
          return await super.callMany(actor, calls);
        } finally {
          if (slow) this.register(actor, slot);
        }
      }
    })({ size: 1 });
    const chain = await record(dir, ["x", "slow", "x"], {
      executor: pool,
    });
    const [failure, ...more] = await failures(chain);
    assert.deepEqual(more, []);
    assert.equal(failure.error, "trap: timed out after 20 ms");
    // Cut off before or after its first log, as the machine allowed; never
    // after the second, which comes after the count.
    assert.ok(failure.calls.length <= 1, JSON.stringify(failure));
    await assertReplaysToHead(chain);
  });
});

Deno.test("replay: a time-out after some, none or all of a call's host calls is reproduced, in init, handle and on-child-event", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const pool = new CuttingPool([
      { actor: "t", fn: "handle", msg: '"one"', keep: 1 },
      { actor: "t", fn: "handle", msg: '"none"', keep: 0 },
      { actor: "t", fn: "handle", msg: '"all"', keep: 2 },
      { actor: "t", fn: "on-child-event", keep: 1 },
    ]);
    const chain = await record(
      dir,
      ["x", "one", "none", "all", "kid", "x"],
      { executor: pool },
    );
    assert.deepEqual(await failures(chain), [
      { phase: "handle", error: TIMED_OUT, calls: ["log(a)"] },
      { phase: "handle", error: TIMED_OUT, calls: [] },
      { phase: "handle", error: TIMED_OUT, calls: ["log(a)", "log(b)"] },
      { phase: "on-child-event", error: TIMED_OUT, calls: ["log(c)"] },
    ]);
    await assertReplaysToHead(chain);
  });
  // An init that timed out: the actor does not start; its chain replays.
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const pool = new CuttingPool([{ actor: "t", fn: "init", keep: 0 }]);
    const chain = await record(dir, [], { executor: pool });
    assert.deepEqual(await failures(chain), [
      { phase: "init", error: TIMED_OUT, calls: [] },
    ]);
    await assertReplaysToHead(chain);
  });
});

Deno.test("replay: a time-out after host calls the component would not make is a divergence", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const pool = new CuttingPool([
      { actor: "t", fn: "handle", msg: '"one"', keep: 1 },
    ]);
    const chain = await record(dir, ["one", "x"], { executor: pool });
    // A new build that logs something else first.
    const changed = await build(dir, "changed", [
      '(data (i32.const 24) "a")',
      '(data (i32.const 24) "z")',
    ]);
    const report = await replayChain(chain, {
      component: changed,
      cacheDir: false,
    });
    assert.equal(report.ok, false);
    assert.match(
      report.divergence!.detail,
      /host call 1: expected log\("a"\), got log\("z"\)/,
    );
    // One that stops before the host call the record has.
    const early = await build(dir, "early", [
      "(call $log (i32.const 24) (i32.const 1))\n",
      "(if (i32.eq (local.get $c) (i32.const 111))\n" +
      "  (then (return (call $ok (local.get 0) (local.get 1)))))\n" +
      "(call $log (i32.const 24) (i32.const 1))\n",
    ]);
    const short = await replayChain(chain, {
      component: early,
      cacheDir: false,
    });
    assert.equal(short.ok, false);
    assert.match(short.divergence!.detail, /made 0 host calls.*has 1/);
  });
});

Deno.test("replay: a record forged to claim a time-out is taken as the host's, and must still re-seal to its bytes", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const chain = await record(dir, ["x", "change", "x"]);
    const list = await events(chain);
    // Where "x" logged a and b and replied, the record now says it timed
    // out after both: a crash changes no state, and this one changed none.
    const at = list.findIndex((e) => e.type === "handle.ok");
    const forged = structuredClone(list);
    forged[at] = {
      ...forged[at],
      type: "handle.error",
      data: { error: TIMED_OUT, phase: "handle" },
    };
    await Deno.writeTextFile(chain, reseal(forged, at));
    assert.equal((await verifyChain(chain)).ok, true);
    await assertReplaysToHead(chain);
    // The same claim with its phase or its text not as the host writes
    // them is a divergence at that event.
    for (
      const data of [
        { error: TIMED_OUT, phase: "init" },
        { error: `${TIMED_OUT}.`, phase: "handle" },
        { error: "trap: timed out after 1000 ms ", phase: "handle" },
      ]
    ) {
      const other = structuredClone(forged);
      other[at].data = data;
      await Deno.writeTextFile(chain, reseal(other, at));
      const report = await replayChain(chain, { cacheDir: false });
      assert.equal(report.ok, false, JSON.stringify(data));
      assert.equal(report.divergence!.seq, at, JSON.stringify(data));
    }
    // A time-out claimed where the state changed: the state stays, and
    // the next state the record has is not the one replay computes.
    const change = list.findIndex((e, k) =>
      k > at && (e.type === "handle.ok" || e.type === "handle.patch")
    );
    const dropped = structuredClone(list);
    dropped[change] = {
      ...dropped[change],
      type: "handle.error",
      data: { error: TIMED_OUT, phase: "handle" },
    };
    // The message.out of the reply goes with the state.
    await Deno.writeTextFile(chain, reseal(dropped, change));
    const report = await replayChain(chain, { cacheDir: false });
    assert.equal(report.ok, false);
    assert.ok(report.divergence!.seq > change, report.divergence!.detail);
  });
});

Deno.test("replay: a guest's own err that reads like a time-out is not taken as one", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const chain = await record(dir, ["err", "bare", "x"]);
    const errors = (await failures(chain)).map((f) => f.error);
    // Never written as the host writes a time-out.
    assert.deepEqual(errors, [`err: ${TIMED_OUT}`, "timed out after 1000 ms"]);
    await assertReplaysToHead(chain);
    // A build whose handler returns where the first build's returned
    // these errs diverges at each of them: nothing was taken as a time-out.
    for (const letter of ["101", "98"]) {
      const path = await build(dir, `ok-${letter}`, [
        `(if (i32.eq (local.get $c) (i32.const ${letter}))`,
        `(if (i32.eq (local.get $c) (i32.const 0))`,
      ]);
      const report = await replayChain(chain, {
        component: path,
        cacheDir: false,
      });
      assert.equal(report.ok, false, letter);
      assert.equal(
        report.divergence!.input?.data.msg,
        letter === "101" ? "err" : "bare",
      );
    }
  });
});

Deno.test("replay: a call that finished live gets ten times its recorded limit, so a slower replaying machine does not time it out", async () => {
  await withTempDir(async (dir) => {
    await build(dir, "t");
    const chain = await record(dir, ["x", "x"], { timeoutMs: 5000 });
    assert.deepEqual(await failures(chain), []);
    const limits: number[] = [];
    const pool = new (class extends WorkerPool {
      override register(actor: string, slot: ActorSlot): void {
        limits.push(slot.timeoutMs);
        super.register(actor, slot);
      }
    })({ size: 1 });
    try {
      await assertReplaysToHead(chain, pool);
    } finally {
      pool.close();
    }
    assert.deepEqual(limits, [50_000]);
  });
});
