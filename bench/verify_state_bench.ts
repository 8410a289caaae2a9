// Copyright the Theater authors. MIT license.
/**
 * The cost of verify's state check (check 14 of docs/chain-format.md §7)
 * on a 1,000,000-event chain shaped as the recorder writes one (an
 * `actor.init`, then a `message.in` and a `handle.patch` per step, a full
 * state every 8 times the state's size): `verifyChain` with and without
 * the state check, in the same run, each the best of `ROUNDS` after a
 * warm-up, on as many ranges as verify takes by default (one per core).
 * Prints events/s and the ratio. Run:
 *
 *   deno run --allow-read --allow-write bench/verify_state_bench.ts [events]
 *
 * @module
 */
import { join } from "node:path";
import { verifyChain } from "../chain/mod.ts";
import { writeBigChain } from "../tests/_helpers.ts";

const EVENTS = Number(Deno.args[0] ?? 1_000_000);
const ROUNDS = 3;

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
try {
  const path = join(dir, "big.jsonl");
  await writeBigChain(path, EVENTS, { patches: true });
  const size = (await Deno.stat(path)).size;
  const types = new Map<string, number>();
  {
    // What the chain holds, counted once (not timed).
    const text = await Deno.readTextFile(path);
    for (const m of text.matchAll(/"type":"([a-z.]+)"/g)) {
      types.set(m[1], (types.get(m[1]) ?? 0) + 1);
    }
  }
  console.log(
    `chain: ${EVENTS} events, ${(size / 1e6).toFixed(1)} MB, ${
      [...types].map(([t, n]) => `${n} ${t}`).join(", ")
    }; ${navigator.hardwareConcurrency} cores`,
  );
  const time = async (state: boolean) => {
    const t0 = performance.now();
    const report = await verifyChain(path, { state });
    const ms = performance.now() - t0;
    if (!report.ok || report.events !== EVENTS) {
      throw new Error(`verify failed: ${JSON.stringify(report.error)}`);
    }
    return ms;
  };
  await time(false); // warm-up: page cache, JIT, worker modules
  const best = { without: Infinity, with: Infinity };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternated, so that a noisy neighbour weighs on both alike.
    best.without = Math.min(best.without, await time(false));
    best.with = Math.min(best.with, await time(true));
  }
  const rate = (ms: number) => Math.round(EVENTS / (ms / 1000));
  console.log(
    `verify --no-state: ${(best.without / 1000).toFixed(2)} s, ${
      rate(best.without)
    } events/s`,
  );
  console.log(
    `verify (states):   ${(best.with / 1000).toFixed(2)} s, ${
      rate(best.with)
    } events/s`,
  );
  console.log(
    `state check costs ${
      (best.with / best.without).toFixed(2)
    }x (best of ${ROUNDS})`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
