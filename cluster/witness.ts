// Copyright the Theater authors. MIT license.
/**
 * A witness (docs/cluster.md): it follows the runs in the stream, checks
 * every event as it reads it (its line, hash, seq and parent against the
 * event before), replays every actor against its component (fetched from
 * the object store by hash), and co-signs an actor's checkpoint only when
 * its replay reaches the same head. A broken chain or a divergence is
 * published on the alerts subject, with actor, seq and reason.
 *
 * A {@linkcode Witness} keeps what it has read: each round reads only the
 * stream messages that are new since the last, and replays and co-signs
 * only the actors whose chains grew.
 *
 * @module
 */
import { join } from "node:path";
import {
  chainCheckpoint,
  type ChainEvent,
  checkLine,
  signCheckpoint,
  type SignerKey,
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

/** How far the witness has followed one actor's chain. */
interface Followed {
  /** The stream sequence of the last message read. */
  streamSeq: number;
  /** Messages read. */
  messages: number;
  /** The last event read and checked. */
  head: ChainEvent | null;
  /** Once broken or diverged, the chain is not followed further. */
  stopped: boolean;
}

const encoder = new TextEncoder();

/** A witness that follows the stream from round to round. */
export class Witness {
  #cluster: Cluster;
  #key: SignerKey;
  #dir: string;
  #chains = new Map<string, Followed>();
  #runs = new Set<string>();
  #components = new Set<string>();

  /**
   * Makes a witness that signs with `options.key` and keeps its copies of
   * the runs under `options.dir` (`<dir>/<run>/`, made afresh).
   */
  constructor(cluster: Cluster, options: { key: SignerKey; dir: string }) {
    this.#cluster = cluster;
    this.#key = options.key;
    this.#dir = options.dir;
  }

  /**
   * One round over every run in the stream (or only `runs`): reads what is
   * new, checks it event by event, replays each actor whose chain grew,
   * and publishes a cosignature or an alert for it. Resolves with this
   * round's findings (none for an actor that did not grow).
   */
  async round(
    options: { runs?: string[]; onFinding?: (finding: Finding) => void } = {},
  ): Promise<Finding[]> {
    const findings: Finding[] = [];
    const found = async (f: Finding) => {
      findings.push(f);
      options.onFinding?.(f);
      if (f.status !== "cosigned") {
        await this.#cluster.publishAlert({
          witness: this.#key.name,
          run: f.run,
          actor: f.actor,
          seq: f.seq,
          reason: `${f.status}: ${f.reason}`,
        });
      }
    };
    for (const run of options.runs ?? await this.#cluster.runs()) {
      const dir = join(this.#dir, run);
      if (!this.#runs.has(run)) {
        this.#runs.add(run);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await Deno.mkdir(join(dir, "components"), { recursive: true });
      }
      const subjects = await this.#cluster.subjects(run);
      for (const [actor, count] of [...subjects].sort()) {
        const key = `${run}/${actor}`;
        let f = this.#chains.get(key);
        if (!f) {
          f = { streamSeq: 0, messages: 0, head: null, stopped: false };
          this.#chains.set(key, f);
        }
        if (f.stopped || count <= f.messages) continue;
        const path = join(dir, `${actor}.jsonl`);
        const broken = await this.#read(run, actor, f, count, path);
        if (broken) {
          f.stopped = true;
          await found(broken);
          continue;
        }
        const finding = await this.#witness(run, actor, path, dir);
        if (finding.status !== "cosigned") f.stopped = true;
        await found(finding);
      }
    }
    return findings;
  }

  /**
   * Reads an actor's new messages into its copy, checking each event
   * against the one before; a Finding when one is wrong (nothing after it
   * is kept).
   */
  async #read(
    run: string,
    actor: string,
    f: Followed,
    count: number,
    path: string,
  ): Promise<Finding | null> {
    const fresh = await this.#cluster.messagesAfter(
      run,
      actor,
      f.streamSeq,
      count - f.messages,
    );
    // What was checked goes to the copy in one write, as far as it is good.
    const good: string[] = [];
    try {
      for (const m of fresh) {
        // A message is a step: one or more lines.
        for (const text of m.text.split("\n")) {
          const seq = (f.head?.seq ?? -1) + 1;
          const bytes = encoder.encode(text);
          const checked = checkLine(bytes);
          const problem = "event" in checked
            ? linkProblem(f.head, checked.event, actor)
            : checked.message;
          if (problem) {
            return {
              run,
              actor,
              status: "broken",
              seq,
              reason: `line ${seq + 1}: ${problem}`,
            };
          }
          const event = (checked as { event: ChainEvent }).event;
          if (event.type === "actor.start" || event.type === "actor.resume") {
            await this.#component(run, String(event.data.component));
          }
          good.push(text, "\n");
          f.head = event;
        }
        f.streamSeq = m.seq;
        f.messages++;
      }
    } finally {
      await Deno.writeTextFile(path, good.join(""), { append: true });
    }
    return null;
  }

  /** Fetches a component into the run's copy, once. */
  async #component(run: string, sha256: string): Promise<void> {
    const key = `${run}/${sha256}`;
    if (this.#components.has(key)) return;
    const bytes = await this.#cluster.component(sha256);
    if (!bytes) return; // The replay then says the component is missing.
    await Deno.writeFile(
      join(this.#dir, run, "components", `${sha256}.wasm`),
      bytes,
    );
    this.#components.add(key);
  }

  /** Replays a chain and co-signs it, or says why not. */
  async #witness(
    run: string,
    actor: string,
    path: string,
    dir: string,
  ): Promise<Finding> {
    let replay;
    try {
      replay = await replayChain(path, { search: [dir], cacheDir: false });
    } catch (err) {
      return {
        run,
        actor,
        status: "failed",
        seq: null,
        reason: (err as Error).message,
      };
    }
    if (!replay.ok) {
      const d = replay.divergence!;
      return { run, actor, status: "diverged", seq: d.seq, reason: d.detail };
    }
    const checkpoint = await chainCheckpoint(path);
    const text = await signCheckpoint(checkpoint, this.#key);
    await this.#cluster.publishCosignature(run, actor, text);
    await Deno.writeTextFile(join(dir, `${actor}.cosignature`), text);
    return {
      run,
      actor,
      status: "cosigned",
      seq: null,
      reason: `${checkpoint.size} events, head ${replay.head}`,
    };
  }
}

/** What is wrong with how `event` follows `head` in `actor`'s chain. */
function linkProblem(
  head: ChainEvent | null,
  event: ChainEvent,
  actor: string,
): string | null {
  const seq = (head?.seq ?? -1) + 1;
  if (event.actor !== actor) {
    return `event of actor ${event.actor} in the chain of ${actor}`;
  }
  if (event.seq !== seq) return `seq ${event.seq}, expected ${seq}`;
  if (event.parent !== (head?.hash ?? null)) {
    return `parent ${event.parent} is not the hash of event ${seq - 1}`;
  }
  return null;
}

/**
 * Witnesses every run in the stream once (or only `runs`), from scratch:
 * reads each into `<dir>/<run>`, checks it, replays each chain, and
 * publishes a cosignature or an alert per actor. Resolves with the
 * findings.
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
  return await new Witness(cluster, options).round(options);
}
