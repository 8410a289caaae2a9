// Copyright the Theater authors. MIT license.
/**
 * A witness (docs/cluster.md): it follows the runs in the stream, verifies
 * every chain, replays every actor against its component (fetched from
 * the object store by hash), and co-signs an actor's checkpoint only when
 * its replay reaches the same head. A broken chain or a divergence is
 * published on the alerts subject, with actor, seq and reason.
 *
 * @module
 */
import { join } from "node:path";
import {
  chainCheckpoint,
  signCheckpoint,
  type SignerKey,
  verifyDir,
} from "../chain/mod.ts";
import { replayChain } from "../runtime/mod.ts";
import type { Cluster } from "./stream.ts";

/** What a witness found about one actor's chain. */
export interface Finding {
  /** The run. */
  run: string;
  /** The actor. */
  actor: string;
  /** `cosigned`, or what was wrong. */
  status: "cosigned" | "broken" | "diverged" | "failed";
  /** The first event that is wrong, when there is one. */
  seq: number | null;
  /** Why (or, when cosigned, the tree size and head). */
  reason: string;
}

/**
 * Witnesses every run in the stream once (or only `runs`): pulls each
 * into `<dir>/<run>`, verifies it, replays each chain, and publishes a
 * cosignature or an alert per actor. Resolves with the findings.
 */
export async function witnessOnce(
  cluster: Cluster,
  options: {
    key: SignerKey;
    dir: string;
    runs?: string[];
    onFinding?: (finding: Finding) => void;
  },
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const found = async (f: Finding) => {
    findings.push(f);
    options.onFinding?.(f);
    if (f.status !== "cosigned") {
      await cluster.publishAlert({
        witness: options.key.name,
        run: f.run,
        actor: f.actor,
        seq: f.seq,
        reason: `${f.status}: ${f.reason}`,
      });
    }
  };
  for (const run of options.runs ?? await cluster.runs()) {
    const dir = join(options.dir, run);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const actors = await cluster.pull(run, dir);
    const report = await verifyDir(dir);
    for (const actor of actors) {
      const path = join(dir, `${actor}.jsonl`);
      const chain = report.chains.find((c) => c.file === path);
      if (chain && !chain.ok) {
        await found({
          run,
          actor,
          status: "broken",
          seq: chain.error!.line - 1,
          reason: `line ${chain.error!.line}: ${chain.error!.message}`,
        });
        continue;
      }
      let replay;
      try {
        replay = await replayChain(path, { search: [dir], cacheDir: false });
      } catch (err) {
        await found({
          run,
          actor,
          status: "failed",
          seq: null,
          reason: (err as Error).message,
        });
        continue;
      }
      if (!replay.ok) {
        const d = replay.divergence!;
        await found({
          run,
          actor,
          status: "diverged",
          seq: d.seq,
          reason: d.detail,
        });
        continue;
      }
      const checkpoint = await chainCheckpoint(path);
      const text = await signCheckpoint(checkpoint, options.key);
      await cluster.publishCosignature(run, actor, text);
      await Deno.writeTextFile(join(dir, `${actor}.cosignature`), text);
      await found({
        run,
        actor,
        status: "cosigned",
        seq: null,
        reason: `${checkpoint.size} events, head ${replay.head}`,
      });
    }
  }
  return findings;
}
