// Copyright the Theater authors. MIT license.
/**
 * HTTP under a grant (WIT 0.2.0), recorded: an actor's `http.fetch` of a
 * small JSON document from a local server, through its gate worker, with
 * request and response written to the chain — against a bare `fetch` of
 * the same URL from the same process, in the same run.
 *
 * @module
 */
import { join } from "node:path";
import { WorkerPool } from "../runtime/mod.ts";
import { ActorSystem } from "../supervisor/mod.ts";
import { benchActor } from "./_actor.ts";

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => Response.json({ items: [1, 2, 3], note: "a small document" }),
);
const url = `http://127.0.0.1:${server.addr.port}/doc`;
const { dir, manifest } = await benchActor(
  `import { defineActor } from "./theater_sdk.ts";
export default defineActor<number, string, number>({
  init: () => 0,
  handle(state, url, host) {
    if (url === "") return { state: state + 1, reply: 0 };
    return { state: state + 1, reply: host.fetch(url).body.length };
  },
});
`,
  {
    name: "net",
    chain: { dir: "./chains", fsync: "none" },
    grants: { http: { origins: [`http://127.0.0.1:${server.addr.port}`] } },
  },
);
const pool = new WorkerPool({ size: 2 });
const system = new ActorSystem({ executor: pool, chainDir: join(dir, "c") });
await system.start(manifest, { id: "net" });
globalThis.addEventListener("unload", () => pool.close());

Deno.bench("bare fetch of the same URL", {
  group: "http",
  baseline: true,
}, async () => {
  await (await fetch(url)).arrayBuffer();
});

Deno.bench("recorded http.fetch by an actor (gate, chain, fsync none)", {
  group: "http",
}, async () => {
  await system.send("net", url);
});

Deno.bench("recorded handle without HTTP (same actor, for scale)", {
  group: "http",
}, async () => {
  await system.send("net", "");
});
