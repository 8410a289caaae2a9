// Copyright the Theater authors. MIT license.
/**
 * The actor system of one run: it starts actors from manifests, each with
 * its own chain in the run directory, routes messages between them, and
 * stops them cleanly.
 *
 * @module
 */
import { join } from "node:path";
import {
  type ChainLink,
  ChainWriter,
  type FsyncPolicy,
  type Json,
} from "../chain/mod.ts";
import {
  type ActorExecutor,
  ActorRecorder,
  compileCores,
  type Delivery,
  loadComponent,
  WorkerPool,
} from "../runtime/mod.ts";

import type { ResolvedManifest } from "./manifest.ts";

/** Where a run's output goes. */
export interface SystemEvents {
  /** A line the actor logged, shown after it is recorded. */
  onLog?: (actor: string, line: string) => void;
  /** Something went wrong that is not a reply to anyone. */
  onWarning?: (message: string) => void;
}

/** Options for {@linkcode ActorSystem}. */
export interface SystemOptions extends SystemEvents {
  /** The run directory; default: the root manifest's `chain.dir`. */
  chainDir?: string;
  /** Overrides every manifest's `chain.fsync`. */
  fsync?: FsyncPolicy;
  /** Where guests run; default: a pool of no-permission workers. */
  executor?: ActorExecutor;
  /** Directory for transpiled components, by SHA-256. */
  cacheDir?: string;
}

/** A message the system could not deliver. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
}

interface Running {
  id: string;
  manifest: ResolvedManifest;
  recorder: ActorRecorder;
  writer: ChainWriter;
  children: string[];
}

/**
 * The actors of one run. Every actor's chain is `<run dir>/<id>.jsonl`;
 * effects leave an actor only after they are on disk.
 */
export class ActorSystem {
  readonly options: SystemOptions;
  #executor: ActorExecutor;
  #ownsExecutor: boolean;
  #actors = new Map<string, Running>();
  #order: string[] = [];
  #inFlight = new Set<Promise<unknown>>();
  #chainDir: string | null;

  constructor(options: SystemOptions = {}) {
    this.options = options;
    this.#ownsExecutor = options.executor === undefined;
    this.#executor = options.executor ?? new WorkerPool();
    this.#chainDir = options.chainDir ?? null;
  }

  /** Ids of the running actors, in start order. */
  get actors(): string[] {
    return [...this.#order];
  }

  /** The run directory, once the first actor has started. */
  get chainDir(): string | null {
    return this.#chainDir;
  }

  /**
   * Starts an actor: loads its component, opens its chain, records
   * `actor.start`, runs `init`. Resolves with the init outcome; an actor
   * whose init failed is stopped again.
   *
   * @throws {ComponentError | ChainWriteError} when it cannot start at all.
   */
  async start(
    manifest: ResolvedManifest,
    options: { id?: string; params?: Json; link?: ChainLink | null } = {},
  ): Promise<Delivery> {
    const id = options.id ?? manifest.name;
    if (this.#actors.has(id)) {
      throw new DeliveryError(`an actor named ${id} is already running`);
    }
    const component = await loadComponent(manifest.component, {
      cacheDir: this.options.cacheDir,
    });
    const modules = compileCores(component, {
      memoryMb: manifest.limits.memoryMb,
    });
    this.#chainDir ??= manifest.chainDir;
    await Deno.mkdir(this.#chainDir, { recursive: true });
    const writer = await ChainWriter.open(join(this.#chainDir, `${id}.jsonl`), {
      actor: id,
      fsync: this.options.fsync ?? manifest.fsync,
    });
    const children: string[] = [];
    this.#executor.register(id, {
      component: {
        key: `${component.sha256}:${manifest.limits.memoryMb}`,
        bindings: component.bindings,
        modules,
      },
      timeoutMs: manifest.limits.handleTimeoutMs,
      context: () => ({ peers: this.actors, children: [...children] }),
    });
    const recorder = new ActorRecorder(id, {
      writer,
      executor: this.#executor,
    });
    const running = { id, manifest, recorder, writer, children };
    this.#actors.set(id, running);
    this.#order.push(id);
    const params = options.params ?? manifest.params;
    const init = await recorder.start({
      component: component.sha256,
      manifest: manifest.manifest as { [key: string]: Json },
      params,
      link: options.link ?? null,
    });
    this.#release(id, init);
    if (!init.ok) await this.stop(id, `init failed: ${init.error}`);
    return init;
  }

  /**
   * Delivers a message and resolves with what the handler did, once it is
   * recorded. Messages the handler sent are delivered after that.
   *
   * @throws {DeliveryError} when no such actor is running.
   */
  send(
    to: string,
    msg: Json,
    options: { from?: string; link?: ChainLink | null } = {},
  ): Promise<Delivery> {
    const actor = this.#actors.get(to);
    if (!actor) {
      return Promise.reject(
        new DeliveryError(`no actor ${JSON.stringify(to)} is running`),
      );
    }
    const delivery = actor.recorder.deliver(msg, {
      from: options.from ?? "external",
      link: options.link ?? null,
    }).then((d) => {
      this.#release(to, d);
      return d;
    });
    this.#track(delivery);
    return delivery;
  }

  /** Lets a recorded outcome's effects out: logs, then outgoing messages. */
  #release(from: string, d: Delivery): void {
    for (const line of d.logs) this.options.onLog?.(from, line);
    for (const out of d.outgoing) {
      this.send(out.to, out.msg, { from, link: out.link }).catch((err) =>
        this.options.onWarning?.(
          `message from ${from} to ${out.to} not delivered: ${err.message}`,
        )
      );
    }
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p)).catch(() => {});
  }

  /** Resolves once no delivery is under way (messages can chain). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  /** Stops one actor: records `actor.stop` and closes its chain. */
  async stop(id: string, reason: string): Promise<void> {
    const actor = this.#actors.get(id);
    if (!actor) return;
    this.#actors.delete(id);
    this.#order = this.#order.filter((a) => a !== id);
    this.#executor.unregister(id);
    await actor.recorder.stop(reason);
    await actor.writer.close();
  }

  /**
   * Waits for deliveries under way, then stops every actor, children
   * before parents, and releases the workers.
   */
  async shutdown(reason: string): Promise<void> {
    await this.idle();
    for (const id of [...this.#order].reverse()) await this.stop(id, reason);
    if (this.#ownsExecutor) this.#executor.close();
  }
}
