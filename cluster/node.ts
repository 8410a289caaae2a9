// Copyright the Theater authors. MIT license.
/**
 * A node of a cluster (`theater serve --nats URL --node NAME`,
 * docs/cluster.md). Nodes find each other through a JetStream key-value
 * bucket of heartbeats; each root actor of a run is *placed* on one node
 * (a record in a second bucket), and a run may have roots on several
 * nodes. Actors reach the actors of their run on other nodes through
 * NATS request/reply, one subject per actor; both ends record the message
 * exactly as locally. When a node stops beating, the others race to claim
 * its placements with a compare-and-set on the record; the one that wins
 * pulls the chains from the stream and resumes the actors, and the
 * stream's one-writer-per-actor rule refuses the old node should it come
 * back.
 *
 * @module
 */
import type {
  Msg,
  NatsConnection,
  Subscription,
} from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import type { ChainEvent, ChainLink, Json } from "../chain/mod.ts";
import { parseDocument, type RespondTo } from "../runtime/mod.ts";
import { loadManifest, NODE_NAME, type Remote } from "../supervisor/mod.ts";
import {
  ACTOR_ID,
  type ClusterRoute,
  type RequestAnswer,
  requestWithin,
  RunError,
  type Runs,
  sendNow,
} from "../server/mod.ts";
import { z } from "zod";
import { beating, chooseNode, duty } from "./placement.ts";
import type { Cluster } from "./stream.ts";
import { connections } from "./_connection.ts";

function connectionOf(cluster: Cluster): NatsConnection {
  return connections.get(cluster)!;
}

/** The bucket of node heartbeats, by node name. */
export const NODES_BUCKET = "theater-nodes";
/** The bucket of placements, by `<run>.<root actor>`. */
export const PLACEMENTS_BUCKET = "theater-placements";
/** The bucket of running actors, by `<run>.<actor>`: the node that runs it. */
export const ACTORS_BUCKET = "theater-actors";
/** The first tokens of an actor's subject (then run and actor). */
export const ACTOR_SUBJECT = "theater.to";
/** The first tokens of a node's control subject (then node and verb). */
export const NODE_SUBJECT = "theater.node";

/**
 * How many failed resumes of a placement in a row a node tries again at
 * the next beat (and says on stderr); after that, every tenth beat.
 */
export const TAKEOVER_ATTEMPTS = 10;

/** A node as its heartbeat says. */
export interface NodeInfo {
  /** Its name. */
  name: string;
  /** Actors running on it. */
  load: number;
  /** Its API's base URL. */
  api: string;
  /** Whether it is beating (as this node sees it). */
  alive: boolean;
}

/** Where a root actor of a run runs. */
export interface Placement {
  /** The run. */
  run: string;
  /** The root actor's id (its manifest's name). */
  root: string;
  /** The root manifest's path (the same on every node: docs/cluster.md). */
  manifest: string;
  /** The node that runs it. */
  node: string;
}

/** What goes over an actor's subject. */
type Wire =
  | {
    kind: "actor";
    msg: Json;
    from: string;
    link: ChainLink | null;
    size: number;
    respondTo?: RespondTo;
    response?: string;
  }
  | { kind: "send"; msg: Json }
  | { kind: "request"; msg: Json; timeoutMs: number };

const json = z.custom<Json>(() => true);
const link = z.strictObject({ actor: z.string(), hash: z.string() }).nullable();
const WIRE = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("actor"),
    msg: json,
    from: z.string().regex(ACTOR_ID),
    link,
    size: z.number().int().nonnegative(),
    respondTo: z.strictObject({ actor: z.string(), id: z.string() })
      .optional(),
    response: z.string().optional(),
  }),
  z.strictObject({ kind: z.literal("send"), msg: json }),
  z.strictObject({
    kind: z.literal("request"),
    msg: json,
    timeoutMs: z.number().int().min(1).max(600_000),
  }),
]);

const encoder = new TextEncoder();

/** Options of {@linkcode ClusterNode.join}. */
export interface NodeOptions {
  /** The node's name, unique in the cluster. */
  name: string;
  /** How often it beats (default 500 ms). */
  heartbeatMs?: number;
  /** How long without a beat before a node counts as gone (default 3 s). */
  deadAfterMs?: number;
  /** What the node says about failovers. */
  onNotice?: (line: string) => void;
}

/** One node of a cluster, serving the runs of one `theater serve`. */
export class ClusterNode implements ClusterRoute {
  /** The node's name. */
  readonly name: string;
  #cluster: Cluster;
  #nc: NatsConnection;
  #runs!: Runs;
  #nodes: KV;
  #placements: KV;
  #actors: KV;
  /** Per run: its actors on other nodes, and who wants to know. */
  #directory = new Map<
    string,
    {
      remote: Set<string>;
      listeners: ((actor: string, present: boolean) => void)[];
    }
  >();
  #watching: { stop(): void } | null = null;
  #options: NodeOptions;
  #subs = new Map<string, Subscription>();
  #control: Subscription | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Per other node: the last revision of its beat and when it changed. */
  #seen = new Map<string, { revision: number; at: number }>();
  #joined = performance.now();
  #ticking = false;
  /** Takeovers and hand-overs, one after another. */
  #takeovers: Promise<void> = Promise.resolve();
  /** Placements with a start, takeover or hand-over queued or under way. */
  #busy = new Set<string>();
  /** Placements whose root this process started or resumed. */
  #mine = new Set<string>();
  /** Per placement: resumes that failed in a row, and beats to wait. */
  #failed = new Map<string, { n: number; wait: number }>();
  /** Actors this node announced (started or resumed here), by key. */
  #here = new Map<string, { run: string; actor: string }>();
  /** Who runs each actor, as the actors bucket says, by key. */
  #owners = new Map<string, string>();
  #closed = false;
  #leaving = false;
  #api = "";

  private constructor(
    cluster: Cluster,
    buckets: { nodes: KV; placements: KV; actors: KV },
    options: NodeOptions,
  ) {
    this.name = options.name;
    this.#cluster = cluster;
    this.#nc = connectionOf(cluster);
    this.#nodes = buckets.nodes;
    this.#placements = buckets.placements;
    this.#actors = buckets.actors;
    this.#options = options;
  }

  /**
   * Joins the cluster as `options.name`. A name another live node beats
   * under is refused. {@linkcode ClusterNode.serve} then starts the work.
   */
  static async join(
    cluster: Cluster,
    options: NodeOptions,
  ): Promise<ClusterNode> {
    if (!NODE_NAME.test(options.name)) {
      throw new RunError(
        400,
        `node name ${
          JSON.stringify(options.name)
        } must be 1-64 letters, digits, '_' or '-'`,
      );
    }
    const kvm = new Kvm(connectionOf(cluster));
    const nodes = await kvm.create(NODES_BUCKET, { history: 1 });
    const placements = await kvm.create(PLACEMENTS_BUCKET, { history: 1 });
    const actors = await kvm.create(ACTORS_BUCKET, { history: 1 });
    const node = new ClusterNode(
      cluster,
      { nodes, placements, actors },
      options,
    );
    const before = await nodes.get(options.name);
    if (before && before.operation === "PUT") {
      // Another process may beat under this name: wait one period and see.
      await new Promise((r) => setTimeout(r, node.#deadAfter));
      const after = await nodes.get(options.name);
      if (after && after.revision !== before.revision) {
        throw new RunError(
          409,
          `node ${options.name} is already in the cluster (its heartbeat goes on)`,
        );
      }
    }
    return node;
  }

  get #deadAfter(): number {
    return this.#options.deadAfterMs ?? 3000;
  }

  /**
   * Starts beating, answering for its actors, and watching the others;
   * `api` is this node's API URL, shown to them.
   */
  async serve(runs: Runs, api: string): Promise<void> {
    this.#runs = runs;
    this.#api = api;
    await this.#beat();
    const watch = await this.#actors.watch();
    this.#watching = watch;
    (async () => {
      for await (const e of watch) {
        const dot = e.key.indexOf(".");
        if (e.operation === "PUT") this.#owners.set(e.key, e.string());
        else this.#owners.delete(e.key);
        const present = e.operation === "PUT" && e.string() !== this.name;
        this.#where(e.key.slice(0, dot), e.key.slice(dot + 1), present);
      }
    })().catch((err) => {
      if (!this.#closed) {
        this.#options.onNotice?.(`cluster: ${(err as Error).message}`);
      }
    });
    this.#control = this.#nc.subscribe(
      `${NODE_SUBJECT}.${this.name}.start`,
      { callback: (_err, m) => void this.#onStart(m) },
    );
    this.#timer = setInterval(
      () => void this.#tick(),
      this.#options.heartbeatMs ?? 500,
    );
  }

  #runDirectory(run: string) {
    let d = this.#directory.get(run);
    if (!d) {
      d = { remote: new Set(), listeners: [] };
      this.#directory.set(run, d);
    }
    return d;
  }

  /** An actor of a run started (`present`) or stopped on another node. */
  #where(run: string, actor: string, present: boolean): void {
    const d = this.#runDirectory(run);
    if (present === d.remote.has(actor)) return;
    if (present) d.remote.add(actor);
    else d.remote.delete(actor);
    for (const listener of d.listeners) listener(actor, present);
  }

  /** What each run's actor system uses to reach other nodes. */
  remote(run: string): Remote {
    return {
      watch: (change) => {
        const d = this.#runDirectory(run);
        d.listeners.push(change);
        for (const actor of d.remote) change(actor, true);
        return () => {
          d.listeners = d.listeners.filter((l) => l !== change);
        };
      },
      send: async (to, msg, options) => {
        const wire: Wire = { kind: "actor", msg, ...options };
        try {
          const reply = await this.#nc.request(
            `${ACTOR_SUBJECT}.${run}.${to}`,
            encoder.encode(JSON.stringify(wire)),
            { timeout: 120_000 },
          );
          return reply.json<{ ok: boolean; error?: string }>();
        } catch (err) {
          return { ok: false, error: noResponder(err, run, to) };
        }
      },
    };
  }

  /**
   * Follows the events of this node's runs: an actor that starts answers
   * on its subject, one that stops no longer does.
   */
  onEvent(run: string, actor: string, event: ChainEvent): void {
    const key = `${run}.${actor}`;
    if (event.type === "actor.start" || event.type === "actor.resume") {
      this.#here.set(key, { run, actor });
      this.#answer(key, run, actor);
      this.#actors.put(key, this.name).catch(() => {});
    } else if (event.type === "actor.stop") {
      this.#here.delete(key);
      this.#withdraw(key);
    }
  }

  /** Answers on an actor's subject. */
  #answer(key: string, run: string, actor: string): void {
    if (this.#subs.has(key) || this.#closed) return;
    this.#subs.set(
      key,
      this.#nc.subscribe(`${ACTOR_SUBJECT}.${key}`, {
        callback: (_err, m) => void this.#onMessage(run, actor, m),
      }),
    );
  }

  /** Answers no more for an actor, and takes it out of the directory. */
  #withdraw(key: string): void {
    this.#subs.get(key)?.unsubscribe();
    this.#subs.delete(key);
    this.#forget(key).catch(() => {});
  }

  /**
   * The actors this node announced, checked against what runs here: one
   * whose chain was refused (its start or a step) stopped without an
   * `actor.stop` (nothing more is recorded for it), so it no longer
   * answers; one that runs is in the directory under this node.
   */
  #reconcileActors(): void {
    for (const [key, { run, actor }] of this.#here) {
      if (!this.#runs.running(run, actor)) {
        this.#here.delete(key);
        this.#withdraw(key);
        continue;
      }
      this.#answer(key, run, actor);
      if (this.#owners.get(key) !== this.name) {
        this.#actors.put(key, this.name).catch(() => {});
      }
    }
  }

  /** Takes an actor out of the directory, unless another node has it now. */
  async #forget(key: string): Promise<void> {
    const e = await this.#actors.get(key);
    if (e?.operation !== "PUT" || e.string() !== this.name) return;
    await this.#actors.delete(key, { previousSeq: e.revision });
  }

  async #onMessage(run: string, actor: string, m: Msg): Promise<void> {
    const key = `${run}.${actor}`;
    if (!this.#runs.running(run, actor)) {
      // Announced here, but its chain was refused: another node runs it
      // now, and answers; this node must not answer first with an error.
      this.#here.delete(key);
      this.#withdraw(key);
      const owner = this.#owners.get(key);
      if (owner !== undefined && owner !== this.name) return;
    }
    let wire: Wire;
    try {
      // Through the document gate (1e400, lone surrogates and integers
      // past 2^53 are refused, not rounded), then the shape.
      wire = WIRE.parse(parseDocument(m.string(), "message")) as Wire;
    } catch (err) {
      const error = err instanceof z.ZodError
        ? `message: ${err.issues[0].path.join(".")}: ${err.issues[0].message}`
        : (err as Error).message;
      m.respond(
        encoder.encode(JSON.stringify({ ok: false, status: 400, error })),
      );
      return;
    }
    let answer: unknown;
    try {
      const system = this.#runs.live(run).system;
      if (wire.kind === "actor") {
        const { kind: _, msg, ...options } = wire;
        answer = await system.receive(actor, msg, options);
      } else if (wire.kind === "send") {
        const refused = await sendNow(system, { to: actor, msg: wire.msg });
        answer = refused
          ? { ok: false, status: 429, error: refused.message }
          : { ok: true };
      } else {
        const r = await requestWithin(system, {
          to: actor,
          msg: wire.msg,
          timeoutMs: wire.timeoutMs,
        });
        answer = r === null
          ? { timeout: true }
          : r.ok
          ? r
          : { ...r, status: 422 };
      }
    } catch (err) {
      answer = { ok: false, status: 404, error: (err as Error).message };
    }
    m.respond(encoder.encode(JSON.stringify(answer)));
  }

  /** Sends to an actor of a run on whichever node runs it. */
  async send(run: string, actor: string, msg: Json): Promise<void> {
    const r = await this.#ask(run, actor, { kind: "send", msg }, 30_000);
    if (!r.ok) throw new RunError(r.status ?? 404, r.error ?? "not sent");
  }

  /**
   * A request to an actor of a run on whichever node runs it: its reply,
   * or null when none came within `timeoutMs`.
   */
  async request(
    run: string,
    actor: string,
    msg: Json,
    timeoutMs: number,
  ): Promise<RequestAnswer | null> {
    const r = await this.#ask(
      run,
      actor,
      { kind: "request", msg, timeoutMs },
      timeoutMs + 5_000,
    );
    if (r.timeout) return null;
    if (!r.ok && r.status === 404) throw new RunError(404, r.error!);
    return r;
  }

  async #ask(
    run: string,
    actor: string,
    wire: Wire,
    timeout: number,
  ): Promise<
    {
      ok: boolean;
      status?: number;
      error?: string;
      reply?: Json;
      seq?: number;
      timeout?: boolean;
    }
  > {
    try {
      const m = await this.#nc.request(
        `${ACTOR_SUBJECT}.${run}.${actor}`,
        encoder.encode(JSON.stringify(wire)),
        { timeout },
      );
      return m.json();
    } catch (err) {
      return { ok: false, status: 404, error: noResponder(err, run, actor) };
    }
  }

  /** The nodes of the cluster, as their heartbeats say. */
  async nodes(): Promise<NodeInfo[]> {
    const out: NodeInfo[] = [];
    for (const name of await keysOf(this.#nodes)) {
      const e = await this.#nodes.get(name);
      if (!e || e.operation !== "PUT") continue;
      const beat = e.json<{ load: number; api: string }>();
      out.push({
        name,
        load: beat.load,
        api: beat.api,
        alive: name === this.name || this.#alive(name, e.revision),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every placement in the cluster. */
  async placements(): Promise<Placement[]> {
    const out: Placement[] = [];
    for (const key of await keysOf(this.#placements)) {
      const e = await this.#placements.get(key);
      if (e && e.operation === "PUT") out.push(e.json<Placement>());
    }
    return out;
  }

  /**
   * Places a root actor of `run` on a node: `node`, else the manifest's
   * `node`, else the least loaded live node. Returns where it went.
   */
  async place(
    run: string,
    manifestPath: string,
    node?: string,
  ): Promise<{ node: string; run: string }> {
    let manifest;
    try {
      manifest = await loadManifest(manifestPath);
    } catch (err) {
      throw new RunError(400, (err as Error).message);
    }
    const id = run || manifest.name;
    this.#runs.folder(id);
    const chosen = chooseNode(
      (await this.nodes()).filter((n) => n.alive),
      await this.placements(),
      { requested: node, manifest: manifest.node },
    );
    if ("error" in chosen) throw new RunError(409, chosen.error);
    const target = chosen.node;
    if (target === this.name) {
      await this.#startHere(id, manifest.path, manifest.name);
      return { node: target, run: id };
    }
    let m: Msg;
    try {
      m = await this.#nc.request(
        `${NODE_SUBJECT}.${target}.start`,
        encoder.encode(JSON.stringify({ run: id, manifest: manifest.path })),
        { timeout: 120_000 },
      );
    } catch (err) {
      throw new RunError(
        503,
        `node ${target} did not answer: ${(err as Error).message}`,
      );
    }
    const r = m.json<{ ok: boolean; status?: number; error?: string }>();
    if (!r.ok) throw new RunError(r.status ?? 500, r.error ?? "not started");
    return { node: target, run: id };
  }

  async #startHere(run: string, manifest: string, root: string) {
    const key = `${run}.${root}`;
    // Not a placement to hand over or resume while it starts.
    this.#busy.add(key);
    try {
      await this.#runs.start(manifest, { id: run });
      this.#mine.add(key);
      const placement: Placement = { run, root, manifest, node: this.name };
      await this.#placements.put(
        key,
        encoder.encode(JSON.stringify(placement)),
      );
    } finally {
      this.#busy.delete(key);
    }
  }

  async #onStart(m: Msg): Promise<void> {
    let answer: unknown;
    try {
      const { run, manifest } = m.json<{ run: string; manifest: string }>();
      const loaded = await loadManifest(manifest);
      await this.#startHere(run, loaded.path, loaded.name);
      answer = { ok: true };
    } catch (err) {
      answer = {
        ok: false,
        status: err instanceof RunError ? err.status : 400,
        error: (err as Error).message,
      };
    }
    m.respond(encoder.encode(JSON.stringify(answer)));
  }

  async #beat(): Promise<void> {
    await this.#nodes.put(
      this.name,
      encoder.encode(JSON.stringify({
        load: this.#runs.actorCount(),
        api: this.#api,
      })),
    );
  }

  /** Whether another node's beat moved within the last `deadAfterMs`. */
  #alive(name: string, revision: number | null): boolean {
    return beating(
      this.#seen,
      name,
      revision,
      performance.now(),
      this.#deadAfter,
    );
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      await this.#beat();
      const alive = new Set(
        (await this.nodes()).filter((n) => n.alive).map((n) => n.name),
      );
      this.#reconcileActors();
      // A node that has just joined has not yet seen the others beat.
      if (performance.now() - this.#joined < this.#deadAfter) return;
      if (this.#leaving) return;
      for (const key of await keysOf(this.#placements)) {
        if (this.#busy.has(key)) continue;
        const e = await this.#placements.get(key);
        if (!e || e.operation !== "PUT") continue;
        const p = e.json<Placement>();
        const running = this.#runs.running(p.run, p.root);
        const lost = this.#runs.lost(p.run, p.root);
        const todo = duty(p, {
          name: this.name,
          alive: alive.has(p.node),
          running,
          started: this.#mine.has(key),
          lost: lost !== null || this.#failed.has(key),
        });
        if (todo === "none") {
          if (running) this.#failed.delete(key);
          continue;
        }
        if (todo === "hand-over") {
          this.#queue(key, () => this.#handOver(p, key));
          continue;
        }
        if (todo === "resume") {
          const failed = this.#failed.get(key);
          if (failed && failed.wait-- > 0) continue;
          const why = lost !== null
            ? `${p.root} of run ${p.run} was given up here (${lost})`
            : `${p.root} of run ${p.run} is placed here but not running`;
          this.#queue(
            key,
            () => this.#takeOver(p, { key, revision: e.revision }, why),
          );
          continue;
        }
        const mine = { ...p, node: this.name };
        let revision: number;
        try {
          revision = await this.#placements.update(
            key,
            encoder.encode(JSON.stringify(mine)),
            e.revision,
          );
        } catch {
          continue; // Another node claimed it first.
        }
        this.#queue(
          key,
          () => this.#takeOver(p, { key, revision }, `node ${p.node} is gone`),
        );
      }
    } catch (err) {
      if (!this.#closed) {
        this.#options.onNotice?.(`cluster: ${(err as Error).message}`);
      }
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Queues work on a placement: one at a time (takeovers pull into the
   * same run folders), and not in the tick: the beat must go on while
   * chains are pulled and actors resumed, or the others would think this
   * node gone too.
   */
  #queue(key: string, work: () => Promise<void>): void {
    this.#busy.add(key);
    this.#takeovers = this.#takeovers.then(async () => {
      try {
        await work();
      } catch (err) {
        if (!this.#closed) {
          this.#options.onNotice?.(`cluster: ${(err as Error).message}`);
        }
      } finally {
        this.#busy.delete(key);
      }
    });
  }

  /**
   * Resumes a root actor here from its chains in the stream (a gone
   * node's, or one of this node's that is not running), while the claim
   * (the record at `claim.revision`) is still this node's: a node paused
   * in the middle of a takeover may wake after another claimed the
   * placement from it. A failed resume (say, the stream moved past the
   * pulled copy: the old node, paused and woken, wrote one more step) is
   * tried again from a fresh pull by a later beat: at the next one for
   * the first {@linkcode TAKEOVER_ATTEMPTS} failures in a row, then every
   * tenth.
   */
  async #takeOver(
    p: Placement,
    claim: { key: string; revision: number },
    why: string,
  ): Promise<void> {
    if (this.#leaving || this.#closed) return;
    const now = await this.#placements.get(claim.key).catch(() => null);
    if (now?.revision !== claim.revision) {
      this.#failed.delete(claim.key);
      this.#options.onNotice?.(
        `not resuming ${p.root} of run ${p.run}: its placement moved on (${
          now?.operation === "PUT" ? `to ${now.json<Placement>().node}` : "gone"
        })`,
      );
      return;
    }
    if (this.#runs.running(p.run, p.root)) {
      this.#mine.add(claim.key);
      return;
    }
    const failed = this.#failed.get(claim.key);
    if (!failed) {
      this.#options.onNotice?.(
        `${why}: resuming ${p.root} of run ${p.run} here`,
      );
    }
    try {
      let live: string[] = [];
      try {
        live = this.#runs.live(p.run).system.actors;
      } catch {
        // The run has no actors here yet.
      }
      const here = new Set(live);
      await this.#cluster.pull(p.run, this.#runs.folder(p.run), {
        skip: (actor) => here.has(actor),
      });
      await this.#runs.start(p.manifest, { id: p.run });
      this.#mine.add(claim.key);
      this.#failed.delete(claim.key);
      this.#options.onNotice?.(`resumed ${p.root} of run ${p.run}`);
    } catch (err) {
      const n = (failed?.n ?? 0) + 1;
      this.#failed.set(claim.key, {
        n,
        wait: n < TAKEOVER_ATTEMPTS ? 0 : 9,
      });
      if (n <= TAKEOVER_ATTEMPTS || n % 10 === 0) {
        this.#options.onNotice?.(
          `could not resume ${p.root} of run ${p.run} (${n} in a row; trying again ${
            n < TAKEOVER_ATTEMPTS ? "at the next beat" : "every tenth beat"
          }): ${(err as Error).message}`,
        );
      }
    }
  }

  /**
   * Stops a root here that another node has claimed (this node was
   * paused or cut off, and seemed gone), as a stopping run does: its
   * chains end in a stop the claimer resumes from, or, if the claimer has
   * written already, the stream refuses it and nothing is recorded. Until
   * then, every step it records is still the only writer's.
   */
  async #handOver(p: Placement, key: string): Promise<void> {
    if (!this.#runs.running(p.run, p.root)) return;
    const now = await this.#placements.get(key);
    const node = now?.operation === "PUT" ? now.json<Placement>().node : null;
    if (node === null || node === this.name) return;
    this.#mine.delete(key);
    this.#options.onNotice?.(
      `${p.root} of run ${p.run} is placed on node ${node}: stopping it here`,
    );
    await this.#runs.stopRoot(p.run, p.root, `placed on node ${node}`);
  }

  /**
   * Takes over no more placements (the server is stopping); beats go on
   * until {@linkcode ClusterNode.close}, so that no other node takes this
   * one's actors while they record their stop.
   */
  leave(): void {
    this.#leaving = true;
  }

  /**
   * Leaves the cluster: no more beats or messages. Its placements stay
   * its own, so that the other nodes resume them once its beat is gone —
   * after `close`, when its runs have stopped (`serve` stops them first).
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#watching?.stop();
    await this.#takeovers;
    for (const s of this.#subs.values()) s.unsubscribe();
    this.#subs.clear();
    this.#control?.unsubscribe();
    await this.#nodes.delete(this.name).catch(() => {});
  }
}

/**
 * The keys of a bucket, once each: its listing follows the bucket's
 * stream, so a key written while it runs can come twice.
 */
async function keysOf(kv: KV): Promise<string[]> {
  const keys = new Set<string>();
  for await (const key of await kv.keys()) keys.add(key);
  return [...keys].sort();
}

function noResponder(err: unknown, run: string, actor: string): string {
  const text = (err as Error).message ?? String(err);
  return /no responders|503/i.test(text)
    ? `no actor ${JSON.stringify(actor)} of run ${run} is running on any node`
    : `not delivered to ${actor}: ${text}`;
}
