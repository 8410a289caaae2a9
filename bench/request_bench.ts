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
import { buildActor } from "../sdk/build.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
await Deno.copyFile(
  new URL("../sdk/mod.ts", import.meta.url),
  join(dir, "theater_sdk.ts"),
);
await Deno.writeTextFile(
  join(dir, "actor.ts"),
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
);
await Deno.writeTextFile(
  join(dir, "manifest.json"),
  JSON.stringify({
    name: "a",
    component: "./actor.wasm",
    chain: { dir: "./chains", fsync: "none" },
  }),
);
await buildActor(dir);
const manifest = await loadManifest(join(dir, "manifest.json"));
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
