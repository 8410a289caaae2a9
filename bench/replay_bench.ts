// Copyright the Theater authors. MIT license.
/**
 * Replay against live recording of the same run: the counter handling
 * messages (inc, roll, add, get) recorded live, then replayed. Both use the
 * no-permission worker pool and fsync `none`, and each iteration starts its
 * worker. Two sizes: 200 messages (about 700 events), where starting the
 * worker weighs most, and 4,000 (about 13,000 events, the size the issue
 * measured).
 *
 * @module
 */
import { join } from "node:path";
import { replayChain } from "../runtime/mod.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;
const manifest = await loadManifest(join(COUNTER, "manifest.json"));
const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

let run = 0;
async function live(count: number): Promise<string> {
  const chainDir = join(dir, `run${run++}`);
  const system = new ActorSystem({ chainDir, fsync: "none" });
  await system.start(manifest);
  for (let i = 0; i < count; i++) {
    await system.send(
      "counter",
      ["inc", "roll", { op: "add", n: i }, "get"][i % 4],
    );
  }
  await system.shutdown("bench");
  return join(chainDir, "counter.jsonl");
}

for (const count of [200, 4_000]) {
  const recorded = await live(count);
  const check = await replayChain(recorded, { search: [COUNTER] });
  console.log(`replay check: ${check.events} events, ok ${check.ok}`);
  const group = `${count} messages`;
  const n = count > 1000 ? { n: 20, warmup: 3 } : {};
  Deno.bench(`live: record ${count} messages`, {
    group,
    baseline: true,
    ...n,
  }, async () => {
    await live(count);
  });
  Deno.bench(`replay the same ${count} messages`, { group, ...n }, async () => {
    const report = await replayChain(recorded, { search: [COUNTER] });
    if (!report.ok) throw new Error(report.divergence?.detail);
  });
}
