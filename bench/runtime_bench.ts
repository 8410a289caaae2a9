// Copyright the Theater authors. MIT license.
/**
 * Runtime benchmarks, all in one run: a bare export call into the counter
 * (jco bindings, nothing else) against the same `handle` through the
 * recording runtime under fsync `none` and `batch`, in process and through
 * the no-permission worker pool; instantiate time; and memory per instance
 * for 1,000 counter instances (printed when the file loads).
 *
 * @module
 */
import { join } from "node:path";
import { ChainWriter } from "../chain/mod.ts";
import { loadBindings } from "../runtime/_guest.ts";
import { instantiateCore } from "../runtime/instance.ts";
import {
  ActorRecorder,
  compileCores,
  type ExecutorComponent,
  InProcessExecutor,
  loadComponent,
  WorkerPool,
} from "../runtime/mod.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const loaded = await loadComponent(COUNTER);
const modules = compileCores(loaded, { memoryMb: 16 });
const component: ExecutorComponent = {
  key: loaded.sha256,
  bindings: loaded.bindings,
  modules,
};
const instantiate = await loadBindings(loaded.bindings);
const imports = {
  "theater:actor/runtime": {
    log: () => {},
    now: () => 0n,
    random: () => new Uint8Array(),
    selfId: () => "c",
  },
};
function bare() {
  return instantiate((name) => modules[name], imports, instantiateCore).actor;
}
const STATE = '{"count":1,"at":0}';

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

// Memory per instance: 1,000 live counter instances.
{
  const before = Deno.memoryUsage().rss;
  const keep = [];
  for (let i = 0; i < 1000; i++) keep.push(bare());
  const after = Deno.memoryUsage().rss;
  console.log(
    `1,000 counter instances: ${
      ((after - before) / 1000 / 1024).toFixed(1)
    } KiB RSS each (${((after - before) / 2 ** 20).toFixed(1)} MiB total)`,
  );
  keep.length = 0;
}

const actor = bare();
Deno.bench('bare export call: handle(state, "get")', {
  group: "handle",
  baseline: true,
}, () => {
  actor.handle(STATE, '"get"');
});

const inProcess = new InProcessExecutor();
await inProcess.prepare(component);
const pool = new WorkerPool({ size: 1 });
for (
  const [name, executor, fsync] of [
    ["in process, fsync none", inProcess, "none"],
    ["in process, fsync batch", inProcess, "batch"],
    ["worker pool, fsync none", pool, "none"],
  ] as const
) {
  const id = `c-${fsync}-${executor.constructor.name}`;
  executor.register(id, {
    component,
    timeoutMs: 5000,
    context: () => ({ children: [] }),
  });
  const writer = await ChainWriter.open(join(dir, `${id}.jsonl`), {
    actor: id,
    fsync,
  });
  const recorder = new ActorRecorder(id, { writer, executor });
  await recorder.start({
    component: loaded.sha256,
    manifest: {},
    params: { start: 1 },
    link: null,
  });
  Deno.bench(`recorded handle, ${name}`, { group: "handle" }, async () => {
    await recorder.deliver("get", { from: "external" });
  });
}

Deno.bench("instantiate the counter (compiled modules)", () => {
  bare();
});

globalThis.addEventListener("unload", () => pool.close());
