// Copyright the Theater authors. MIT license.
// Timers, request time-outs and restart windows of the actor system, on a
// virtual clock: each test says exactly when time passes, so orders and
// counts are the code's, whatever the machine is doing. What only a real
// process shows (the CLI, kill -9) is in tests/timers_test.ts.
import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { type ChainEvent, readEvents, verifyDir } from "../chain/mod.ts";
import { replayChain, VirtualClock, WorkerPool } from "../runtime/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { loadManifest } from "./manifest.ts";
import { ActorSystem } from "./system.ts";
import { buildTimerActor } from "./testdata/timer_actor.ts";

/** When every run of these tests begins, on the wall clock. */
const T0 = Date.UTC(2030, 0, 1);

async function events(chains: string, actor: string): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for await (const e of readEvents(join(chains, `${actor}.jsonl`))) {
    out.push(e);
  }
  return out;
}

/** The messages an actor took from timers, in chain order: `[msg, id]`. */
async function fired(chains: string, actor = "clock"): Promise<string[][]> {
  return (await events(chains, actor))
    .filter((e) =>
      e.type === "message.in" && String(e.data.from).startsWith("timer:")
    )
    .map((e) => [String(e.data.msg), String(e.data.from).slice(6)]);
}

/** The names of the timers an actor took messages from, in order. */
async function names(chains: string): Promise<string[]> {
  return (await fired(chains)).map(([msg]) => msg);
}

/** A folder with the timer actor `clock` (child `clock.b`, an echo). */
async function project(
  limits: Record<string, number> = {},
): Promise<{ dir: string; manifest: string }> {
  const dir = await Deno.makeTempDir({ prefix: "theater_timers_" });
  await buildTimerActor(dir);
  await buildTestComponent("echo", dir);
  const write = (name: string, body: Record<string, unknown>) =>
    Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(body));
  await write("b", { name: "b", component: "./echo.wasm" });
  await write("clock", {
    name: "clock",
    component: "./timer.wasm",
    chain: { fsync: "none" },
    limits,
    children: [{ manifest: "./b.json" }],
  });
  return { dir, manifest: join(dir, "clock.json") };
}

interface Run {
  system: ActorSystem;
  clock: VirtualClock;
  warnings: string[];
  /** Sends a message to `clock` and returns its reply's ids. */
  command: (text: string) => Promise<string[]>;
  /** Moves the clock, then waits for what the firings set off. */
  advance: (ms: number) => Promise<void>;
}

/** Starts `clock` on a virtual clock standing at `now`. */
async function startRun(
  manifest: string,
  options: { now: number; pool: WorkerPool; chainDir?: string },
): Promise<Run> {
  const clock = new VirtualClock({ now: options.now });
  const warnings: string[] = [];
  const system = new ActorSystem({
    executor: options.pool,
    clock,
    chainDir: options.chainDir,
    onWarning: (w) => warnings.push(w),
  });
  const init = await system.start(await loadManifest(manifest));
  assert.equal(init.ok, true, init.error);
  return {
    system,
    clock,
    warnings,
    command: async (text) => {
      const d = await system.send("clock", text);
      assert.equal(d.ok, true, d.error);
      await system.idle();
      return d.reply === null ? [] : String(d.reply).split(" ");
    },
    advance: async (ms) => {
      clock.advance(ms);
      await system.idle();
    },
  };
}

async function withRun(
  fn: (run: Run, chains: string) => Promise<void>,
  limits: Record<string, number> = {},
): Promise<void> {
  const { dir, manifest } = await project(limits);
  const pool = new WorkerPool({ size: 2 });
  try {
    const run = await startRun(manifest, { now: T0, pool });
    try {
      await fn(run, join(dir, "chains"));
    } finally {
      await run.system.shutdown("test over");
    }
    const report = await verifyDir(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("timers: after and every fire in time order, each from timer:<id>, and a cancel stops one", async () => {
  await withRun(async (run, chains) => {
    const [two, one, tick] = await run.command(
      "A0350two A0150one E0100tick",
    );
    await run.advance(99);
    assert.deepEqual(await names(chains), []);
    await run.advance(1);
    assert.deepEqual(await names(chains), ["tick"]);
    await run.advance(50);
    await run.advance(50);
    assert.deepEqual(await names(chains), ["tick", "one", "tick"]);
    await run.command(`C${tick}`);
    await run.advance(10_000);
    assert.deepEqual(await fired(chains), [
      ["tick", tick],
      ["one", one],
      ["tick", tick],
      ["two", two],
    ]);
    // Timestamps come from the run's clock.
    const list = await events(chains, "clock");
    assert.equal(list[0].ts, T0);
    assert.equal(list.at(-1)!.ts, T0 + 10_200);
  });
});

Deno.test("timers: one advance past many due times fires them all in time order", async () => {
  await withRun(async (run, chains) => {
    await run.command("A0350two A0150one E0100tick");
    await run.advance(1000);
    const ticks = (n: number) => Array(n).fill("tick");
    assert.deepEqual(await names(chains), [
      "tick", // 100
      "one", // 150
      ...ticks(2), // 200, 300
      "two", // 350
      ...ticks(7), // 400 … 1000
    ]);
    const replayed = await replayChain(join(chains, "clock.jsonl"), {
      search: [join(chains, "..")],
    });
    assert.equal(replayed.ok, true, replayed.divergence?.detail);
  });
});

Deno.test("timers: past limits.timers pending, setting one fails the handler, which sets none", async () => {
  await withRun(async (run, chains) => {
    const d = await run.system.send("clock", "A0350two A0150one");
    assert.equal(d.ok, false);
    assert.match(
      d.error!,
      /quota exceeded: more than 1 pending timers \(limits\.timers\)/,
    );
    await run.system.idle();
    assert.equal(run.clock.pending, 0);
    await run.advance(10_000);
    assert.deepEqual(await names(chains), []);
  }, { timers: 1 });
});

Deno.test("timers: 100 every-10-ms timers into a mailbox of 20: each drop is said once per timer", async () => {
  await withRun(async (run, chains) => {
    const ids = await run.command(Array(100).fill("E0010t").join(" "));
    assert.equal(ids.length, 100);
    // No turn of the event loop between firings: the first 20 fill the
    // mailbox, the other 80 are refused; next time round, all 100 are.
    for (let i = 0; i < 5; i++) run.clock.advance(10);
    await run.system.idle();
    const dropped = run.warnings.map((w) =>
      w.match(/^timer (t-[0-9a-f]+) of clock not delivered: .*mailbox/)?.[1]
    ).filter((id) => id !== undefined);
    assert.equal(dropped.length, 100, run.warnings.slice(0, 3).join("\n"));
    assert.deepEqual(new Set(dropped), new Set(ids));
    assert.equal((await fired(chains)).length, 20);
    // Draining and refilling says nothing more.
    for (let i = 0; i < 5; i++) await run.advance(10);
    assert.equal(run.warnings.length, 100);
  }, { mailbox: 20, timers: 100 });
});

Deno.test("requests: no response within timeout-ms is an error response from request:<id>; the late reply is dropped", async () => {
  await withRun(async (run, chains) => {
    const d = await run.system.send("clock", "R0100clock.b");
    const [id] = String(d.reply).split(" ");
    // The request waits from its commit, which has happened; the callee's
    // reply cannot have come yet (it needs its worker): time runs out first.
    run.clock.advance(100);
    await run.system.idle();
    const took = (await events(chains, "clock"))
      .filter((e) => e.type === "message.in" && e.data.from !== "external");
    assert.deepEqual(took.map((e) => [e.data.from, e.data.msg]), [
      [`request:${id}`, { response: { id, error: "no response in 100 ms" } }],
    ]);
    assert.ok(
      run.warnings.includes(
        `late response of clock.b to request ${id} dropped`,
      ),
      run.warnings.join("\n"),
    );
  });
});

Deno.test("requests: a response that comes before timeout-ms is delivered, and no time-out follows", async () => {
  await withRun(async (run, chains) => {
    const [id] = await run.command("R0100clock.b");
    await run.advance(99);
    await run.advance(10_000);
    const took = (await events(chains, "clock"))
      .filter((e) => e.type === "message.in" && e.data.from !== "external");
    assert.deepEqual(took.map((e) => [e.data.from, e.data.msg]), [
      ["clock.b", { response: { id, from: "clock.b", reply: null } }],
    ]);
    assert.deepEqual(run.warnings, []);
  });
});

Deno.test("timers: pending at the end of a run, an after fires in the resumed run when it was due, an every goes on from the resume", async () => {
  const { dir, manifest } = await project();
  const chains = join(dir, "chains");
  const pool = new WorkerPool({ size: 2 });
  try {
    const first = await startRun(manifest, { now: T0, pool });
    const [late, tick] = await first.command("A1200late E0100tick");
    await first.advance(250);
    assert.deepEqual(await names(chains), ["tick", "tick"]);
    await first.system.shutdown("end of input");
    // The next run begins 500 ms after the timers were set: "late" has
    // 700 ms to go; "tick" starts again, every 100 ms from the resume.
    const second = await startRun(manifest, { now: T0 + 500, pool });
    try {
      await second.advance(699);
      assert.deepEqual(await names(chains), Array(2 + 6).fill("tick"));
      // Both due at 700: "late" was set first.
      await second.advance(1);
      assert.deepEqual((await fired(chains)).slice(-3), [
        ["tick", tick],
        ["late", late],
        ["tick", tick],
      ]);
    } finally {
      await second.system.shutdown("test over");
    }
    // A run that begins after a timer was due fires it at once.
    const third = await startRun(manifest, { now: T0 + 60_000, pool });
    const [soon] = await third.command(`C${tick} A0010soon`);
    await third.system.shutdown("end of input");
    const fourth = await startRun(manifest, { now: T0 + 120_000, pool });
    try {
      assert.equal(fourth.clock.pending, 1);
      await fourth.advance(0);
      assert.deepEqual((await fired(chains)).at(-1), ["soon", soon]);
      assert.equal(fourth.clock.pending, 0);
    } finally {
      await fourth.system.shutdown("test over");
    }
    const report = await verifyDir(chains);
    assert.equal(report.ok, true, report.error?.message);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timers: a timer pending when the run dies (no actor.stop) fires in the next run", async () => {
  const { dir, manifest } = await project();
  const copy = await Deno.makeTempDir({ prefix: "theater_killed_" });
  const pool = new WorkerPool({ size: 2 });
  try {
    const first = await startRun(manifest, { now: T0, pool });
    const [late] = await first.command("A1200late");
    // What a kill -9 leaves: the run directory as it is on disk now, with
    // the timer set and no actor.stop.
    cpSync(join(dir, "chains"), copy, { recursive: true });
    await first.system.shutdown("test over");
    const list = await events(copy, "clock");
    assert.notEqual(list.at(-1)?.type, "actor.stop");
    const second = await startRun(manifest, {
      now: T0 + 1000,
      pool,
      chainDir: copy,
    });
    try {
      await second.advance(199);
      assert.deepEqual(await fired(copy), []);
      await second.advance(1);
      assert.deepEqual(await fired(copy), [["late", late]]);
    } finally {
      await second.system.shutdown("test over");
    }
    const report = await verifyDir(copy);
    assert.equal(report.ok, true, report.error?.message);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(copy, { recursive: true });
  }
});

/**
 * Crashes `sup.bad` (a trap) at each of `at` (ms on the run's clock),
 * under `sup` with intensity 2 restarts in 1000 ms; returns what the run
 * said was fatal and how often `sup.bad` started.
 */
async function crashAt(
  at: number[],
): Promise<{ fatal: string[]; starts: number }> {
  const dir = await Deno.makeTempDir({ prefix: "theater_window_" });
  const pool = new WorkerPool({ size: 2 });
  try {
    for (const kind of ["supervisor", "echo", "trap"] as const) {
      await buildTestComponent(kind, dir);
    }
    const write = (name: string, body: Record<string, unknown>) =>
      Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(body));
    await write("a", { name: "a", component: "./echo.wasm" });
    await write("bad", { name: "bad", component: "./trap.wasm" });
    await write("sup", {
      name: "sup",
      component: "./supervisor.wasm",
      chain: { fsync: "none" },
      supervision: { max_restarts: 2, period_ms: 1000 },
      children: [{ manifest: "./a.json" }, { manifest: "./bad.json" }],
    });
    const clock = new VirtualClock({ now: T0 });
    const fatal: string[] = [];
    const system = new ActorSystem({
      executor: pool,
      clock,
      onFatal: (m) => fatal.push(m),
    });
    try {
      const init = await system.start(
        await loadManifest(join(dir, "sup.json")),
      );
      assert.equal(init.ok, true, init.error);
      for (const t of at) {
        clock.advance(t - clock.monotonic());
        if (!system.children("sup").includes("sup.bad")) break;
        const d = await system.send("sup.bad", "go");
        assert.equal(d.crashed, true);
        await system.idle();
      }
    } finally {
      await system.shutdown("test over");
    }
    const bad = await events(join(dir, "chains"), "sup.bad");
    return {
      fatal,
      starts: bad.filter((e) => e.type === "actor.start").length,
    };
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("restart window: 2 restarts in 1000 ms are allowed however long the run goes on; a third within the window gives up", async () => {
  const spread = await crashAt([0, 600, 1200, 1800, 2400]);
  assert.deepEqual(spread.fatal, []);
  assert.equal(spread.starts, 1 + 5, "started, then restarted five times");
  const burst = await crashAt([0, 600, 1200, 1800, 1800]);
  assert.equal(burst.fatal.length, 1);
  assert.match(
    burst.fatal[0],
    /sup gave up on sup\.bad: more than 2 restarts in 1000 ms/,
  );
  assert.equal(burst.starts, 1 + 4, "no restart after the one too many");
});

Deno.test("restart window: a restart exactly period_ms after another still counts; one ms later it does not", async () => {
  const edge = await crashAt([0, 500, 1000]);
  assert.equal(edge.fatal.length, 1, "1000 ms after the first: inside");
  assert.equal(edge.starts, 1 + 2);
  const past = await crashAt([0, 500, 1001]);
  assert.deepEqual(past.fatal, [], "1001 ms after the first: outside");
  assert.equal(past.starts, 1 + 3);
});

Deno.test("clock: the same input on the same virtual clock writes the same chain bytes, every timestamp from that clock", async () => {
  const chains: Uint8Array[][] = [];
  for (let round = 0; round < 2; round++) {
    const { dir, manifest } = await project();
    const pool = new WorkerPool({ size: 2 });
    try {
      const run = await startRun(manifest, { now: T0, pool });
      await run.command("x");
      await run.advance(1234);
      await run.command("y");
      await run.system.shutdown("end of input");
      const ts = [
        ...await events(join(dir, "chains"), "clock"),
        ...await events(join(dir, "chains"), "clock.b"),
      ].map((e) => e.ts);
      assert.deepEqual([...new Set(ts)].sort(), [T0, T0 + 1234]);
      chains.push(
        await Promise.all(
          ["clock", "clock.b"].map((a) =>
            Deno.readFile(join(dir, "chains", `${a}.jsonl`))
          ),
        ),
      );
    } finally {
      pool.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
  assert.deepEqual(chains[0], chains[1]);
});
