// Copyright the Theater authors. MIT license.
// One writer through failover (docs/cluster.md), shown under load: rounds
// of kill -9 and SIGSTOP/SIGCONT of the node running a random actor, and
// of the node taking it over as soon as its claim shows, while clients
// stream requests and two CPU hogs compete for the cores; after every
// round each actor's stream and pulled chain must be one linear chain of
// whole steps holding every acknowledged reply at its seq, and the
// witness must report nothing. THEATER_STRESS_ROUNDS sets the rounds (3),
// THEATER_STRESS_SEED replays a schedule (the seed is printed);
// bench/cluster_soak.ts runs longer soaks.
import assert from "node:assert/strict";
import { hasNats, withTempDir } from "./_helpers.ts";
import { stress } from "../tools/cluster_stress.ts";

const ROUNDS = Number(Deno.env.get("THEATER_STRESS_ROUNDS") ?? 3);
const SEED = Number(
  Deno.env.get("THEATER_STRESS_SEED") ??
    crypto.getRandomValues(new Uint32Array(1))[0],
);

Deno.test({
  name:
    `cluster stress: ${ROUNDS} rounds of kill -9 and SIGSTOP of random nodes (the taker too) under load keep one writer per actor (seed ${SEED})`,
  ignore: !hasNats && Deno.env.get("CI") !== "true",
  async fn() {
    await withTempDir(async (dir) => {
      const reports = await stress({
        rounds: ROUNDS,
        seed: SEED,
        dir,
        log: (line) => console.log(line),
      });
      assert.equal(reports.length, ROUNDS);
      const failed = reports.filter((r) => r.problems.length > 0);
      assert.deepEqual(
        failed,
        [],
        `seed ${SEED} (THEATER_STRESS_SEED=${SEED} replays the schedule)`,
      );
      assert.ok(reports.at(-1)!.acked > ROUNDS * 8);
    });
  },
});
