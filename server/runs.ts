// Copyright the Theater authors. MIT license.
/**
 * The runs a server owns: each a run directory under the server's folder
 * (`<dir>/<run id>/`) with its actor system — the same recorder,
 * supervision, limits and resume as `theater run`. Runs recorded earlier
 * (a folder of chains that is not running) are listed as stopped; their
 * chains can be read, verified and replayed like any other.
 *
 * @module
 */
import { join } from "node:path";
import { type ChainEvent, type Json, lastEvent } from "../chain/mod.ts";
import {
  type ActorInfo,
  ActorSystem,
  loadManifest,
  type Remote,
  type Replication,
  type ResolvedManifest,
} from "../supervisor/mod.ts";

/** A run id, which is also its folder name. */
export const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** An actor id (names a chain file in the run's folder). */
export const ACTOR_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A run the server started, while it lives. */
export interface LiveRun {
  /** The run's id. */
  id: string;
  /** Its folder. */
  dir: string;
  /** The root manifest. */
  manifest: ResolvedManifest;
  /** Its actors. */
  system: ActorSystem;
  /** When it started (ms since the epoch). */
  started: number;
  /** Why it stopped, once it has. */
  stopped: string | null;
}

/** How a run stands, as the API lists it. */
export interface RunInfo {
  /** The run's id. */
  id: string;
  /** Its folder. */
  dir: string;
  /** `running` while its actors run; `stopped` otherwise. */
  status: "running" | "stopped";
  /** Why it stopped, when the server knows. */
  reason: string | null;
  /** The root manifest's path, when the server started it. */
  manifest: string | null;
  /** The chains in its folder (actor ids). */
  chains: string[];
  /** Running actors (none when stopped). */
  actors: ActorInfo[];
  /**
   * Actors whose chain ends in `actor.stop`, with its reason: `failed`
   * when they stopped on a failure, else `stopped`.
   */
  ended: { id: string; status: "stopped" | "failed"; reason: string }[];
  /**
   * Roots this server gave up in a cluster (a chain of their tree was
   * refused: another node writes it now), with why; the run's other roots
   * go on.
   */
  given_up: { id: string; reason: string }[];
}

/** Something wrong with a request about runs: an HTTP status and why. */
export class RunError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "RunError";
  /** The HTTP status the API answers with. */
  readonly status: number;
  /** Makes the error; `status` is the HTTP status. */
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Sends without waiting for the handler: resolves with the refusal when
 * the actor's mailbox (or the run) refuses at once, null when the message
 * was accepted (its reply then goes to the chain only).
 */
export async function sendNow(
  system: ActorSystem,
  message: { to: string; msg: Json },
): Promise<Error | null> {
  // A refusal is an already-rejected promise: one microtask shows it.
  let refused = null as Error | null;
  system.send(message.to, message.msg).catch((e) => {
    refused = e;
  });
  await null;
  return refused;
}

/** What a request to an actor came back with: its reply or its error. */
export interface RequestAnswer {
  /** Whether the handler succeeded. */
  ok: boolean;
  /** The handler's reply, when it succeeded. */
  reply?: Json;
  /** Why it failed, when it did not. */
  error?: string;
  /** The seq of the event that records the outcome. */
  seq?: number;
}

/**
 * Sends and waits for the handler's outcome, at most `timeoutMs`: the
 * reply or the error, with the seq of the event that records it; null
 * when none came in time (the step still goes to the chain when it ends).
 */
export async function requestWithin(
  system: ActorSystem,
  request: { to: string; msg: Json; timeoutMs: number },
): Promise<(RequestAnswer & { seq: number }) | null> {
  // On the run's clock, so that a test's virtual time decides it too.
  const { clock } = system;
  let timer: number | undefined;
  const late = new Promise<null>((resolve) => {
    timer = clock.setTimer(() => resolve(null), request.timeoutMs);
  });
  try {
    const d = await Promise.race([system.send(request.to, request.msg), late]);
    if (d === null) return null;
    return d.ok
      ? { ok: true, reply: d.reply, seq: d.event.seq }
      : { ok: false, error: d.error ?? undefined, seq: d.event.seq };
  } finally {
    clock.clearTimer(timer);
  }
}

/** The runs of one server. */
export class Runs {
  /** The folder the runs live in. */
  readonly dir: string;
  #live = new Map<string, LiveRun>();
  #onEvent: (run: string, actor: string, event: ChainEvent) => void;
  #cacheDir: string | false | undefined;
  #replication?: (run: string) => Replication;
  #remote?: (run: string) => Remote;
  /** Per run: roots given up here after a chain of theirs was refused. */
  #lost = new Map<string, Map<string, string>>();

  /**
   * Makes the registry of runs under `dir` (none started).
   *
   * @param options.onEvent every event appended to a chain of a live run.
   * @param options.cacheDir the transpile cache (as `theater run`).
   */
  constructor(
    dir: string,
    options: {
      onEvent?: (run: string, actor: string, event: ChainEvent) => void;
      cacheDir?: string | false;
      /** Where each run's chains are copied as well (NATS JetStream). */
      replication?: (run: string) => Replication;
      /** How each run reaches its actors on other nodes (a cluster). */
      remote?: (run: string) => Remote;
    } = {},
  ) {
    this.dir = dir;
    this.#replication = options.replication;
    this.#remote = options.remote;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#cacheDir = options.cacheDir;
  }

  /** The folder of a run, checking its id. */
  folder(id: string): string {
    if (!RUN_ID.test(id)) {
      throw new RunError(
        400,
        `run id ${
          JSON.stringify(id)
        } must be 1-64 letters, digits, '_' or '-', starting with a letter or digit`,
      );
    }
    return join(this.dir, id);
  }

  /** The chain file of an actor of a run, checking both ids. */
  chain(run: string, actor: string): string {
    const dir = this.folder(run);
    if (!ACTOR_ID.test(actor) || actor.includes("..")) {
      throw new RunError(400, `actor id ${JSON.stringify(actor)} is not valid`);
    }
    const path = join(dir, `${actor}.jsonl`);
    try {
      if (!Deno.statSync(path).isFile) throw new Error();
    } catch {
      throw new RunError(404, `run ${run} has no chain for actor ${actor}`);
    }
    return path;
  }

  /** A live run, or a 404/409 naming why there is none. */
  live(id: string): LiveRun {
    const run = this.#live.get(id);
    if (run && !run.stopped) return run;
    this.folder(id);
    if (this.#exists(id)) {
      throw new RunError(409, `run ${id} is not running`);
    }
    throw new RunError(404, `no run ${id}`);
  }

  /** A live run with this actor running, or a 404/409 naming why not. */
  liveActor(id: string, actor: string): LiveRun {
    const run = this.live(id);
    if (!run.system.actors.includes(actor)) {
      throw new RunError(404, `no actor ${actor} is running in run ${id}`);
    }
    return run;
  }

  #exists(id: string): boolean {
    try {
      return Deno.statSync(join(this.dir, id)).isDirectory;
    } catch {
      return false;
    }
  }

  /**
   * Starts (or resumes, when its folder holds chains) a run of a manifest.
   * The id defaults to the manifest's name.
   */
  async start(
    manifestPath: string,
    options: { id?: string } = {},
  ): Promise<LiveRun> {
    let manifest: ResolvedManifest;
    try {
      manifest = await loadManifest(manifestPath);
    } catch (err) {
      throw new RunError(400, (err as Error).message);
    }
    const id = options.id ?? manifest.name;
    const dir = this.folder(id);
    const live = this.#live.get(id);
    if (live && !live.stopped) {
      if (!this.#remote || live.system.actors.includes(manifest.name)) {
        throw new RunError(409, `run ${id} is already running`);
      }
      // In a cluster a run has a root on each of several nodes; a node
      // that takes over another's root starts it beside its own.
      return await this.#startRoot(live, manifest);
    }
    const system = new ActorSystem({
      chainDir: dir,
      cacheDir: this.#cacheDir,
      replication: this.#replication?.(id),
      remote: this.#remote?.(id),
      onEvent: (actor, event) => this.#onEvent(id, actor, event),
      // A run that cannot stop cleanly (its chains refused) is stopped all
      // the same; nothing more can be recorded for it here.
      onRootStopped: (reason) => void this.stop(id, reason).catch(() => {}),
      onFatal: (message) => void this.stop(id, message).catch(() => {}),
      // In a cluster a chain that takes no more events (the stream refused
      // it: another node writes the actor, which took over its root) ends
      // that root's part of the run here, not the roots this node still
      // runs for its placements.
      onChainFailed: this.#remote
        ? (actor, message) => void this.#giveUp(id, actor, message)
        : undefined,
    });
    const run: LiveRun = {
      id,
      dir,
      manifest,
      system,
      started: Date.now(),
      stopped: null,
    };
    this.#live.set(id, run);
    return await this.#startRoot(run, manifest);
  }

  /** Starts a root actor in a live run; a run left with none stops. */
  async #startRoot(
    run: LiveRun,
    manifest: ResolvedManifest,
  ): Promise<LiveRun> {
    const { system } = run;
    const alone = system.actors.length === 0;
    let init;
    try {
      init = await system.start(manifest);
    } catch (err) {
      if (alone) {
        run.stopped = (err as Error).message;
        await system.shutdown("start failed").catch(() => {});
      }
      throw new RunError(400, (err as Error).message);
    }
    if (init.ok) {
      this.#lost.get(run.id)?.delete(manifest.name);
    } else {
      // Recorded like any failed start; the run does not go on without it.
      if (alone) {
        run.stopped = `init failed: ${init.error}`;
        await system.shutdown("init failed").catch(() => {});
      }
      throw new RunError(
        422,
        `${manifest.name} failed to start: ${init.error}`,
      );
    }
    return run;
  }

  /**
   * Gives up the root whose tree holds `actor` (each actor of it stops,
   * recording what its chain still takes), once, and keeps why.
   */
  async #giveUp(id: string, actor: string, message: string): Promise<void> {
    const run = this.#live.get(id);
    if (!run || run.stopped) return;
    const parents = new Map(run.system.info().map((a) => [a.id, a.parent]));
    if (!parents.has(actor)) return;
    let root = actor;
    for (let up = parents.get(root); up; up = parents.get(root)) root = up;
    let lost = this.#lost.get(id);
    if (!lost) this.#lost.set(id, lost = new Map());
    if (lost.has(root)) return;
    const why = `${actor}: ${message}`;
    lost.set(root, why);
    await run.system.stopRoot(root, `gave up: ${why}`);
  }

  /**
   * Why this server gave up a root of a run (a chain of its tree was
   * refused: another node writes it), or null: none, or it started again.
   */
  lost(id: string, root: string): string | null {
    return this.#lost.get(id)?.get(root) ?? null;
  }

  /** Whether a root (or any actor) of a run runs here now. */
  running(id: string, actor: string): boolean {
    const run = this.#live.get(id);
    return run !== undefined && !run.stopped &&
      run.system.actors.includes(actor);
  }

  /**
   * Stops one root of a live run and its tree as a stopping run does
   * (recorded so that the next run of their chains, here or on another
   * node, resumes them); the run's other roots go on.
   */
  async stopRoot(id: string, root: string, reason: string): Promise<void> {
    const run = this.#live.get(id);
    if (!run || run.stopped) return;
    await run.system.stopRoot(root, reason);
  }

  /** How many actors run here, in every live run. */
  actorCount(): number {
    let n = 0;
    for (const run of this.#live.values()) {
      if (!run.stopped) n += run.system.actors.length;
    }
    return n;
  }

  /** Stops a live run: every actor's `actor.stop` recorded. */
  async stop(id: string, reason: string): Promise<void> {
    const run = this.#live.get(id);
    if (!run || run.stopped) return;
    run.stopped = reason;
    await run.system.shutdown(reason);
  }

  /** Stops every live run. */
  async shutdown(reason: string): Promise<void> {
    await Promise.all(
      [...this.#live.keys()].map((id) => this.stop(id, reason)),
    );
  }

  /**
   * The actors a run has chains for, sorted; a 404 when there is no such
   * run (neither started here nor a folder).
   */
  chains(id: string): string[] {
    const dir = this.folder(id);
    if (!this.#live.has(id) && !this.#exists(id)) {
      throw new RunError(404, `no run ${id}`);
    }
    const chains: string[] = [];
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isFile && e.name.endsWith(".jsonl")) {
          chains.push(e.name.slice(0, -".jsonl".length));
        }
      }
    } catch {
      // A run that failed before its folder was made has no chains.
    }
    return chains.sort();
  }

  /** How one run stands. */
  info(id: string): RunInfo {
    const dir = this.folder(id);
    const run = this.#live.get(id);
    const chains = this.chains(id);
    const running = run !== undefined && run.stopped === null;
    const live = new Set(running ? run.system.actors : []);
    const ended: RunInfo["ended"] = [];
    for (const actor of chains) {
      if (live.has(actor)) continue;
      const last = lastEvent(join(dir, `${actor}.jsonl`));
      if (last?.type !== "actor.stop") continue;
      const reason = String(last.data.reason ?? "");
      ended.push({
        id: actor,
        status: /^failed|gave up|given up/.test(reason) ? "failed" : "stopped",
        reason,
      });
    }
    return {
      id,
      dir,
      status: running ? "running" : "stopped",
      reason: run?.stopped ?? null,
      manifest: run?.manifest.path ?? null,
      chains,
      actors: running ? run.system.info() : [],
      ended,
      given_up: [...this.#lost.get(id) ?? []].map(([root, reason]) => ({
        id: root,
        reason,
      })),
    };
  }

  /** Every run: those started here and every folder of chains. */
  list(): RunInfo[] {
    const ids = new Set(this.#live.keys());
    try {
      for (const e of Deno.readDirSync(this.dir)) {
        if (e.isDirectory && RUN_ID.test(e.name)) ids.add(e.name);
      }
    } catch {
      // No folder yet: no runs on disk.
    }
    return [...ids].sort().map((id) => this.info(id));
  }
}
