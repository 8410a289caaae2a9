// Copyright the Theater authors. MIT license.
// One writer and liveness through failover (docs/cluster.md), shown under
// load: rounds of kill -9 and SIGSTOP/SIGCONT of the node running a random
// actor, and of the node taking it over as soon as its claim shows, while
// clients stream requests and two CPU hogs compete for the cores; after
// every round each placed root must run on exactly its placement's node
// and answer, each actor's stream and pulled chain must be one linear
// chain of whole steps holding every acknowledged reply at its seq, and
// the witness must report nothing.
//
// Seeds: by default the fixed SEEDS below, so that a run here is the run
// in CI (the timings still differ from run to run):
// - 1470124621: round 1 pauses ping's node a, c claims ping and a wakes
//   before c's actor.resume is published; c's resume was refused, ping
//   stayed registered on c with a dead chain, the next message to it
//   stopped c's whole run (tock too) and tock, placed on a live node, was
//   never resumed: round 2 saw no replies (the liveness fix);
// - 1: round 1 kills pong's node, pauses the taker as soon as its claim
//   shows and wakes it after the last node claimed: the fork of issue 25.
// THEATER_STRESS_SEED=N runs seed N only (the seed is in the test's name),
// THEATER_STRESS_SEED=random a random one; THEATER_STRESS_ROUNDS sets the
// rounds of each (3). bench/cluster_soak.ts runs longer soaks, with a
// random seed unless given one.
import assert from "node:assert/strict";
import { hasNats, withTempDir } from "./_helpers.ts";
import { stress } from "../tools/cluster_stress.ts";

/** The schedules CI runs (see above). */
const SEEDS = [1470124621, 1];

const ROUNDS = Number(Deno.env.get("THEATER_STRESS_ROUNDS") ?? 3);
const asked = Deno.env.get("THEATER_STRESS_SEED");
const seeds = asked === undefined ? SEEDS : [
  asked === "random"
    ? crypto.getRandomValues(new Uint32Array(1))[0]
    : Number(asked),
];
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) {
  throw new Error(
    `THEATER_STRESS_ROUNDS=${ROUNDS}: expected a positive integer`,
  );
}
for (const seed of seeds) {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(
      `THEATER_STRESS_SEED=${asked}: expected a non-negative integer or "random"`,
    );
  }
}

for (const seed of seeds) {
  Deno.test({
    name:
      `cluster stress: ${ROUNDS} rounds of kill -9 and SIGSTOP of random nodes (the taker too) under load keep one writer per actor and every placed root answering (seed ${seed})`,
    ignore: !hasNats && Deno.env.get("CI") !== "true",
    async fn() {
      await withTempDir(async (dir) => {
        const reports = await stress({
          rounds: ROUNDS,
          seed,
          dir,
          log: (line) => console.log(line),
        });
        assert.equal(reports.length, ROUNDS);
        const failed = reports.filter((r) => r.problems.length > 0);
        assert.deepEqual(
          failed,
          [],
          `seed ${seed} (THEATER_STRESS_SEED=${seed} replays the schedule)`,
        );
        assert.ok(reports.at(-1)!.acked > ROUNDS * 8);
      });
    },
  });
}
