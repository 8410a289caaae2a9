// Copyright the Theater authors. MIT license.
/**
 * What a spinning actor costs the others, in wall-clock time: the figures
 * the fairness tests used to assert (supervisor/system_test.ts, "under 50
 * ms each"; runtime/executor_test.ts, a spinning actor does not delay
 * another), which are now orderings there. Measured in one run, each
 * against a baseline of the same calls with nothing spinning:
 *
 * - worker pool (3 workers): 100 echo calls, one after another, while a
 *   looping actor runs to its 200 ms limit on every call;
 * - actor system (pool of 2): 100 messages to a sibling while another
 *   child of the same supervisor spins to its 300 ms limit on every
 *   message (and is restarted each time).
 *
 * Printed when the file loads (median and slowest call, and the ratio of
 * each to its baseline); `deno bench` then times one echo call each way.
 *
 * @module
 */
import { join } from "node:path";
import { compileCores, loadComponent, WorkerPool } from "../runtime/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "theater_fairness_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
for (const kind of ["supervisor", "echo", "loop"] as const) {
  await buildTestComponent(kind, dir);
}

/** Median and slowest of a list of times, in ms. */
function spread(times: number[]): { median: number; slowest: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    median: sorted[sorted.length >> 1],
    slowest: sorted[sorted.length - 1],
  };
}

function report(what: string, alone: number[], spinning: number[]): void {
  const a = spread(alone);
  const s = spread(spinning);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(
    `${what}: median ${ms(s.median)} (alone ${ms(a.median)}, ${
      (s.median / a.median).toFixed(1)
    }x), slowest ${ms(s.slowest)} (alone ${ms(a.slowest)}, ${
      (s.slowest / a.slowest).toFixed(1)
    }x)`,
  );
}

/** Times `n` calls of `call`, one after another, a few ms apart. */
async function timeCalls(
  n: number,
  call: (i: number) => Promise<unknown>,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call(i);
    times.push(performance.now() - t0);
    // Spread the calls over several of the spinner's time-outs.
    await new Promise((r) => setTimeout(r, 5));
  }
  return times;
}

async function register(
  pool: WorkerPool,
  actor: string,
  kind: "echo" | "loop",
  timeoutMs: number,
): Promise<void> {
  const c = await loadComponent(join(dir, `${kind}.wasm`));
  pool.register(actor, {
    component: {
      key: `${c.sha256}:16`,
      bindings: c.bindings,
      modules: compileCores(c, { memoryMb: 16 }),
    },
    timeoutMs,
    context: () => ({ children: [] }),
  });
}

/** Keeps `actor` spinning to its limit until the returned stop is called. */
function spin(send: () => Promise<unknown>): () => Promise<void> {
  let spinning = true;
  const loop = (async () => {
    while (spinning) await send().catch(() => {});
  })();
  return async () => {
    spinning = false;
    await loop;
  };
}

// The worker pool.
const pool = new WorkerPool({ size: 3 });
await register(pool, "echo", "echo", 2000);
await register(pool, "spinner", "loop", 200);
const echo = (i: number) =>
  pool.call("echo", { fn: "handle", args: ["{}", String(i)] });
await pool.call("echo", { fn: "init", args: ["{}"] });
const poolAlone = await timeCalls(100, echo);
const stopPool = spin(() =>
  pool.call("spinner", { fn: "handle", args: ["{}", "1"] })
);
// The spinner has been cut off once and the pool has the workers it needs.
await new Promise((r) => setTimeout(r, 500));
const poolSpinning = await timeCalls(100, echo);
await stopPool();
report("worker pool, echo call", poolAlone, poolSpinning);

// The actor system.
{
  const write = (name: string, body: Record<string, unknown>) =>
    Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(body));
  await write("a", { name: "a", component: "./echo.wasm" });
  await write("bad", {
    name: "bad",
    component: "./loop.wasm",
    limits: { handle_timeout_ms: 300 },
  });
  await write("sup", {
    name: "sup",
    component: "./supervisor.wasm",
    chain: { fsync: "none" },
    supervision: { max_restarts: 1000, period_ms: 60_000 },
    children: [{ manifest: "./a.json" }, { manifest: "./bad.json" }],
  });
  const systemPool = new WorkerPool({ size: 2 });
  const system = new ActorSystem({ executor: systemPool });
  await system.start(await loadManifest(join(dir, "sup.json")));
  const sibling = (i: number) => system.send("sup.a", i);
  const alone = await timeCalls(100, sibling);
  const stop = spin(() => system.send("sup.bad", 1));
  await new Promise((r) => setTimeout(r, 700));
  const spinning = await timeCalls(100, sibling);
  await stop();
  report("actor system, sibling message", alone, spinning);
  await system.shutdown("bench over");
  systemPool.close();
}

Deno.bench("echo call, pool otherwise idle", {
  group: "fairness",
  baseline: true,
}, async () => {
  await echo(0);
});

let stopBench: (() => Promise<void>) | null = null;
Deno.bench("echo call while another actor spins to its limit", {
  group: "fairness",
}, async (b) => {
  stopBench ??= spin(() =>
    pool.call("spinner", { fn: "handle", args: ["{}", "1"] })
  );
  b.start();
  await echo(1);
  b.end();
});
globalThis.addEventListener("unload", () => {
  void stopBench?.();
  pool.close();
});
