// Copyright the Theater authors. MIT license.
/**
 * How long `theater` takes to start, as a user runs it (a separate
 * process, the pinned `deno` binary, not `npx`): `theater --help`, and the
 * first reply of `theater run examples/counter/manifest.json --send '"inc"'`
 * (spawn to its first stdout line; the transpile cache warm). Each is a
 * ratio to `deno run` of a module that does nothing (bench/_nothing.ts),
 * measured in the same run, interleaved, median of ROUNDS.
 *
 * With `THEATER_TREES=<label>=<dir>,…` (other checkouts, e.g. from `git
 * archive`) the same figures are measured for those trees too, in the same
 * rounds.
 * Printed when the file loads; run it with `deno run --allow-read
 * --allow-write --allow-env --allow-run bench/cli_start_bench.ts` or as
 * part of `deno task bench`.
 *
 * @module
 */
import { join } from "node:path";

const ROUNDS = Number(Deno.env.get("THEATER_BENCH_ROUNDS") ?? 15);
const HERE = new URL("..", import.meta.url).pathname;
const OTHERS = (Deno.env.get("THEATER_TREES") ?? "").split(",")
  .filter((tree) => tree !== "")
  .map((tree) => {
    const at = tree.indexOf("=");
    if (at < 1) throw new Error(`THEATER_TREES: ${tree}: not <label>=<dir>`);
    return [tree.slice(0, at), tree.slice(at + 1)];
  });
const FLAGS = ["--allow-read", "--allow-write", "--allow-env"];

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

/** Seconds from spawn to exit of `deno run <args>` in `cwd`. */
async function whole(cwd: string, args: string[]): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) {
    throw new Error(
      `deno run ${args.join(" ")} in ${cwd}: exit ${code}: ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return seconds;
}

/**
 * Seconds from spawn to the first reply of `theater run` of the counter
 * in the checkout `root`; the run is then let finish (it stops once
 * --send is done) and must exit 0.
 */
async function firstReply(root: string): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...FLAGS,
      "main.ts",
      "run",
      "examples/counter/manifest.json",
      "--chain-dir",
      join(dir, crypto.randomUUID()),
      "--send",
      '"inc"',
      "--quiet",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let seconds = NaN;
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    text += decoder.decode(chunk, { stream: true });
    if (Number.isNaN(seconds) && text.includes("\n")) {
      seconds = (performance.now() - started) / 1000;
    }
  }
  const { code } = await child.status;
  if (code !== 0 || !text.startsWith('{"actor":"counter","reply":')) {
    throw new Error(
      `theater run in ${root}: exit ${code}, stdout ${
        JSON.stringify(text)
      }, stderr ${await stderr}`,
    );
  }
  await stderr;
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const trees = [...OTHERS, ["now", HERE]];
const samples: Record<string, number[]> = { empty: [] };
for (const [label] of trees) {
  samples[`${label} help`] = [];
  samples[`${label} run`] = [];
}
// Warm each tree: the transpile cache and deno's own caches.
for (const [, root] of trees) {
  await whole(root, [...FLAGS, "main.ts", "--help"]);
  await firstReply(root);
}
for (let round = 0; round < ROUNDS; round++) {
  samples.empty.push(await whole(HERE, ["bench/_nothing.ts"]));
  for (const [label, root] of trees) {
    samples[`${label} help`].push(
      await whole(root, [...FLAGS, "main.ts", "--help"]),
    );
    samples[`${label} run`].push(await firstReply(root));
  }
}

const empty = median(samples.empty);
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
console.log(
  `theater start, median of ${ROUNDS} (interleaved); empty deno run ${
    ms(empty)
  }:`,
);
const width = Math.max(...trees.map(([label]) => label.length));
for (const [label] of trees) {
  for (const what of ["help", "run"]) {
    const m = median(samples[`${label} ${what}`]);
    const name = what === "help"
      ? "theater --help"
      : "first reply of theater run counter --send '\"inc\"'";
    console.log(
      `  ${label.padEnd(width)} ${name}: ${ms(m)}, ${(m / empty).toFixed(2)}x`,
    );
  }
}

Deno.bench("theater start figures are printed above", () => {});
