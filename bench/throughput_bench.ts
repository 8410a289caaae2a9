// Copyright the Theater authors. MIT license.
/**
 * Throughput of recorded messages under each fsync policy, printed when the
 * file loads: 20,000 messages sent at once to 100 echo actors (200 each)
 * and to one actor, in one system with a pool of 2 no-permission workers.
 * The baseline is the same load under fsync `none`, measured in this run;
 * `batch` is group commit (a step's effects wait for the fsync that covers
 * it, while the actor's next step runs).
 *
 * @module
 */
import { join } from "node:path";
import type { FsyncPolicy } from "../chain/mod.ts";
import { WorkerPool } from "../runtime/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { ActorSystem, validateManifest } from "../supervisor/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
await buildTestComponent("echo", dir);

const MESSAGES = 20_000;

async function rate(
  fsync: FsyncPolicy,
  actors: number,
): Promise<number> {
  const pool = new WorkerPool({ size: 2 });
  const system = new ActorSystem({
    executor: pool,
    chainDir: join(dir, `${fsync}-${actors}-${crypto.randomUUID()}`),
  });
  try {
    const manifest = validateManifest({
      name: "echo",
      component: "./echo.wasm",
      chain: { fsync },
      limits: { mailbox: MESSAGES },
    }, { path: join(dir, "echo.json") });
    for (let i = 0; i < actors; i++) {
      await system.start(manifest, { id: `e${i}` });
    }
    const started = performance.now();
    const all = [];
    for (let n = 0; n < MESSAGES; n++) {
      all.push(system.send(`e${n % actors}`, n));
    }
    await Promise.all(all);
    return MESSAGES / ((performance.now() - started) / 1000);
  } finally {
    await system.shutdown("bench");
    pool.close();
  }
}

for (const actors of [100, 1]) {
  const none = await rate("none", actors);
  const batch = await rate("batch", actors);
  console.log(
    `${MESSAGES} messages to ${actors} actor(s): fsync none ${
      none.toFixed(0)
    } msgs/s (baseline), batch ${batch.toFixed(0)} msgs/s = ${
      (batch / none).toFixed(2)
    }x of none`,
  );
}

Deno.bench("throughput figures are printed above", () => {});
