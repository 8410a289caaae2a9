// Copyright the Theater authors. MIT license.
/**
 * Cross-node messages against a raw NATS request/reply round trip,
 * printed when the file loads. A real nats-server with JetStream is
 * started on a free loopback port; two nodes (`ClusterNode` "a" and "b",
 * each with its own connection and run folder) serve one run in this
 * process: actor ping on a asks actor pong on b, and the time until the
 * response is recorded in ping's chain is one round trip: ping's step,
 * the request over NATS, pong's step, the response over NATS, ping's
 * message.in, each step in the stream before it counts (chains with fsync
 * none). The same request between two actors on one node, and a bare
 * NATS request/reply between two connections, are measured in the same
 * run. Skipped, saying so, when nats-server is not installed.
 *
 * @module
 */
import { join } from "node:path";
import { hasNats, NATS, natsServer } from "../tools/nats_server.ts";
import { connect } from "@nats-io/transport-node";
import { Cluster, ClusterNode } from "../cluster/mod.ts";
import { Runs } from "../server/mod.ts";
import { benchActor } from "./_actor.ts";

const ROUNDS = 300;

const ACTOR = `import { defineActor } from "./theater_sdk.ts";

type Msg = "inc" | { op: "ask"; to: string } | { response: unknown };

export default defineActor<number, Msg, unknown>({
  init: () => 0,
  handle(state, msg, host) {
    if (msg === "inc") return { state: state + 1, reply: state + 1 };
    if (typeof msg === "object" && "response" in msg) return { state };
    return { state, reply: host.request(msg.to, "inc", 5000) };
  },
});
`;

if (!hasNats) {
  console.log(`cluster bench: skipped, no ${NATS}`);
} else {
  const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
  const server = await natsServer(dir);
  const url = server.url;
  const actor = await benchActor(ACTOR, {
    name: "ping",
    chain: { fsync: "none" },
  });
  for (const name of ["pong", "ping2", "pong2"]) {
    await Deno.writeTextFile(
      join(actor.dir, `${name}.json`),
      JSON.stringify({
        name,
        component: "./actor.wasm",
        chain: { fsync: "none" },
      }),
    );
  }
  /** Resolvers waiting for a response to reach an actor's chain. */
  const waiting = new Map<string, () => void>();
  const node = async (name: string) => {
    const cluster = await Cluster.connect(url);
    const n = await ClusterNode.join(cluster, { name });
    const runs = new Runs(join(dir, name), {
      cacheDir: false,
      replication: (run) => cluster.run(run),
      remote: (run) => n.remote(run),
      onEvent: (run, actor, event) => {
        n.onEvent(run, actor, event);
        if (event.type === "message.in" && event.data.from !== "external") {
          waiting.get(actor)?.();
        }
      },
    });
    await n.serve(runs, "");
    return { cluster, node: n, runs };
  };
  const a = await node("a");
  const b = await node("b");
  try {
    await a.node.place("bench", join(actor.dir, "manifest.json"), "a");
    await a.node.place("bench", join(actor.dir, "pong.json"), "b");
    await a.node.place("bench", join(actor.dir, "ping2.json"), "a");
    await a.node.place("bench", join(actor.dir, "pong2.json"), "a");
    // The directory of the run's actors reaches both nodes.
    await new Promise((r) => setTimeout(r, 500));
    const system = a.runs.live("bench").system;
    const ask = async (from: string, to: string) => {
      const t = performance.now();
      const answered = new Promise<void>((r) => waiting.set(from, r));
      const d = await system.send(from, { op: "ask", to });
      if (!d.ok) throw new Error(`${from}: ${d.error}`);
      await answered;
      return performance.now() - t;
    };
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
    for (let i = 0; i < 30; i++) {
      await ask("ping", "pong");
      await ask("ping2", "pong2");
    }
    const cross: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      cross.push(await ask("ping", "pong"));
      local.push(await ask("ping2", "pong2"));
    }
    // The baseline: a bare request/reply between two connections.
    const nc1 = await connect({ servers: url.slice("nats://".length) });
    const nc2 = await connect({ servers: url.slice("nats://".length) });
    nc2.subscribe("bench.echo", {
      callback: (_e, m) => void m.respond(m.data),
    });
    await nc2.flush();
    const raw: number[] = [];
    for (let i = 0; i < 30 + ROUNDS; i++) {
      const t = performance.now();
      await nc1.request("bench.echo", "x", { timeout: 5000 });
      if (i >= 30) raw.push(performance.now() - t);
    }
    await nc1.close();
    await nc2.close();
    const c = median(cross);
    const s = median(local);
    const r = median(raw);
    console.log(`cluster bench (${ROUNDS} requests each, medians):
  cross-node request/response (a -> b -> a), recorded: ${
      (c * 1000).toFixed(0)
    } us
  same-node request/response, recorded, replicated:     ${
      (s * 1000).toFixed(0)
    } us
  raw NATS request/reply round trip:                    ${
      (r * 1000).toFixed(0)
    } us
  cross-node / raw NATS: ${(c / r).toFixed(1)}x; cross-node / same-node: ${
      (c / s).toFixed(2)
    }x`);
  } finally {
    for (const n of [a, b]) {
      n.node.leave();
      await n.runs.shutdown("bench over");
      await n.node.close();
      await n.cluster.close();
    }
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
