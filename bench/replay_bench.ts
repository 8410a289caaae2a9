// Copyright the Theater authors. MIT license.
/**
 * Replay against live recording of the same run: the counter handling 200
 * messages (inc, roll, add, get) recorded live, then replayed. Both use the
 * no-permission worker pool and fsync `none`; the figure is per run of 200
 * messages (about 700 events).
 *
 * @module
 */
import { join } from "node:path";
import { replayChain } from "../runtime/mod.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;
const MESSAGES = Array.from(
  { length: 200 },
  (_, i) => ["inc", "roll", { op: "add", n: i }, "get"][i % 4],
);
const manifest = await loadManifest(join(COUNTER, "manifest.json"));
const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

let run = 0;
async function live(): Promise<string> {
  const chainDir = join(dir, `run${run++}`);
  const system = new ActorSystem({ chainDir, fsync: "none" });
  await system.start(manifest);
  for (const msg of MESSAGES) await system.send("counter", msg);
  await system.shutdown("bench");
  return join(chainDir, "counter.jsonl");
}

const recorded = await live();
const check = await replayChain(recorded, { search: [COUNTER] });
console.log(`replay check: ${check.events} events, ok ${check.ok}`);

Deno.bench("live: record 200 messages", {
  group: "run",
  baseline: true,
}, async () => {
  await live();
});

Deno.bench("replay the same 200 messages", { group: "run" }, async () => {
  const report = await replayChain(recorded, { search: [COUNTER] });
  if (!report.ok) throw new Error(report.divergence?.detail);
});
