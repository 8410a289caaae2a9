// Copyright the Theater authors. MIT license.
/**
 * `theater run` of the counter fed messages on stdin, fsync `none`, as a
 * user runs it (a separate process, the pinned `deno`): printed when the
 * file loads. The rate counts only the messages: the time of a run with
 * one message (start, first reply, stop) is measured in the same run and
 * taken off. Baseline: a bare `handle` call into the counter, in process.
 *
 * @module
 */
import { join } from "node:path";
import { loadBindings } from "../runtime/_guest.ts";
import { instantiateCore } from "../runtime/instance.ts";
import { compileCores, loadComponent } from "../runtime/mod.ts";
import { theaterCommand } from "../tools/theater_command.ts";

const EXAMPLE = new URL("../examples/counter/", import.meta.url).pathname;
const MESSAGES = 20_000;
/** Lines in flight (`--window`): a stream of messages to one actor. */
const WINDOW = 64;

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

async function run(lines: number): Promise<number> {
  const chains = join(dir, crypto.randomUUID());
  const child = theaterCommand([
    "run",
    join(EXAMPLE, "manifest.json"),
    "--chain-dir",
    chains,
    "--fsync",
    "none",
    "--quiet",
    "--window",
    String(WINDOW),
  ], {
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const started = performance.now();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode('"inc"\n'.repeat(lines)));
  await writer.close();
  const { code, stdout } = await child.output();
  const seconds = (performance.now() - started) / 1000;
  const replies = new TextDecoder().decode(stdout).trim().split("\n").length;
  if (code !== 0 || replies !== lines) {
    throw new Error(`theater run: exit ${code}, ${replies} replies`);
  }
  return seconds;
}

// The bare call, measured here so the ratio holds within one run.
const loaded = await loadComponent(join(EXAMPLE, "counter.wasm"));
const modules = compileCores(loaded, { memoryMb: 16 });
const instantiate = await loadBindings(loaded.bindings);
const actor = instantiate((name: string) => modules[name], {
  "theater:actor/runtime": {
    log: () => {},
    now: () => 0n,
    random: () => new Uint8Array(),
    selfId: () => "c",
  },
}, instantiateCore).actor as {
  handle(state: string, msg: string): unknown;
};
const N = 200_000;
const t = performance.now();
for (let i = 0; i < N; i++) actor.handle('{"count":1,"at":0}', '"get"');
const bareUs = (performance.now() - t) * 1000 / N;

await run(1); // warm the transpile cache
const one = await run(1);
const many = await run(MESSAGES);
const perMessageUs = (many - one) * 1e6 / (MESSAGES - 1);
console.log(
  `theater run, counter, ${MESSAGES} stdin messages, --window ${WINDOW}, fsync none: ${
    (1e6 / perMessageUs).toFixed(0)
  } msgs/s (${perMessageUs.toFixed(1)} µs each; start and stop ${
    (one * 1000).toFixed(0)
  } ms taken off); bare handle ${bareUs.toFixed(2)} µs: ${
    (perMessageUs / bareUs).toFixed(0)
  }x`,
);

Deno.bench("theater run figures are printed above", () => {});
