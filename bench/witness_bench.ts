// Copyright the Theater authors. MIT license.
/**
 * A witness against local replay, printed when the file loads: the counter
 * handling 500 messages is published to NATS JetStream (a real nats-server
 * started here with JetStream on a free loopback port); then `witnessOnce`
 * (pull from the stream, verify, replay, sign, publish the cosignature)
 * is timed against `replayChain` of the same local chain, in the same run.
 * Skipped, saying so, when nats-server is not installed.
 *
 * @module
 */
import { join } from "node:path";
import { hasNats, NATS, natsServer } from "../tools/nats_server.ts";
import { generateKeys, parseSignerKey } from "../chain/mod.ts";
import { Cluster, witnessOnce } from "../cluster/mod.ts";
import { replayChain } from "../runtime/mod.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;
const MESSAGES = 500;
const ROUNDS = 5;

if (!hasNats) {
  console.log(`witness bench: skipped, no ${NATS}`);
} else {
  const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
  const server = await natsServer(join(dir, "js"));
  const url = server.url;
  const cluster = await Cluster.connect(url);
  try {
    const manifest = await loadManifest(join(COUNTER, "manifest.json"));
    const system = new ActorSystem({
      chainDir: join(dir, "local"),
      fsync: "none",
      replication: cluster.run("bench"),
    });
    await system.start(manifest);
    for (let i = 0; i < MESSAGES; i++) {
      await system.send("counter", i % 2 ? "inc" : "roll");
    }
    await system.shutdown("bench");
    const chain = join(dir, "local", "counter.jsonl");
    const key = await parseSignerKey((await generateKeys("bench")).privateKey);
    let replayMs = 0;
    let witnessMs = 0;
    let events = 0;
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now();
      const report = await replayChain(chain, { search: [COUNTER] });
      replayMs += performance.now() - t;
      events = report.events;
      t = performance.now();
      const findings = await witnessOnce(cluster, {
        key,
        dir: join(dir, "witness"),
        runs: ["bench"],
      });
      witnessMs += performance.now() - t;
      if (findings.some((f) => f.status !== "cosigned")) {
        throw new Error(JSON.stringify(findings));
      }
    }
    const per = (ms: number) => ms / ROUNDS;
    console.log(`witness bench (${events} events, ${ROUNDS} rounds):
  local replay:   ${per(replayMs).toFixed(1)} ms (${
      (events / per(replayMs) * 1000).toFixed(0)
    } events/s)
  witness round:  ${per(witnessMs).toFixed(1)} ms (${
      (events / per(witnessMs) * 1000).toFixed(0)
    } events/s): pull from JetStream, verify, replay, sign, publish
  witness / local replay: ${(witnessMs / replayMs).toFixed(2)}x`);
  } finally {
    await cluster.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
