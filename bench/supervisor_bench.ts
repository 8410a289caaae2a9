// Copyright the Theater authors. MIT license.
/**
 * Supervision benchmarks, in one run: spawn rate and memory per idle actor
 * for 1,000 actors (printed when the file loads), then a cross-actor
 * message (relay -> echo, both recorded) against a bare Worker postMessage
 * round trip.
 *
 * @module
 */
import { join } from "node:path";
import { WorkerPool } from "../runtime/mod.ts";
import { benchBareRoundTrip } from "./_baseline.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { ActorSystem, validateManifest } from "../supervisor/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
await buildTestComponent("echo", dir);
await buildTestComponent("relay", dir);
const manifest = (name: string, component: string) =>
  validateManifest({
    name,
    component,
    chain: { fsync: "none" },
    limits: { actors: 10_000 },
  }, {
    path: join(dir, `${name}.json`),
  });

// 1,000 actors in one system: spawn rate and memory per idle actor; then
// 2,000 more started together, against the floor the file system sets:
// creating as many empty files in a fresh directory beside the chains
// (THEATER_BENCH_CHAINS puts them on another file system, tmpfs say).
{
  const chains = Deno.env.get("THEATER_BENCH_CHAINS") ?? dir;
  const pool = new WorkerPool({ size: 2 });
  const system = new ActorSystem({
    executor: pool,
    chainDir: join(chains, "many"),
  });
  const echo = manifest("echo", "./echo.wasm");
  await system.start(echo, { id: "warm" });
  // With --v8-flags=--expose-gc (the bench task), collect first so the RSS
  // difference is the actors, not garbage from before.
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  gc();
  const before = Deno.memoryUsage();
  const started = performance.now();
  for (let i = 0; i < 1000; i++) await system.start(echo, { id: `e${i}` });
  const seconds = (performance.now() - started) / 1000;
  gc();
  const after = Deno.memoryUsage();
  console.log(
    `spawn: 1,000 actors one after another in ${seconds.toFixed(2)} s = ${
      (1000 / seconds).toFixed(0)
    } actors/s; per idle actor: ${
      ((after.rss - before.rss) / 1000 / 1024).toFixed(1)
    } KiB process RSS (host and 2 workers; noisy), ${
      ((after.heapUsed - before.heapUsed) / 1000 / 1024).toFixed(1)
    } KiB host heap`,
  );
  const floorDir = join(chains, "floor");
  Deno.mkdirSync(floorDir);
  let at = performance.now();
  for (let i = 0; i < 2000; i++) {
    Deno.openSync(join(floorDir, `f${i}.jsonl`), { create: true, append: true })
      .close();
  }
  const floor = 2000 / ((performance.now() - at) / 1000);
  at = performance.now();
  await Promise.all(
    Array.from({ length: 2000 }, (_, i) => system.start(echo, { id: `t${i}` })),
  );
  const together = 2000 / ((performance.now() - at) / 1000);
  console.log(
    `spawn: 2,000 actors started together: ${
      together.toFixed(0)
    } actors/s; creating 2,000 empty files there: ${
      floor.toFixed(0)
    } files/s; spawn / file creation = ${(together / floor).toFixed(2)}x`,
  );
  await system.shutdown("bench");
  pool.close();
}

const pool = new WorkerPool({ size: 2 });
const system = new ActorSystem({ executor: pool, chainDir: join(dir, "rt") });
await system.start(manifest("echo", "./echo.wasm"));
await system.start(manifest("relay", "./relay.wasm"));
globalThis.addEventListener("unload", () => pool.close());

Deno.bench("cross-actor message: relay -> echo, recorded", {
  group: "round trip",
}, async () => {
  await system.send("relay", "echo");
  await system.idle();
});

benchBareRoundTrip("round trip");
