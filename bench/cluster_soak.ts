// Copyright the Theater authors. MIT license.
/**
 * The failover soak: tests/cluster_stress_test.ts for as many rounds as
 * asked (kill -9 and SIGSTOP of the node running a random actor and of the
 * node taking it over, clients streaming requests, two CPU hogs), the
 * one-writer check and the witness after every round. A script, not a
 * `deno bench` (under `deno task bench` it only says how to run it):
 *
 * ```sh
 * npx -y deno@2.9.6 run --allow-net=127.0.0.1 --allow-read --allow-write \
 *   --allow-run --allow-env bench/cluster_soak.ts --rounds 50 [--seed N] \
 *   [--dir DIR] [--trace]
 * ```
 *
 * Prints the seed (`--seed` replays the schedule), each round's schedule
 * and findings, and exits 1 when a round found a problem. `--dir` keeps
 * the processes' files (the pulled chains of each round, the nodes' run
 * folders); `--trace` prints the nodes' notices as well.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { hasNats, NATS } from "../tools/nats_server.ts";
import { stress } from "../tools/cluster_stress.ts";

if (!import.meta.main) {
  console.log(
    "cluster soak: a script (deno run … bench/cluster_soak.ts --rounds N)",
  );
} else if (!hasNats) {
  console.log(`cluster soak: skipped, no ${NATS}`);
} else {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "20" },
      seed: { type: "string" },
      dir: { type: "string" },
      trace: { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  const seed = values.seed === undefined
    ? crypto.getRandomValues(new Uint32Array(1))[0]
    : Number(values.seed);
  if (!Number.isSafeInteger(rounds) || rounds < 1) {
    console.error(
      `cluster soak: --rounds ${values.rounds}: a positive integer`,
    );
    Deno.exit(2);
  }
  const dir = values.dir ?? await Deno.makeTempDir({ prefix: "theater_soak_" });
  await Deno.mkdir(dir, { recursive: true });
  const started = performance.now();
  const reports = await stress({
    rounds,
    seed,
    dir,
    trace: values.trace,
    log: (line) => console.log(line),
  });
  const failed = reports.filter((r) => r.problems.length > 0);
  console.log(
    `cluster soak: seed ${seed}, ${reports.length} rounds, ${
      reports.at(-1)?.acked ?? 0
    } replies acknowledged, ${failed.length} rounds with problems, ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s`,
  );
  if (values.dir === undefined) await Deno.remove(dir, { recursive: true });
  if (failed.length > 0) Deno.exit(1);
}
