// Copyright the Theater authors. MIT license.
/**
 * The actor system of one run: it starts actors from manifests, each with
 * its own chain in the run directory, routes messages between them,
 * supervises children with OTP semantics, and stops everything cleanly.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  type ChainEvent,
  type ChainLink,
  ChainWriteError,
  ChainWriter,
  CommitGroup,
  type Cut,
  cutTornTail,
  describeIoError,
  fromHex,
  type FsyncPolicy,
  type Json,
  MerkleFrontier,
  originOf,
  parseSignerKey,
  readEvents,
  sha256Hex,
  signCheckpoint,
  type SignerKey,
  STORE_DIR,
  verifyChain,
  writeFileAtomicSync,
} from "../chain/mod.ts";
import {
  type ActorExecutor,
  ActorRecorder,
  type ActorSlot,
  BlobStore,
  type Clock,
  ComponentError,
  COMPONENTS_DIR,
  type Delivery,
  type Effect,
  executorComponent,
  Gates,
  HTTP,
  limitName,
  loadComponent,
  type LoadedComponent,
  netHosts,
  NotDelivered,
  type Outgoing,
  quotaOf,
  type RespondTo,
  STORE,
  systemClock,
  type TimerId,
  unversioned,
  WorkerPool,
} from "../runtime/mod.ts";
import {
  loadManifest,
  ManifestError,
  type ResolvedManifest,
  resolveInside,
} from "./manifest.ts";
import { chargeRestart, type Exit, restartPlan, shouldRestart } from "./otp.ts";
import {
  ResumeFold,
  type ResumePoint,
  RUN_STOP,
  TIMER_FROM,
  wasRunning,
} from "./_resume.ts";

/** Where a run's output goes. */
export interface SystemEvents {
  /** A line the actor logged, shown after it is recorded. */
  onLog?: (actor: string, line: string) => void;
  /** Something went wrong that is not a reply to anyone. */
  onWarning?: (message: string) => void;
  /** The root actor stopped itself: the run is over. */
  onRootStopped?: (reason: string) => void;
  /** The root supervisor gave up: the run cannot go on. */
  onFatal?: (message: string) => void;
  /**
   * An actor's chain takes no more events (the disk failed, or the stream
   * refused it: another node writes the actor). When given, this is not
   * fatal to the run: the caller decides what stops (a cluster node gives
   * up that actor's root only, see cluster/node.ts); without it, onFatal
   * is called, once. It may be called more than once for one actor.
   */
  onChainFailed?: (actor: string, message: string) => void;
}

/** Options for {@linkcode ActorSystem}. */
export interface SystemOptions extends SystemEvents {
  /** The run directory; default: the root manifest's `chain.dir`. */
  chainDir?: string;
  /** Overrides every manifest's `chain.fsync`. */
  fsync?: FsyncPolicy;
  /** Where guests run; default: a pool of no-permission workers. */
  executor?: ActorExecutor;
  /**
   * Where the run's time comes from: actor timers, request time-outs,
   * restart windows, chain timestamps, and the watchdog of the pool the
   * run makes (not of one given as `executor`). Default: the system clock;
   * tests pass a `VirtualClock`.
   */
  clock?: Clock;
  /**
   * Directory for transpiled components, by SHA-256; `false` for no disk
   * cache; default: `defaultCacheDir()`.
   */
  cacheDir?: string | false;
  /**
   * Called with every event as it is appended to an actor's chain (before
   * it is synced): what live views follow. It must not throw.
   */
  onEvent?: (actor: string, event: ChainEvent) => void;
  /**
   * Where the run's chains are copied as well (NATS JetStream, see
   * cluster/): each actor's chain is attached when it opens, and an event
   * is acknowledged only once its copy is.
   */
  replication?: Replication;
  /**
   * Where a message goes whose receiver is not an actor of this system:
   * the same run's actors on other nodes of a cluster (cluster/node.ts).
   * Without it, such a message is not delivered.
   */
  remote?: Remote;
}

/** A message between actors of one run that are on different nodes. */
export interface RemoteMessage {
  /** The sending actor. */
  from: string;
  /** Link to the `message.out` event in the sender's chain. */
  link: ChainLink | null;
  /** Length of the message's JSON text. */
  size: number;
  /** When the message is a request: whom its reply goes back to. */
  respondTo?: RespondTo;
  /** When the message is the response to a request: the request's id. */
  response?: string;
}

/** The other nodes of a run, as its actor system sees them. */
export interface Remote {
  /**
   * Delivers `msg` to actor `to` on the node that runs it; resolves once
   * it was handled there (`ok: false` with why, when it was not).
   */
  send(
    to: string,
    msg: Json,
    options: RemoteMessage,
  ): Promise<{ ok: boolean; error?: string }>;
  /**
   * Calls `change` with every actor of the run that runs on another node,
   * now and whenever one starts or stops there, until the returned
   * function is called.
   */
  watch(change: (actor: string, present: boolean) => void): () => void;
}

/** A place a run's chains and components are copied to as they grow. */
export interface Replication {
  /**
   * Brings the copy of an actor's chain up to the local one (refusing a
   * fork), and returns what copies the events of each append from now on
   * (a step's events together: see `OpenChainOptions.replicate`).
   */
  attach(
    actor: string,
    chainPath: string,
  ): Promise<
    (sealed: { event: ChainEvent; line: Uint8Array }[]) => Promise<void>
  >;
  /** Keeps a component, by its SHA-256. */
  keepComponent(sha256: string, bytes: Uint8Array): Promise<void>;
}

/** How one running actor stands, for a view of the tree. */
export interface ActorInfo {
  /** The actor's id. */
  id: string;
  /** Its parent's id, or null for a root. */
  parent: string | null;
  /** Its children, in start order. */
  children: string[];
  /** `restarting` while a restart has stopped it and not started it again. */
  status: "running" | "restarting";
  /** How many times it was restarted in this run. */
  restarts: number;
  /** Messages waiting for it or in delivery. */
  mailbox: number;
  /** Events in its chain. */
  events: number;
  /** SHA-256 of the component it runs. */
  component: string;
}

/** The signer and tree of an actor whose manifest asks for checkpoints. */
async function startCheckpoints(
  chainPath: string,
  config: { key: string; every: number },
): Promise<Checkpointing> {
  let signer: SignerKey;
  try {
    signer = await parseSignerKey(await Deno.readTextFile(config.key));
  } catch (err) {
    throw new ChainWriteError(
      `${config.key}: cannot use as a checkpoint key: ${
        (err as Error).message
      }`,
    );
  }
  const frontier = new MerkleFrontier();
  const exists = await Deno.lstat(chainPath).then(() => true, () => false);
  if (exists) {
    for await (const e of readEvents(chainPath)) {
      frontier.append(fromHex(e.hash));
    }
  }
  return {
    signer,
    frontier,
    every: config.every,
    last: frontier.size,
    path: chainPath.replace(/\.jsonl$/, ".checkpoint"),
  };
}

/** Creates the run directory, refusing a path that is not a directory. */
async function ensureDir(dir: string): Promise<void> {
  const info = await Deno.stat(dir).catch(() => null);
  if (info && !info.isDirectory) {
    throw new ChainWriteError(`${dir}: the chain directory is not a directory`);
  }
  if (!info) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new ChainWriteError(
        `${dir}: cannot create the chain directory: ${describeIoError(err)}`,
      );
    }
  }
}

/**
 * Takes the run directory's lock (`theater.lock`, flock), refusing at once
 * when another process holds it, with that process's pid. The lock dies
 * with the process, so a crash leaves nothing stale behind.
 *
 * @throws {ChainWriteError}
 */
async function lockRunDir(dir: string, chain: string): Promise<Deno.FsFile> {
  const path = join(dir, "theater.lock");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (err) {
    throw new ChainWriteError(`${path}: cannot open: ${describeIoError(err)}`);
  }
  if (!(await file.tryLock(true))) {
    const held = new TextDecoder().decode(await readAll(file)).trim();
    file.close();
    throw new ChainWriteError(
      `${chain} is in use by another theater process${
        /^\d+$/.test(held) ? ` (pid ${held})` : ""
      }`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const buf = new Uint8Array(64);
  const n = await file.read(buf);
  return buf.subarray(0, n ?? 0);
}

/**
 * Where an existing chain leaves its actor, to resume it: a torn final
 * line is cut first (and reported), then the chain must verify. Null when
 * there is no chain yet (or an empty one).
 *
 * @throws {ChainWriteError} with the verifier's reason when it does not.
 */
async function resumePoint(
  path: string,
): Promise<{ point: ResumePoint; cut: Cut | null } | null> {
  // A new actor has no chain: say so without a failed lstat, whose error
  // costs several times the look (existsSync follows a link: a dangling
  // one is refused by the writer, which creates a chain exclusively).
  if (!existsSync(path)) return null;
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.lstatSync(path);
  } catch {
    // No chain yet.
  }
  if (!info || (info.isFile && info.size === 0)) return null;
  if (info.isSymlink) {
    throw new ChainWriteError(`${path}: refusing to append to a symlink`);
  }
  const cut = await cutTornTail(path);
  // One pass: the chain is verified and folded as it is read.
  const fold = new ResumeFold();
  let folding: string | null = null;
  const report = await verifyChain(path, {
    // The fold rebuilds the state and checks its state_hash itself.
    state: false,
    onEvent: (e) => {
      if (folding !== null) return;
      try {
        fold.add(e);
      } catch (err) {
        folding = `${path}:${e.seq + 1}: ${(err as Error).message}`;
      }
    },
  });
  if (!report.ok) {
    const e = report.error!;
    throw new ChainWriteError(
      `${e.file}:${e.line}: cannot resume this chain: ${e.message} (to start afresh, use another run directory)`,
    );
  }
  if (report.events === 0) return null;
  try {
    if (folding !== null) throw new Error(folding);
    return { point: fold.point(), cut };
  } catch (err) {
    throw new ChainWriteError(
      `cannot resume ${path}: ${(err as Error).message}`,
    );
  }
}

/** A message the system could not deliver. */
export class DeliveryError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "DeliveryError";
}

/** Lifecycle events a parent hears about its children. */
export type ChildEvent =
  | "started"
  | "stopped"
  | "failed"
  | "restarted"
  | "given-up";

interface Running {
  id: string;
  manifest: ResolvedManifest;
  sha256: string;
  supervised: boolean;
  params: Json;
  slot: ActorSlot;
  recorder: ActorRecorder;
  writer: ChainWriter;
  parent: string | null;
  /** Children in start order. */
  children: string[];
  /** Children spawned so far (names the next one). */
  spawned: number;
  /** When this actor, as a supervisor, restarted a child, within period. */
  restarts: number[];
  /** Periodic signed checkpoints, when the manifest asks for them. */
  checkpoints: Checkpointing | null;
  /** Whether `init` ever succeeded: if not, a restart runs it again. */
  initialized: boolean;
  /**
   * Stopped for a restart (`actor.stop` recorded) and not started again
   * yet: a run that stops meanwhile records no second `actor.stop`.
   */
  halted: boolean;
  /** Where its chain left it, when the actor continues an earlier run. */
  resume: { point: ResumePoint; cut: Cut | null } | null;
  /**
   * While a restart has stopped the actor and not yet started it again:
   * messages wait for this before they enter the mailbox.
   */
  paused: Promise<void> | null;
  /** Pending timers by id (WIT 0.2.0 `timers`). */
  timers: Map<string, TimerId>;
  /** Its requests waiting for a response. */
  requests: number;
  /** Messages waiting for or in delivery (the mailbox). */
  queued: number;
  /** Times it was restarted in this run. */
  restarted: number;
  /** Their bytes. */
  queuedBytes: number;
}

interface Checkpointing {
  signer: SignerKey;
  frontier: MerkleFrontier;
  every: number;
  /** Tree size of the last checkpoint written. */
  last: number;
  path: string;
  /** The checkpoint being written: one at a time, in order. */
  writing?: Promise<void>;
}

/**
 * The actors of one run. Every actor's chain is `<run dir>/<id>.jsonl`;
 * effects leave an actor only after they are on disk.
 */
export class ActorSystem {
  /** The options the run was made with. */
  readonly options: SystemOptions;
  /** Where the run's time comes from (`options.clock`). */
  readonly clock: Clock;
  #executor: ActorExecutor;
  #ownsExecutor: boolean;
  #actors = new Map<string, Running>();
  /** The run directory's lock, held while the run lives. */
  #lock: Promise<Deno.FsFile> | null = null;
  /** Children spawned by committed handlers, until their start is done. */
  #spawning = new Map<string, Promise<void>>();
  /** Ids of actors whose start is under way (not yet registered). */
  #starting = new Set<string>();
  #inFlight = new Set<Promise<unknown>>();
  /** Requests waiting for their response, by id. */
  #requests = new Map<
    string,
    { requester: string; timer: TimerId }
  >();
  /** Components already kept in the run directory, by SHA-256. */
  #kept = new Set<string>();
  /** Components kept in the replication (or being kept), by SHA-256. */
  #replicated = new Map<string, Promise<void>>();
  /** Under fsync `batch`, one commit round syncs every chain of the run. */
  #commits = new CommitGroup();
  #chainDir: string | null;
  #failure: string | null = null;
  #resumed = false;
  /** Run-wide limits, from the root manifest. */
  #runLimits: { actors: number; queuedBytes: number } | null = null;
  /** Bytes of messages waiting in every mailbox of the run. */
  #queuedBytes = 0;
  /** Why the run is stopping, once it is: no new work is taken. */
  #stopping: string | null = null;
  /** Starts under way (a root's, and its children's inside it). */
  #starts = new Set<Promise<unknown>>();
  /** The run's shutdown, once it has begun: it runs once. */
  #shutdown: Promise<void> | null = null;
  /** The run's blob store and gates, made when an actor first needs them. */
  #store: BlobStore | null = null;
  #gates: Gates | null = null;
  #hmacKey: Uint8Array | null = null;
  /** Stops hearing of the run's actors on other nodes. */
  #unwatch: (() => void) | null = null;

  /**
   * Makes a run with no actors yet. Without `options.executor`, actors run
   * in a new {@linkcode WorkerPool} that the run owns.
   */
  constructor(options: SystemOptions = {}) {
    this.options = options;
    this.#ownsExecutor = options.executor === undefined;
    this.clock = options.clock ?? systemClock;
    this.#executor = options.executor ?? new WorkerPool({ clock: this.clock });
    this.#chainDir = options.chainDir ?? null;
    this.#unwatch =
      options.remote?.watch((actor, present) =>
        this.#executor.setRemote(actor, present)
      ) ?? null;
  }

  /** Ids of the running actors, in start order. */
  get actors(): string[] {
    return [...this.#actors.keys()];
  }

  /** The run directory, once the first actor has started. */
  get chainDir(): string | null {
    return this.#chainDir;
  }

  /** Whether the first actor started continued an earlier run's chain. */
  get resumed(): boolean {
    return this.#resumed;
  }

  /** Why the run cannot go on (the root gave up), or null. */
  get failure(): string | null {
    return this.#failure;
  }

  /** The children of a running actor, in start order. */
  children(id: string): string[] {
    return [...(this.#actors.get(id)?.children ?? [])];
  }

  /** How every running actor stands, in start order. */
  info(): ActorInfo[] {
    return [...this.#actors].map(([id, a]) => ({
      id,
      parent: a.parent,
      children: [...a.children],
      status: a.paused ? "restarting" as const : "running" as const,
      restarts: a.restarted,
      mailbox: a.queued,
      events: a.writer.seq,
      component: a.sha256,
    }));
  }

  /**
   * Restarts a running actor (and its children) as its supervisor would:
   * recorded `actor.stop`, then a new start that resumes its last state
   * (or runs `init`, per its manifest).
   *
   * @throws {DeliveryError} when no such actor is running, or the run is
   * stopping.
   */
  async restart(id: string, reason: string): Promise<void> {
    if (!this.#actors.has(id)) {
      throw new DeliveryError(`no actor ${JSON.stringify(id)} is running`);
    }
    if (this.#stopping) {
      throw new DeliveryError(`not restarted: the run is stopping`);
    }
    await this.#restartAll({ stop: [id], start: [id] }, () => reason, null);
  }

  /**
   * Starts an actor: loads its component, opens its chain, records
   * `actor.start`, runs `init`, then starts the children its manifest
   * lists. Resolves with the init outcome. As in OTP, the start fails
   * (`ok: false`, with why) when `init` fails or when a child its manifest
   * lists cannot start: the children already started are stopped, then
   * the actor, each recording `actor.stop` (docs/supervision.md). A run
   * that begins to stop meanwhile starts nothing more once the call under
   * way has finished or timed out.
   *
   * @throws {ComponentError | ChainWriteError | DeliveryError} when it
   * cannot start at all.
   */
  start(
    manifest: ResolvedManifest,
    options: {
      id?: string;
      params?: Json;
      link?: ChainLink | null;
      parent?: string;
    } = {},
  ): Promise<Delivery> {
    const started = this.#start(manifest, options).then((r) => r.delivery);
    // A shutdown waits for starts under way (see idle).
    this.#starts.add(started);
    started.catch(() => {}).finally(() => this.#starts.delete(started));
    return started;
  }

  /**
   * {@linkcode ActorSystem.start}, and why the start failed (for the
   * parent's `failed` event), or null.
   */
  async #start(
    manifest: ResolvedManifest,
    options: {
      id?: string;
      params?: Json;
      link?: ChainLink | null;
      parent?: string;
    },
  ): Promise<{ delivery: Delivery; failed: string | null }> {
    const id = options.id ?? manifest.name;
    if (this.#actors.has(id) || this.#starting.has(id)) {
      throw new DeliveryError(`an actor named ${id} is already running`);
    }
    if (this.#stopping) {
      throw new DeliveryError(`not started: the run is stopping`);
    }
    this.#runLimits ??= {
      actors: manifest.limits.actors,
      queuedBytes: manifest.limits.queuedBytes,
    };
    const { actors } = this.#runLimits;
    // Starts run concurrently: count those under way, so a fork bomb's
    // parallel spawns cannot all pass the check before any registers.
    if (this.#actors.size + this.#starting.size >= actors) {
      throw new DeliveryError(
        `quota exceeded: more than ${actors} actors in the run (${
          limitName("actors")
        } of the root manifest)`,
      );
    }
    this.#starting.add(id);
    let running: Running;
    try {
      running = await this.#prepare(id, manifest, options);
    } finally {
      this.#starting.delete(id);
    }
    const resume = running.resume;
    if (this.#actors.size === 1 && resume) this.#resumed = true;
    let init: Delivery | null;
    let first: ChainEvent;
    try {
      if (resume) {
        // The chain goes on where it ended: from the last committed state,
        // or, if init never succeeded, with init again.
        const resumed = await running.recorder.continueChain({
          component: running.sha256,
          manifest: manifest.manifest as { [key: string]: Json },
          params: running.params,
          cut: resume.cut,
        }, { init: !resume.point.initialized, state: resume.point.state });
        init = resumed.init;
        first = resumed.init?.event ?? resumed.event;
      } else {
        init = await running.recorder.start({
          component: running.sha256,
          manifest: manifest.manifest as { [key: string]: Json },
          params: running.params,
          link: options.link ?? null,
        });
        first = init.event;
      }
    } catch (err) {
      // Its first event was not recorded (say, the stream refused it:
      // another node writes this actor): the actor is not left registered,
      // with a chain that takes nothing more, as if it ran.
      await this.#stopTree(id, `start failed: ${(err as Error).message}`)
        .catch(() => {});
      throw err;
    }
    if (init) this.#release(id, init);
    running.initialized = init?.ok ?? true;
    if (resume && !init) {
      // Timers pending when the last run stopped go on: an `after` fires
      // when it was due (at once if that has passed), an `every` from now.
      for (const [tid, t] of resume.point.timers) {
        this.#setTimer(running, tid, {
          every: t.every,
          ms: t.every ? t.ms : Math.max(0, t.at + t.ms - this.clock.now()),
          period: t.ms,
          msg: t.msg,
        });
      }
    }
    if (init && !init.ok) {
      // A failed start, not a crash: nothing is restarted (as in OTP, a
      // child whose init fails while its parent starts fails that start).
      await this.#stopTree(id, `init failed: ${init.error}`);
      return { delivery: init, failed: `init failed: ${init.error}` };
    }
    if (running.parent) {
      await this.#tell(
        running.parent,
        id,
        "started",
        resume ? "resumed" : null,
      );
    }
    const link = { actor: id, hash: first.hash };
    const recorded = resume?.point.children;
    const started = new Set<string>();
    for (const child of manifest.children) {
      // A run that stops starts no more children: the next run starts
      // them (the parent's chain does not show them stopped for good).
      if (this.#stopping) break;
      const failed = await this.#startChild(id, child.manifest, {
        params: child.params,
        link,
        // A manifest child the last run had stopped for good stays stopped.
        unless: recorded
          ? (childId) => {
            started.add(childId);
            return !wasRunning(recorded.get(childId));
          }
          : undefined,
      });
      if (failed) {
        const why = `${failed.child} failed to start: ${failed.reason}`;
        await this.#stopTree(id, `start failed: ${why}`);
        const delivery: Delivery = {
          ok: false,
          reply: why,
          error: why,
          crashed: false,
          event: first,
          input: null,
          logs: [],
          outgoing: [],
          effects: [],
        };
        return { delivery, failed: why };
      }
    }
    if (recorded) {
      // Spawned children that were running when the chain ended start
      // again, each from its own chain (or afresh, if it never started).
      const dir = dirname(manifest.path);
      for (const [childId, child] of recorded) {
        if (this.#stopping) break;
        if (!child.spawn || started.has(childId) || !wasRunning(child)) {
          continue;
        }
        let path: string;
        try {
          path = resolveInside(dir, child.spawn.manifest, "spawn manifest");
        } catch (err) {
          await this.#tell(id, childId, "failed", (err as Error).message);
          continue;
        }
        await this.#startChild(id, path, {
          id: childId,
          params: child.spawn.params === null
            ? undefined
            : JSON.parse(child.spawn.params),
          link: { actor: id, hash: child.spawn.hash },
        });
      }
    }
    const delivery = init ?? {
      ok: true,
      reply: null,
      crashed: false,
      event: first,
      input: first,
      logs: [],
      outgoing: [],
      effects: [],
    };
    return { delivery, failed: null };
  }

  /**
   * Keeps a copy of a component the run uses in the run directory, as
   * `components/<sha256>.wasm`, once, so that replay finds what the chain
   * ran after any rebuild. The copy is checked against the hash, and
   * written whole or not at all (writeFileAtomicSync).
   */
  async #keep(component: LoadedComponent): Promise<void> {
    if (this.#kept.has(component.sha256)) return;
    this.#kept.add(component.sha256);
    const dir = join(this.#chainDir!, COMPONENTS_DIR);
    const target = join(dir, `${component.sha256}.wasm`);
    try {
      const existing = await Deno.readFile(target).catch(() => null);
      if (existing && sha256Hex(existing) === component.sha256) return;
      await ensureDir(dir);
      writeFileAtomicSync(target, await loadedBytes(component));
    } catch (err) {
      this.#kept.delete(component.sha256);
      this.options.onWarning?.(
        `could not keep a copy of ${component.path} in ${dir}: ${
          (err as Error).message
        }`,
      );
    }
  }

  /**
   * The gate of an actor: with its HTTP grant and the values of its secret
   * headers (read from the environment now), or a store-only one.
   */
  #gate(manifest: ResolvedManifest, http: boolean) {
    this.#gates ??= new Gates({
      storeDir: join(this.#chainDir!, STORE_DIR),
    });
    const grant = http ? manifest.http : null;
    for (const host of grant ? netHosts([grant]) : []) {
      if (
        Deno.permissions.querySync({ name: "net", host }).state !== "granted"
      ) {
        throw new ManifestError(
          `${manifest.path}: field "grants.http": this run has no network permission for ${host} (run theater with --allow-net=${host}; theater run gives it up when no manifest it starts with grants HTTP)`,
        );
      }
    }
    const secrets = (grant?.secretHeaders ?? []).map((h, i) => {
      const value = Deno.env.get(h.env);
      if (value === undefined) {
        throw new ManifestError(
          `${manifest.path}: field "grants.http.secret_headers[${i}].env": the environment variable ${h.env} is not set`,
        );
      }
      return value;
    });
    if (secrets.length) this.#hmacKey ??= hmacKey(this.#chainDir!);
    return this.#gates.for(grant, { secrets, hmacKey: this.#hmacKey });
  }

  /** Loads, opens and registers an actor: everything before `init`. */
  async #prepare(
    id: string,
    manifest: ResolvedManifest,
    options: { params?: Json; parent?: string },
  ): Promise<Running> {
    const component = await loadComponent(manifest.component, {
      cacheDir: this.options.cacheDir,
      maxMb: manifest.limits.componentMb,
    });
    const executable = executorComponent(component, manifest.limits);
    this.#chainDir ??= manifest.chainDir;
    // Once per run, not per actor: a spawn makes no thread-pool round trip.
    const dir = this.#chainDir;
    this.#lock ??= ensureDir(dir).then(() =>
      lockRunDir(dir, join(dir, `${id}.jsonl`))
    );
    await this.#lock;
    await this.#keep(component);
    const chainPath = join(this.#chainDir, `${id}.jsonl`);
    const resume = await resumePoint(chainPath);
    const checkpoints = manifest.checkpoint
      ? await startCheckpoints(chainPath, manifest.checkpoint)
      : null;
    const replicate = this.options.replication
      ? await this.options.replication.attach(id, chainPath)
      : undefined;
    if (this.options.replication) {
      // Once per component for the whole run, not once per actor.
      let kept = this.#replicated.get(component.sha256);
      if (!kept) {
        const replication = this.options.replication;
        kept = loadedBytes(component).then((bytes) =>
          replication.keepComponent(component.sha256, bytes)
        );
        kept.catch(() => this.#replicated.delete(component.sha256));
        this.#replicated.set(component.sha256, kept);
      }
      await kept;
    }
    const clock = this.clock;
    const writer = await ChainWriter.open(chainPath, {
      clock: () => clock.now(),
      replicate,
      actor: id,
      fsync: this.options.fsync ?? manifest.fsync,
      group: this.#commits,
      onAppend: checkpoints || this.options.onEvent
        ? (e) => {
          checkpoints?.frontier.append(fromHex(e.hash));
          this.options.onEvent?.(id, e);
        }
        : undefined,
    });
    const quota = quotaOf(manifest.limits);
    const imports = new Set(component.imports.map(unversioned));
    const http = imports.has(HTTP);
    if (http && !manifest.http) {
      throw new ComponentError(
        `${component.path}: imports ${
          component.imports.find((n) => unversioned(n) === HTTP)
        }, but ${manifest.path} grants no HTTP (add "grants": {"http": {"origins": [...]}}; docs/manifest.md)`,
      );
    }
    this.#store ??= new BlobStore(join(this.#chainDir, STORE_DIR), {
      sync: (this.options.fsync ?? manifest.fsync) !== "none",
    });
    const gate = http || imports.has(STORE)
      ? this.#gate(manifest, http)
      : undefined;
    const slot: ActorSlot = {
      component: executable,
      gate,
      timeoutMs: manifest.limits.handleTimeoutMs,
      context: () => ({
        quota,
        children: [...running.children],
        spawned: running.spawned,
        timers: [...running.timers.keys()],
        requests: running.requests,
      }),
    };
    const running: Running = {
      id,
      manifest,
      sha256: component.sha256,
      supervised: component.supervised,
      params: options.params ?? manifest.params,
      slot,
      recorder: new ActorRecorder(id, {
        writer,
        executor: this.#executor,
        store: this.#store,
        runAhead: !http,
      }),
      writer,
      parent: options.parent ?? null,
      children: [],
      spawned: resume?.point.spawned ?? 0,
      restarts: [],
      checkpoints,
      initialized: resume?.point.initialized ?? false,
      halted: false,
      resume,
      paused: null,
      timers: new Map(),
      requests: 0,
      restarted: 0,
      queued: 0,
      queuedBytes: 0,
    };
    this.#executor.register(id, slot);
    // The map's order is start order (a restarted actor is started anew).
    this.#actors.set(id, running);
    if (running.parent) this.#actors.get(running.parent)?.children.push(id);
    return running;
  }

  /**
   * Delivers a message and resolves with what the handler did, once it is
   * recorded. Messages the handler sent are delivered after that. A child
   * whose handler crashed is reported to its parent, which may restart it.
   *
   * @throws {DeliveryError} when no such actor is running.
   */
  send(
    to: string,
    msg: Json,
    options: {
      from?: string;
      link?: ChainLink | null;
      /** Length of the message's JSON text, when the caller knows it. */
      size?: number;
      /** When the message is a request: whom its reply goes back to. */
      respondTo?: RespondTo;
    } = {},
  ): Promise<Delivery> {
    const actor = this.#actors.get(to);
    const spawning = this.#spawning.get(to);
    if (!actor && spawning) {
      // Spawned by a handler that committed; the child is starting: the
      // message waits for it, as it would in its mailbox.
      return spawning.then(() => this.send(to, msg, options));
    }
    if (!actor) {
      return Promise.reject(
        new DeliveryError(`no actor ${JSON.stringify(to)} is running`),
      );
    }
    if (actor.paused) {
      // Stopped for a restart: the message is delivered to the restarted
      // actor, after its start, never in between.
      return actor.paused.then(() => this.send(to, msg, options));
    }
    if (this.#stopping) {
      return Promise.reject(
        new DeliveryError(`not delivered to ${to}: the run is stopping`),
      );
    }
    const { mailbox, mailboxBytes } = actor.manifest.limits;
    const size = options.size ?? JSON.stringify(msg).length;
    const full = (key: "mailbox" | "mailboxBytes" | "queuedBytes", n: number) =>
      Promise.reject(
        new DeliveryError(
          `not delivered: ${
            key === "queuedBytes"
              ? "the mailboxes of the run are full"
              : `the mailbox of ${to} is full`
          } (${limitName(key)} = ${n})`,
        ),
      );
    if (actor.queued >= mailbox) return full("mailbox", mailbox);
    if (actor.queuedBytes + size > mailboxBytes && actor.queued > 0) {
      return full("mailboxBytes", mailboxBytes);
    }
    const queuedLimit = this.#runLimits!.queuedBytes;
    if (this.#queuedBytes + size > queuedLimit && actor.queued > 0) {
      return full("queuedBytes", queuedLimit);
    }
    actor.queuedBytes += size;
    this.#queuedBytes += size;
    if (++actor.queued === mailbox || actor.queuedBytes >= mailboxBytes) {
      this.#executor.setMailboxFull(to, true);
    }
    const delivery = actor.recorder.deliver(msg, {
      from: options.from ?? "external",
      link: options.link ?? null,
      respondTo: options.respondTo,
    }).finally(() => {
      const wasFull = actor.queued === mailbox ||
        actor.queuedBytes >= mailboxBytes;
      actor.queued--;
      actor.queuedBytes -= size;
      this.#queuedBytes -= size;
      const isFull = actor.queued === mailbox ||
        actor.queuedBytes >= mailboxBytes;
      if (wasFull && !isFull && this.#actors.get(to) === actor) {
        this.#executor.setMailboxFull(to, false);
      }
    }).catch((err) => {
      if (err instanceof ChainWriteError) this.#chainFailed(to, err);
      throw err instanceof NotDelivered
        ? new DeliveryError(`not delivered to ${to}: ${err.message}`)
        : err;
    }).then(async (d) => {
      const applied = this.#release(to, d);
      if (applied && d.effects.some((e) => e.op === "stop" && e.child === to)) {
        // An actor that stopped itself has stopped by the time its reply
        // is out: nothing more is delivered to it.
        await applied.catch(() => {});
      }
      await this.#checkpoint(actor, false);
      if (d.crashed && actor.parent && this.#actors.get(to) === actor) {
        await this.#childFailed(to, d.error ?? "crashed");
      }
      return d;
    });
    this.#track(delivery);
    return delivery;
  }

  /**
   * Lets a recorded outcome's effects out: logs, messages, supervision.
   * Returns the supervision work under way, if any.
   */
  #release(from: string, d: Delivery): Promise<void> | null {
    for (const line of d.logs) this.options.onLog?.(from, line);
    const actor = this.#actors.get(from);
    if (actor) {
      actor.spawned += d.effects.filter((e) => e.op === "spawn").length;
    }
    for (const out of d.outgoing) {
      const remote = this.options.remote;
      if (
        remote && !this.#actors.has(out.to) && !this.#spawning.has(out.to)
      ) {
        this.#sendRemote(remote, from, out);
        continue;
      }
      if (out.response !== undefined) {
        const pending = this.#requests.get(out.response);
        if (!pending) {
          // Timed out (or the requester's run ended): recorded, not sent.
          this.options.onWarning?.(
            `late response of ${from} to request ${out.response} dropped`,
          );
          continue;
        }
        this.#answered(out.response);
      }
      if (out.request) this.#request(from, out);
      const sent = this.send(out.to, out.msg, {
        from,
        link: out.link,
        size: out.size,
        ...(out.request
          ? { respondTo: { actor: from, id: out.request.id } }
          : {}),
      });
      sent.then((callee) => {
        if (out.request && !callee.ok) {
          this.#requestFailed(out.request.id, `${out.to}: ${callee.error}`);
        }
      }, (err) => {
        if (out.request) {
          this.#requestFailed(out.request.id, err.message);
        } else {
          this.options.onWarning?.(
            `message from ${from} to ${out.to} not delivered: ${err.message}`,
          );
        }
      });
    }
    if (d.effects.length === 0) return null;
    const applied = this.#apply(from, d.effects);
    this.#track(applied);
    for (const e of d.effects) {
      if (e.op !== "spawn") continue;
      const done = applied.catch(() => {}).finally(() => {
        if (this.#spawning.get(e.child) === done) {
          this.#spawning.delete(e.child);
        }
      });
      this.#spawning.set(e.child, done);
    }
    return applied;
  }

  /**
   * Sends an outgoing message to another node; a request that cannot be
   * delivered is answered with an error, as locally.
   */
  #sendRemote(remote: Remote, from: string, out: Outgoing): void {
    if (out.request) this.#request(from, out);
    remote.send(out.to, out.msg, {
      from,
      link: out.link,
      size: out.size,
      ...(out.request
        ? { respondTo: { actor: from, id: out.request.id } }
        : {}),
      ...(out.response !== undefined ? { response: out.response } : {}),
    }).catch((err) => ({ ok: false, error: (err as Error).message })).then(
      (callee: { ok: boolean; error?: string }) => {
        if (callee.ok) return;
        if (out.request) {
          this.#requestFailed(out.request.id, `${out.to}: ${callee.error}`);
        } else {
          this.options.onWarning?.(
            `message from ${from} to ${out.to} not delivered: ${callee.error}`,
          );
        }
      },
    );
  }

  /**
   * Delivers a message sent by an actor of this run on another node (see
   * {@linkcode Remote}): recorded exactly as a local one, link included.
   * A response whose request is no longer waiting is dropped, as locally.
   */
  async receive(
    to: string,
    msg: Json,
    options: RemoteMessage,
  ): Promise<{ ok: boolean; error?: string }> {
    if (options.response !== undefined) {
      if (!this.#requests.has(options.response)) {
        this.options.onWarning?.(
          `late response of ${options.from} to request ${options.response} dropped`,
        );
        return { ok: false, error: "the request is no longer waiting" };
      }
      this.#answered(options.response);
    }
    try {
      const d = await this.send(to, msg, {
        from: options.from,
        link: options.link,
        size: options.size,
        respondTo: options.respondTo,
      });
      return d.ok ? { ok: true } : { ok: false, error: d.error ?? "failed" };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /**
   * An actor's chain takes no more events (the disk failed, or the stream
   * refused this copy: another node writes the actor): nothing it does can
   * be recorded, so the run cannot go on here. Said once, as fatal.
   */
  #chainFailed(id: string, err: ChainWriteError): void {
    if (this.options.onChainFailed) {
      this.options.onChainFailed(id, err.message);
      return;
    }
    if (this.#failure) return;
    this.#failure = `${id}: ${err.message}`;
    this.options.onFatal?.(this.#failure);
  }

  /** Starts waiting for the response to a request `from` made. */
  #request(from: string, out: Outgoing): void {
    const { id, timeoutMs } = out.request!;
    const requester = this.#actors.get(from);
    if (requester) requester.requests++;
    this.#requests.set(id, {
      requester: from,
      timer: this.clock.setTimer(
        () => this.#requestFailed(id, `no response in ${timeoutMs} ms`),
        timeoutMs,
      ),
    });
  }

  /** A request has its response (or its error): it waits no more. */
  #answered(id: string): void {
    const pending = this.#requests.get(id);
    if (!pending) return;
    this.#requests.delete(id);
    this.clock.clearTimer(pending.timer);
    const requester = this.#actors.get(pending.requester);
    if (requester) requester.requests = Math.max(0, requester.requests - 1);
  }

  /**
   * Answers a request that will get no reply with an error response, from
   * `request:<id>`; a reply that comes later is dropped.
   */
  #requestFailed(id: string, error: string): void {
    const pending = this.#requests.get(id);
    if (!pending) return;
    this.#answered(id);
    if (this.#stopping) return;
    this.send(pending.requester, { response: { id, error } }, {
      from: `request:${id}`,
    }).catch((err) =>
      this.options.onWarning?.(
        `response to request ${id} not delivered: ${err.message}`,
      )
    );
  }

  /**
   * Arms a timer of `actor`: after `ms`, `msg` is delivered from
   * `timer:<id>`; an `every` timer then goes on every `period` ms.
   */
  #setTimer(
    actor: Running,
    tid: string,
    t: { every: boolean; ms: number; period: number; msg: Json },
  ): void {
    // A timer that fires into a full mailbox is said once, not every time
    // (an actor could otherwise flood the operator's terminal).
    let warned = false;
    const fire = () => {
      if (this.#actors.get(actor.id) !== actor || this.#stopping) return;
      if (t.every) {
        actor.timers.set(tid, this.clock.setTimer(fire, t.period));
      } else {
        actor.timers.delete(tid);
      }
      this.send(actor.id, t.msg, { from: `${TIMER_FROM}${tid}` }).catch(
        (err) => {
          if (warned) return;
          warned = true;
          this.options.onWarning?.(
            `timer ${tid} of ${actor.id} not delivered: ${err.message}${
              t.every ? " (later drops of this timer are not reported)" : ""
            }`,
          );
        },
      );
    };
    actor.timers.set(tid, this.clock.setTimer(fire, t.ms));
  }

  async #apply(from: string, effects: Effect[]): Promise<void> {
    for (const effect of effects) {
      const parent = this.#actors.get(from);
      if (!parent) return;
      if (effect.op === "after" || effect.op === "every") {
        if (this.#stopping) continue;
        this.#setTimer(parent, effect.child, {
          every: effect.op === "every",
          ms: effect.timer!.ms,
          period: effect.timer!.ms,
          msg: effect.timer!.msg,
        });
        continue;
      }
      if (effect.op === "cancel") {
        this.clock.clearTimer(parent.timers.get(effect.child));
        parent.timers.delete(effect.child);
        continue;
      }
      if (this.#stopping) {
        if (effect.op === "spawn") {
          await this.#tell(from, effect.child, "failed", "the run is stopping");
        }
        continue;
      }
      if (effect.op === "spawn") {
        let path: string;
        let params: Json | undefined;
        try {
          path = resolveInside(
            dirname(parent.manifest.path),
            effect.manifest ?? "",
            "spawn manifest",
          );
          params = effect.params == null
            ? undefined
            : JSON.parse(effect.params);
        } catch (err) {
          await this.#tell(
            from,
            effect.child,
            "failed",
            (err as Error).message,
          );
          continue;
        }
        await this.#startChild(from, path, {
          id: effect.child,
          params,
          link: effect.link,
        });
      } else if (effect.op === "stop" && effect.child === from) {
        // The actor stopped itself: a normal exit.
        await this.#childExited(from, "stopped itself", "normal");
        return;
      } else if (effect.op === "stop") {
        if (!this.#actors.has(effect.child)) continue;
        await this.#stopTree(effect.child, `stopped by ${from}`);
        await this.#tell(from, effect.child, "stopped", `stopped by ${from}`);
      } else {
        if (!this.#actors.has(effect.child)) continue;
        await this.#restartAll(
          { stop: [effect.child], start: [effect.child] },
          () => `restarted by ${from}`,
          effect.link,
        );
      }
    }
  }

  /**
   * Starts a child from a manifest path. A start that fails is reported to
   * the parent as `failed` and resolves with the child and why (the caller
   * decides what that means for the parent); null when it started, was
   * left stopped, or the run began to stop.
   */
  async #startChild(
    parent: string,
    path: string,
    options: {
      id?: string;
      params?: Json;
      link: ChainLink;
      /** Given the child's id: true to leave it stopped. */
      unless?: (id: string) => boolean;
    },
  ): Promise<{ child: string; reason: string } | null> {
    const failed = async (child: string, reason: string) => {
      await this.#tell(parent, child, "failed", reason);
      return { child, reason };
    };
    let manifest: ResolvedManifest;
    try {
      manifest = await loadManifest(path);
    } catch (err) {
      return await failed(options.id ?? path, (err as Error).message);
    }
    const id = options.id ?? `${parent}.${manifest.name}`;
    if (options.unless?.(id)) return null;
    let outcome: { delivery: Delivery; failed: string | null };
    try {
      // Inside a start, a spawn or a restart: each is waited for already.
      outcome = await this.#start(manifest, {
        id,
        params: options.params,
        link: options.link,
        parent,
      });
    } catch (err) {
      // Not started because the run is stopping: nothing failed.
      if (this.#stopping && !this.#actors.has(id)) return null;
      return await failed(id, (err as Error).message);
    }
    return outcome.failed === null ? null : await failed(id, outcome.failed);
  }

  /**
   * Records a lifecycle event in the parent's chain and hands it to the
   * parent's `on-child-event` when it exports one.
   */
  async #tell(
    parentId: string,
    child: string,
    event: ChildEvent,
    reason: string | null,
  ): Promise<ChainLink | null> {
    const parent = this.#actors.get(parentId);
    if (!parent) return null;
    // While the run stops, lifecycle events are recorded but not handed to
    // on-child-event: a supervisor that is about to stop has nothing to do
    // about them, and a slow one would hold up the stop (as replay does,
    // a child event with no outcome after it was not delivered).
    const { event: recorded, delivery } = await parent.recorder.childEvent(
      { child, event, reason },
      { notify: parent.supervised && !this.#stopping },
    );
    if (delivery) {
      this.#release(parentId, delivery);
      if (delivery.crashed && parent.parent) {
        this.#track(
          this.#childFailed(parentId, delivery.error ?? "crashed"),
        );
      }
    }
    return { actor: parentId, hash: recorded.hash };
  }

  /** A child crashed: see {@linkcode ActorSystem.#childExited}. */
  #childFailed(id: string, reason: string): Promise<void> {
    return this.#childExited(id, reason, "crash");
  }

  /**
   * An actor crashed, or stopped itself normally. Its parent hears of it
   * (`failed` or `stopped`), then OTP's rules apply (supervisor/otp.ts):
   * restart or not by the child's restart type; charge the parent's
   * intensity on a monotonic clock, giving up past it; and carry out the
   * parent's strategy: stop every affected child, last started first, then
   * start them all again in order. A root that stops itself ends the run.
   */
  async #childExited(id: string, reason: string, exit: Exit): Promise<void> {
    const child = this.#actors.get(id);
    if (!child) return;
    const parent = child.parent ? this.#actors.get(child.parent) : undefined;
    if (!parent) {
      // A root has no supervisor: a crash is recorded and it goes on; a
      // normal stop ends the run.
      if (exit === "normal") {
        await this.#stopTree(id, reason);
        this.options.onRootStopped?.(reason);
      }
      return;
    }
    const link = await this.#tell(
      parent.id,
      id,
      exit === "crash" ? "failed" : "stopped",
      reason,
    );
    if (this.#stopping) return;
    const type = child.manifest.supervision.restart;
    if (!shouldRestart(type, exit)) {
      await this.#stopTree(id, exit === "crash" ? `failed: ${reason}` : reason);
      if (exit === "crash") {
        await this.#tell(parent.id, id, "stopped", `${type}: not restarted`);
      }
      return;
    }
    const { maxRestarts, periodMs, strategy } = parent.manifest.supervision;
    const charged = chargeRestart(parent.restarts, this.clock.monotonic(), {
      maxRestarts,
      periodMs,
    });
    parent.restarts = charged.history;
    if (charged.giveUp) {
      await this.#giveUp(
        parent,
        id,
        `more than ${maxRestarts} restarts in ${periodMs} ms; last: ${reason}`,
      );
      return;
    }
    const plan = restartPlan(strategy, parent.children, id);
    const why = (target: string) =>
      target !== id
        ? `${strategy}: ${id} ${exit === "crash" ? "failed" : "stopped"}`
        : exit === "crash"
        ? `failed: ${reason}`
        : reason;
    await this.#restartAll(plan, why, link);
  }

  async #giveUp(parent: Running, child: string, reason: string) {
    // Every child stops (recorded, in reverse start order), then the
    // supervisor gives up: nothing about these children comes after.
    for (const c of [...parent.children].reverse()) {
      await this.#stopTree(c, `given up by ${parent.id}`);
      await this.#tell(parent.id, c, "stopped", `given up by ${parent.id}`);
    }
    await this.#tell(parent.id, child, "given-up", reason);
    if (parent.parent) {
      await this.#childFailed(parent.id, `gave up on ${child}: ${reason}`);
    } else {
      this.#failure = `${parent.id} gave up on ${child}: ${reason}`;
      this.options.onFatal?.(this.#failure);
    }
  }

  /**
   * Carries out a restart plan: every target is paused (messages to it
   * wait), stopped in the plan's order, then started again in order.
   */
  async #restartAll(
    plan: { stop: string[]; start: string[] },
    why: (target: string) => string,
    link: ChainLink | null,
  ): Promise<void> {
    const resume = new Map<string, () => void>();
    for (const target of plan.start) {
      const actor = this.#actors.get(target);
      if (!actor || actor.paused) continue;
      actor.paused = new Promise((r) => resume.set(target, r));
    }
    try {
      for (const target of plan.stop) await this.#halt(target, why(target));
      for (const target of plan.start) {
        await this.#startAgain(target, why(target), link);
        this.#unpause(target, resume);
      }
    } finally {
      for (const target of resume.keys()) this.#unpause(target, resume);
    }
  }

  #unpause(target: string, resume: Map<string, () => void>): void {
    const actor = this.#actors.get(target);
    if (actor) actor.paused = null;
    resume.get(target)?.();
    resume.delete(target);
  }

  /**
   * Stops an actor for a restart: its children first (each recorded as
   * `stopped` in its chain), then `actor.stop` — after the messages
   * already in its mailbox. It stays registered as a member of the tree.
   */
  async #halt(id: string, reason: string): Promise<void> {
    const actor = this.#actors.get(id);
    if (!actor) return;
    for (const child of [...actor.children].reverse()) {
      await this.#stopTree(child, reason);
      await this.#tell(id, child, "stopped", reason);
    }
    await actor.recorder.stop(reason);
    actor.halted = true;
    this.#executor.unregister(id);
  }

  /**
   * Starts a halted actor again on its chain: `actor.start`, then `init`
   * when the manifest says `restart_from: "init"` or init never succeeded
   * (otherwise it resumes its last committed state); then the children its
   * manifest lists, each on its own chain.
   */
  async #startAgain(id: string, reason: string, link: ChainLink | null) {
    const actor = this.#actors.get(id);
    // A run that stops restarts nothing: the actor stays stopped (its
    // actor.stop is recorded) and the next run resumes it.
    if (!actor || this.#stopping) return;
    actor.halted = false;
    actor.restarted++;
    // A fresh instance, wherever it will run.
    this.#executor.register(id, actor.slot);
    const start = {
      component: actor.sha256,
      manifest: actor.manifest.manifest as { [key: string]: Json },
      params: actor.params,
      link,
    };
    const fresh = actor.manifest.supervision.restartFrom === "init" ||
      !actor.initialized;
    const init = fresh
      ? await actor.recorder.start(start)
      : (await actor.recorder.resume(start), null);
    if (init) {
      this.#release(id, init);
      actor.initialized ||= init.ok;
    }
    if (actor.parent) await this.#tell(actor.parent, id, "restarted", reason);
    if (init && !init.ok) {
      if (actor.parent) {
        await this.#childFailed(id, `init failed: ${init.error}`);
      } else await this.#stopTree(id, `init failed: ${init.error}`);
      return;
    }
    const started = { actor: id, hash: actor.writer.head! };
    for (const child of actor.manifest.children) {
      if (this.#stopping) return;
      const failed = await this.#startChild(id, child.manifest, {
        params: child.params,
        link: started,
      });
      if (failed) {
        // A restart that cannot start the children is a failed restart:
        // like a crash, it charges the parent's intensity (as in OTP).
        const why = `${failed.child} failed to start: ${failed.reason}`;
        if (actor.parent) await this.#childFailed(id, why);
        else await this.#stopTree(id, `start failed: ${why}`);
        return;
      }
    }
  }

  /**
   * Writes `<run dir>/<id>.checkpoint` when `every` events have passed since
   * the last one (or, with `force`, when any have), once they are durable.
   */
  async #checkpoint(actor: Running, force: boolean): Promise<void> {
    const cp = actor.checkpoints;
    if (!cp) return;
    // Deliveries of one actor can finish together: checkpoints are written
    // one at a time, so a later one is never replaced by an earlier one.
    const write = async () => {
      const due = cp.frontier.size - cp.last;
      if (due === 0 || (!force && due < cp.every)) return;
      // The frontier holds only events already durable (onAppend).
      const size = cp.frontier.size;
      const text = await signCheckpoint(
        { origin: originOf(actor.id), size, root: cp.frontier.root() },
        cp.signer,
      );
      const tmp = `${cp.path}.tmp`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, cp.path);
      cp.last = size;
    };
    const next = (cp.writing ?? Promise.resolve()).then(write, write);
    cp.writing = next.catch(() => {});
    await next;
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    p.catch((err) => this.options.onWarning?.(String(err?.message ?? err)))
      .finally(() => this.#inFlight.delete(p));
  }

  /** Resolves once no start, delivery or supervision work is under way. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#starts.size > 0) {
      await Promise.allSettled([...this.#inFlight, ...this.#starts]);
    }
  }

  /** Stops an actor and, first, its children: records `actor.stop` each. */
  async #stopTree(id: string, reason: string): Promise<void> {
    const actor = this.#actors.get(id);
    if (!actor) return;
    for (const child of [...actor.children].reverse()) {
      await this.#stopTree(child, reason);
      await this.#tell(id, child, "stopped", reason).catch(unlessChainFailed);
    }
    this.#actors.delete(id);
    for (const timer of actor.timers.values()) this.clock.clearTimer(timer);
    actor.timers.clear();
    const parent = actor.parent ? this.#actors.get(actor.parent) : undefined;
    if (parent) parent.children = parent.children.filter((c) => c !== id);
    // No new message reaches it from here, but those already in its mailbox
    // are delivered first: the stop is queued behind them. A chain that
    // takes no more events ends without its actor.stop; one halted for a
    // restart that never came has it already.
    if (!actor.halted) {
      await actor.recorder.stop(reason).catch(unlessChainFailed);
    }
    this.#executor.unregister(id);
    await this.#checkpoint(actor, true).catch(unlessChainFailed);
    await actor.writer.close().catch(unlessChainFailed);
  }

  /**
   * Stops a root actor and its tree as a stopping run does: each records
   * `actor.stop` with the run-stop reason (where its chain still takes
   * it), so that the next run of these chains, here or on another node,
   * resumes them, children and timers included. The run's other roots go
   * on. Nothing happens when `id` is not a running root.
   */
  async stopRoot(id: string, reason: string): Promise<void> {
    const actor = this.#actors.get(id);
    if (!actor || actor.parent) return;
    await this.#stopTree(id, `${RUN_STOP}${reason}`);
  }

  /** Stops one actor (and its children) and tells its parent. */
  async stop(id: string, reason: string): Promise<void> {
    const parent = this.#actors.get(id)?.parent;
    await this.#stopTree(id, reason);
    if (parent) await this.#tell(parent, id, "stopped", reason);
  }

  /**
   * Waits for work under way, then stops every actor, children before
   * parents, and releases the workers. It may be called in any phase — a
   * start, a restart loop, deliveries under way — and more than once (it
   * runs once): nothing new starts, each call under way finishes or hits
   * its `handle_timeout_ms`, then every actor records `actor.stop`.
   */
  shutdown(reason: string): Promise<void> {
    this.#shutdown ??= this.#stopAll(reason);
    return this.#shutdown;
  }

  async #stopAll(reason: string): Promise<void> {
    // No new work from here on: messages still queued are refused (their
    // senders hear why), calls under way finish or time out, so a run of
    // actors that message each other forever still stops.
    this.#stopping ??= reason;
    for (const actor of this.#actors.values()) {
      actor.recorder.close(`the run is stopping (${reason})`);
    }
    await this.idle();
    const roots = [...this.#actors].filter(([, a]) => !a.parent).map(([id]) =>
      id
    );
    // Marked as stopped by the run, so the next run resumes these actors.
    for (const id of roots.reverse()) {
      await this.#stopTree(id, `${RUN_STOP}${reason}`);
    }
    // Requests still waiting get no response in this run.
    for (const pending of this.#requests.values()) {
      this.clock.clearTimer(pending.timer);
    }
    this.#requests.clear();
    this.#unwatch?.();
    this.#unwatch = null;
    if (this.#ownsExecutor) this.#executor.close();
    this.#gates?.close();
    this.#gates = null;
    const lock = await this.#lock?.catch(() => null);
    lock?.close();
    this.#lock = null;
  }
}

/** Rethrows anything but a chain that takes no more events. */
function unlessChainFailed(err: unknown): void {
  if (!(err instanceof ChainWriteError)) throw err;
}

/** A component's bytes, checked to be the ones it was loaded from. */
async function loadedBytes(component: LoadedComponent): Promise<Uint8Array> {
  const bytes = await Deno.readFile(component.path);
  if (sha256Hex(bytes) !== component.sha256) {
    throw new Error(`${component.path} changed since it was loaded`);
  }
  return bytes;
}

/** File of the run's key for the HMACs of secret header values. */
export const HMAC_KEY_FILE = "hmac.key";

/**
 * The run's HMAC key (32 random bytes in `<run dir>/hmac.key`, readable by
 * the user only), made on first use. The chain records HMAC-SHA256 of a
 * secret under it: one who holds a candidate value and the key can check
 * it was the one sent; the chain alone reveals nothing of it.
 */
function hmacKey(dir: string): Uint8Array {
  const path = join(dir, HMAC_KEY_FILE);
  try {
    const key = Deno.readFileSync(path);
    if (key.length === 32) return key;
  } catch {
    // Made below.
  }
  const key = crypto.getRandomValues(new Uint8Array(32));
  writeFileAtomicSync(path, key, { mode: 0o600 });
  return key;
}
