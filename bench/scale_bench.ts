// Copyright the Theater authors. MIT license.
/**
 * Scale, printed when the file loads: the cost of a recorded message to one
 * actor when it is alone and when 10,000 idle actors share the run (the
 * baseline is the first, in the same run), and the process RSS per idle
 * actor (read from /proc by a shell: Deno refuses /proc without
 * --allow-all).
 *
 * @module
 */
import { join } from "node:path";
import { WorkerPool } from "../runtime/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { ActorSystem, validateManifest } from "../supervisor/mod.ts";
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
await buildTestComponent("echo", dir);
const pool = new WorkerPool({ size: 2 });
const system = new ActorSystem({ executor: pool, chainDir: join(dir, "c") });
const m = validateManifest({
  name: "echo",
  component: "./echo.wasm",
  chain: { fsync: "none" },
  limits: { actors: 20000 },
}, { path: join(dir, "echo.json") });
await system.start(m, { id: "e0" });
const cost = async () => {
  // Both measurements start with the page cache written back: starting
  // 10,000 actors just wrote 10,000 files, and the kernel's writeback of
  // them would otherwise slow the second one's writes (that is the disk,
  // not the number of actors).
  new Deno.Command("sync").outputSync();
  for (let i = 0; i < 200; i++) await system.send("e0", i);
  // The median of 15 batches: a worker round trip here is bimodal (about
  // 15 or 50 µs, for seconds at a time), which a single mean mixes.
  const batches: number[] = [];
  for (let b = 0; b < 15; b++) {
    const t = performance.now();
    for (let i = 0; i < 200; i++) await system.send("e0", i);
    batches.push((performance.now() - t) / 200 * 1000);
  }
  return batches.sort((x, y) => x - y)[7];
};
const rss = () => {
  const o = new Deno.Command("sh", {
    args: ["-c", `grep VmRSS /proc/${Deno.pid}/status`],
  }).outputSync();
  return Number(new TextDecoder().decode(o.stdout).match(/(\d+)/)![1]);
};
const c1 = await cost();
gc();
const before = rss();
const N = 10000;
for (let k = 0; k < N; k += 500) {
  await Promise.all(
    Array.from({ length: 500 }, (_, i) => system.start(m, { id: `x${k + i}` })),
  );
}
gc();
const after = rss();
const c2 = await cost();
console.log(
  `message cost: 1 actor ${c1.toFixed(1)} µs, ${N + 1} actors ${
    c2.toFixed(1)
  } µs (${(c2 / c1).toFixed(2)}x); RSS per idle actor ${
    ((after - before) / N).toFixed(1)
  } KiB (process, host and 2 workers)`,
);
await system.shutdown("x");
pool.close();
Deno.removeSync(dir, { recursive: true });

Deno.bench("scale figures are printed above", () => {});
