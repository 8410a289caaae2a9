// Copyright the Theater authors. MIT license.
/**
 * Request/response between two actors (WIT 0.2.0), recorded: `a` asks `b`
 * and handles the response, against a bare Worker postMessage round trip
 * in the same run. The actors are a TypeScript component built here.
 *
 * @module
 */
import { join } from "node:path";
import { WorkerPool } from "../runtime/mod.ts";
import { benchBareRoundTrip } from "./_baseline.ts";
import { ActorSystem } from "../supervisor/mod.ts";
import { benchActor } from "./_actor.ts";

const { dir, manifest } = await benchActor(
  `import { defineActor } from "./theater_sdk.ts";
export default defineActor<number, unknown, unknown>({
  init: () => 0,
  handle(state, msg, host) {
    if (msg === "ask") return { state, reply: host.request("b", "ping", 5000) };
    if (msg === "ping") return { state, reply: "pong" };
    return { state: state + 1 };
  },
});
`,
  { name: "a", chain: { dir: "./chains", fsync: "none" } },
);
const pool = new WorkerPool({ size: 2 });
const system = new ActorSystem({ executor: pool, chainDir: join(dir, "c") });
await system.start(manifest, { id: "a" });
await system.start(manifest, { id: "b" });
globalThis.addEventListener("unload", () => pool.close());

Deno.bench("request/response: a asks b, b replies, a handles it", {
  group: "round trip",
}, async () => {
  await system.send("a", "ask");
  await system.idle();
});

benchBareRoundTrip("round trip");
