// Copyright the Theater authors. MIT license.
/**
 * Rounds of failover under load, for the stress test and the soak bench
 * (docs/cluster.md): three `theater serve --node` processes and a
 * `theater witness --follow` on one nats-server, clients streaming
 * requests to three actors, two CPU hogs; each round kills (`kill -9`) or
 * pauses (SIGSTOP) the node of a random actor, and as soon as another
 * node's claim shows in the placements bucket, maybe wakes the paused node
 * (a zombie racing the takeover), kills or pauses the taker; then brings
 * every node back, waits for every actor to answer and the witness to
 * catch up, and checks each actor's stream and pulled chain against the
 * replies clients were given ({@linkcode checkOneWriter}). The choices
 * come from a seeded PRNG: the seed replays a schedule (timings differ).
 * Nothing waits a fixed time: every wait is for an event (a claim, a line,
 * an answer), bounded by a deadline that names it.
 *
 * @module
 */
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { Cluster } from "../cluster/stream.ts";
import { PLACEMENTS_BUCKET } from "../cluster/node.ts";
import { type AckedReply, checkOneWriter } from "../cluster/one_writer.ts";
import type { Json } from "../chain/mod.ts";
import { natsServer } from "./nats_server.ts";
import { THEATER_FLAGS, theaterCommand } from "./theater_command.ts";
import { type Lines, waitFor, watchLines } from "./wait.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const NET = [...THEATER_FLAGS, "--allow-net"];
const RUN = "demo";
/** The actors, one root each, first placed on a, b and c. */
const ACTORS = ["ping", "pong", "tock"];
const NODES = ["a", "b", "c"];

/** Options of {@linkcode stress}. */
export interface StressOptions {
  /** Rounds of failures. */
  rounds: number;
  /** The PRNG's seed: the same seed, the same choices. */
  seed: number;
  /** Where the processes keep their files (a fresh folder). */
  dir: string;
  /** CPU-bound processes competing for the cores (default 2). */
  hogs?: number;
  /** Clients streaming requests at once (default 4). */
  clients?: number;
  /** Replies acknowledged in a round before its first failure (default 8). */
  before?: number;
  /** Progress lines (the seed, each round's schedule). */
  log?: (line: string) => void;
  /** Also log every line the nodes print on stderr (their notices). */
  trace?: boolean;
}

/** What one round did and found. */
export interface RoundReport {
  /** 1-based. */
  round: number;
  /** What was done, in order (`kill b`, `claim pong by c`, …). */
  schedule: string[];
  /** What the checker and the witness found wrong; empty when none. */
  problems: string[];
  /** Replies acknowledged so far, over every actor. */
  acked: number;
}

/** mulberry32: a small seeded PRNG, so a schedule can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Node {
  name: string;
  child: Deno.ChildProcess;
  out: Lines;
  err: Lines;
  url: string;
  state: "up" | "stopped" | "dead";
}

/**
 * Runs `options.rounds` rounds and resolves with what each found; every
 * process it started is ended (by its pid) before it returns or throws.
 */
export async function stress(options: StressOptions): Promise<RoundReport[]> {
  const log = options.log ?? (() => {});
  const random = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const { dir } = options;
  log(`cluster stress: seed ${options.seed}, ${options.rounds} rounds`);
  const children: Deno.ChildProcess[] = [];
  const nats = await natsServer(join(dir, "js"));
  let nc: NatsConnection | null = null;
  let cluster: Cluster | null = null;
  const nodes = new Map<string, Node>();
  let stopping = false;
  const clients: Promise<void>[] = [];
  try {
    // The actors: counter.wasm beside their manifests (a component must be
    // in its manifest's folder).
    const apps = join(dir, "apps");
    await Deno.mkdir(apps, { recursive: true });
    await Deno.copyFile(COUNTER, join(apps, "counter.wasm"));
    for (const name of ACTORS) {
      await Deno.writeTextFile(
        join(apps, `${name}.json`),
        JSON.stringify({
          name,
          component: "./counter.wasm",
          params: { start: 0 },
          chain: { fsync: "batch" },
          // A node paused mid-call wakes to its watchdog's deadline passed:
          // the recorded time-out then does not replay (a divergence the
          // witness reports, not a second writer). Long enough for a pause.
          limits: { handle_timeout_ms: 120_000 },
        }),
      );
    }
    const tokenFile = join(dir, "token");
    await Deno.writeTextFile(tokenFile, "ab".repeat(32) + "\n");
    const token = "ab".repeat(32);

    const startNode = async (name: string): Promise<Node> => {
      const child = theaterCommand([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--dir",
        join(dir, name, "runs"),
        "--token-file",
        tokenFile,
        "--no-cache",
        "--nats",
        nats.url,
        "--node",
        name,
      ], {
        flags: NET,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      children.push(child);
      const out = watchLines(child.stdout);
      const err = watchLines(child.stderr);
      if (options.trace) {
        let shown = 0;
        (async () => {
          while (true) {
            const l = await err.count(() => true, shown + 1, "a line", {
              timeoutMs: 3_600_000,
            }).catch(() => null);
            if (!l) return;
            for (; shown < l.length; shown++) log(`  [${name}] ${l[shown]}`);
          }
        })();
      }
      const line = await out.until(
        (l) => /listening on http:\/\/\S+/.test(l),
        `node ${name} listening`,
      );
      const node: Node = {
        name,
        child,
        out,
        err,
        url: /listening on (http:\/\/\S+)/.exec(line)![1],
        state: "up",
      };
      nodes.set(name, node);
      return node;
    };
    for (const name of NODES) await startNode(name);

    nc = await connect({ servers: nats.url.slice("nats://".length) });
    const placements: KV = await new Kvm(nc).open(PLACEMENTS_BUCKET);
    const cl = await Cluster.connect(nats.url);
    cluster = cl;
    const placedOn = async (actor: string): Promise<string | null> => {
      const e = await placements.get(`${RUN}.${actor}`);
      return e && e.operation === "PUT"
        ? e.json<{ node: string }>().node
        : null;
    };

    const api = async (
      node: Node,
      path: string,
      body: unknown,
    ): Promise<{ status: number; body: Record<string, unknown> } | null> => {
      try {
        const res = await fetch(`${node.url}/api${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
          // A paused node's API does not answer: give up, as a client would.
          signal: AbortSignal.timeout(15_000),
        });
        return { status: res.status, body: await res.json() };
      } catch {
        return null;
      }
    };
    /** The actors of the run a node runs now, or null when it does not answer. */
    const runningOn = async (node: Node): Promise<string[] | null> => {
      try {
        const res = await fetch(`${node.url}/api/runs/${RUN}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(15_000),
        });
        const body = await res.json();
        if (res.status === 404) return [];
        return (body.actors as { id: string }[]).map((a) => a.id);
      } catch {
        return null;
      }
    };
    /** Per actor: where it is placed, and which nodes that are up run it. */
    const where = async () => {
      const out: Record<string, { placed: string | null; on: string[] }> = {};
      for (const a of ACTORS) out[a] = { placed: await placedOn(a), on: [] };
      for (const node of nodes.values()) {
        if (node.state !== "up") continue;
        for (const a of await runningOn(node) ?? []) out[a]?.on.push(node.name);
      }
      return out;
    };
    let lastWhere: unknown = null;
    const seenWhere = () => lastWhere;
    const trackWhere = async () => lastWhere = await where();

    for (const [i, actor] of ACTORS.entries()) {
      const r = await api(nodes.get(NODES[i])!, "/runs", {
        manifest: join(apps, `${actor}.json`),
        id: RUN,
        node: NODES[i],
      });
      if (r?.status !== 201) {
        throw new Error(`placing ${actor}: ${JSON.stringify(r)}`);
      }
    }

    // The witness, following the stream.
    const key = await theaterCommand(
      ["keygen", "--out", join(dir, "w1"), "--name", "w1"],
      { stdout: "null", stderr: "piped" },
    ).output();
    if (!key.success) throw new Error(new TextDecoder().decode(key.stderr));
    const witness = theaterCommand([
      "witness",
      "--nats",
      nats.url,
      "--key",
      join(dir, "w1.key"),
      "--dir",
      join(dir, "witnessed"),
      "--follow",
      "--interval-ms",
      "500",
    ], { flags: NET, stdout: "piped", stderr: "piped" }).spawn();
    children.push(witness);
    const cosigned = watchLines(witness.stdout);
    const alerts = watchLines(witness.stderr);

    // Clients: each request goes to a random actor through a random node
    // that is up; a failed one is tried again by waitFor, which backs off.
    const acked = new Map<string, AckedReply[]>(ACTORS.map((a) => [a, []]));
    let total = 0;
    let gate: Promise<void> | null = null;
    let inFlight = 0;
    const client = async (n: number) => {
      const mine = prng(options.seed * 31 + n);
      while (!stopping) {
        if (gate) {
          await gate;
          continue;
        }
        const actor = ACTORS[Math.floor(mine() * ACTORS.length)];
        inFlight++;
        try {
          // A client that waited in vain goes on; the round's own wait
          // says what did not come back.
          await waitFor(`${actor} answering a request`, async () => {
            if (stopping || gate) return true;
            const up = [...nodes.values()].filter((x) => x.state === "up");
            if (up.length === 0) return null;
            const via = up[Math.floor(mine() * up.length)];
            const r = await api(
              via,
              `/runs/${RUN}/actors/${actor}/request`,
              { msg: "inc", timeout_ms: 3000 },
            );
            if (r?.status !== 200) return null;
            acked.get(actor)!.push({
              seq: r.body.seq as number,
              reply: r.body.reply as Json,
            });
            total++;
            return true;
          }).catch(() => {});
        } finally {
          inFlight--;
        }
      }
    };
    for (let i = 0; i < (options.clients ?? 4); i++) clients.push(client(i));
    await waitFor(
      "a reply from every actor",
      () => ACTORS.every((a) => acked.get(a)!.length > 0),
      {
        seen: () => Object.fromEntries(acked),
      },
    );

    // The hogs, from here to the end.
    for (let i = 0; i < (options.hogs ?? 2); i++) {
      children.push(
        new Deno.Command("sh", {
          args: ["-c", "while :; do :; done"],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }

    const signal = (node: Node, sig: "SIGKILL" | "SIGSTOP" | "SIGCONT") => {
      node.child.kill(sig);
      node.state = sig === "SIGKILL"
        ? "dead"
        : sig === "SIGSTOP"
        ? "stopped"
        : "up";
    };
    /** The next claim of one of `node`'s placements: [actor, taker]. */
    const claimFrom = async (
      node: string,
      held: string[],
    ): Promise<[string, string]> =>
      await waitFor(
        `a claim of ${held.join(", ")} from node ${node}`,
        async () => {
          for (const actor of held) {
            const now = await placedOn(actor);
            if (now && now !== node) return [actor, now] as [string, string];
          }
          return null;
        },
      );

    const reports: RoundReport[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const schedule: string[] = [];
      const say = (what: string) => {
        schedule.push(what);
        log(`round ${round}: ${what}`);
      };
      const target = pick(ACTORS);
      const victim = nodes.get((await placedOn(target))!)!;
      const held: string[] = [];
      for (const a of ACTORS) {
        if (await placedOn(a) === victim.name) held.push(a);
      }
      const from = total;
      const before = options.before ?? 8;
      await waitFor(
        `${before} replies in round ${round}`,
        async () => total >= from + before || (await trackWhere(), false),
        { seen: () => ({ replies: total - from, where: seenWhere() }) },
      );
      const how = pick(["SIGKILL", "SIGSTOP"] as const);
      say(
        `${how === "SIGKILL" ? "kill -9" : "SIGSTOP"} ${victim.name} (runs ${
          held.join(", ")
        })`,
      );
      signal(victim, how);
      const [claimed, takerName] = await claimFrom(victim.name, held);
      const taker = nodes.get(takerName)!;
      say(`claim of ${claimed} by ${takerName}`);
      const then = pick(
        how === "SIGSTOP"
          ? ["wake", "wake", "kill-taker", "stop-taker", "none"] as const
          : ["kill-taker", "stop-taker", "none"] as const,
      );
      if (then === "wake") {
        say(`SIGCONT ${victim.name} (the zombie wakes during the takeover)`);
        signal(victim, "SIGCONT");
      } else if (then === "kill-taker" || then === "stop-taker") {
        const takerHeld: string[] = [];
        for (const a of ACTORS) {
          if (await placedOn(a) === takerName) takerHeld.push(a);
        }
        say(
          `${then === "kill-taker" ? "kill -9" : "SIGSTOP"} taker ${takerName}`,
        );
        signal(taker, then === "kill-taker" ? "SIGKILL" : "SIGSTOP");
        const [again, last] = await claimFrom(takerName, takerHeld);
        say(`claim of ${again} by ${last}`);
      }
      // Back to three nodes: the paused wake (zombies), the killed start
      // again on their old folders.
      for (const node of nodes.values()) {
        if (node.state === "stopped") {
          say(`SIGCONT ${node.name}`);
          signal(node, "SIGCONT");
        }
      }
      for (const node of [...nodes.values()]) {
        if (node.state === "dead") {
          await node.child.status;
          say(`restart ${node.name}`);
          await startNode(node.name);
        }
      }
      // Every actor answers again (on a node that is up).
      const mark = new Map(ACTORS.map((a) => [a, acked.get(a)!.length]));
      await waitFor(`every actor answering after round ${round}`, async () => {
        for (const a of ACTORS) {
          const on = await placedOn(a);
          if (!on || nodes.get(on)?.state !== "up") return false;
          if (acked.get(a)!.length <= mark.get(a)!) return false;
        }
        return true;
      }, {
        seen: () =>
          Object.fromEntries(
            ACTORS.map((a) => [a, acked.get(a)!.length - mark.get(a)!]),
          ),
      });
      // Liveness: every placed root runs on its placement's node, which is
      // up, and on no other (a woken zombie hands its copy over).
      await waitFor(
        `every actor running on exactly its placement's node after round ${round}`,
        async () => {
          const now = await trackWhere();
          return Object.values(now).every((w) =>
            w.placed !== null && w.on.length === 1 && w.on[0] === w.placed
          );
        },
        { seen: seenWhere },
      );
      // Hold the clients while the stream is read: what they were given is
      // then all in it (acknowledged means in the stream).
      let open!: () => void;
      gate = new Promise((r) => open = r);
      await waitFor("the clients to pause", () => inFlight === 0);
      const problems: string[] = [];
      const pulled = join(dir, "pulled", String(round));
      // A step of a request a client gave up on may still land: read until
      // the stream stands still across the pull.
      const counts = await waitFor("the stream to stand still", async () => {
        const before = await cl.subjects(RUN);
        await cl.pull(RUN, pulled);
        const after = await cl.subjects(RUN);
        return ACTORS.every((a) => before.get(a) === after.get(a))
          ? after
          : null;
      });
      for (const actor of ACTORS) {
        const messages = (await cl.messagesAfter(
          RUN,
          actor,
          0,
          counts.get(actor) ?? 0,
        )).map((m) => m.text);
        const chain = await Deno.readTextFile(join(pulled, `${actor}.jsonl`));
        for (
          const p of checkOneWriter({
            actor,
            messages,
            chain,
            acked: acked.get(actor),
          })
        ) problems.push(`${actor}: ${p.kind}: ${p.message}`);
        // The witness reads as far as the stream goes, or says why not.
        const events = chain.split("\n").length - 1;
        const head = new RegExp(`^${RUN}/${actor}: cosigned \\((\\d+) events`);
        const seen = await waitFor(
          `the witness co-signing ${actor} at ${events} events, or an alert`,
          () =>
            alerts.lines.find((l) => l.startsWith(`${RUN}/${actor}#`)) ??
              (cosigned.lines.some((l) => Number(head.exec(l)?.[1]) >= events)
                ? "cosigned"
                : null),
          { seen: () => cosigned.lines.slice(-3) },
        );
        if (seen !== "cosigned") problems.push(`witness: ${seen}`);
      }
      gate = null;
      open();
      reports.push({ round, schedule, problems, acked: total });
      log(
        `round ${round}: ${
          problems.length === 0 ? "ok" : problems.join("\n  ")
        } (${total} replies acknowledged)`,
      );
    }
    return reports;
  } finally {
    stopping = true;
    for (const child of children) {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Promise.allSettled(children.map((c) => c.status));
    await Promise.allSettled(clients);
    await cluster?.close();
    await nc?.close();
    await nats.stop();
  }
}
