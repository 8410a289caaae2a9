// Copyright the Theater authors. MIT license.
/**
 * Where guest code runs: a pool of Deno workers with no permissions, each
 * hosting many actors, with a per-call time limit enforced by terminating
 * the worker; or in process, for trusted uses such as benchmarks.
 *
 * @module
 */
import {
  type CallContext,
  GuestActor,
  type GuestComponent,
  loadBindings,
} from "./_guest.ts";
import type { ToWorker } from "./_worker.ts";
import type { Executor, GuestFunction, GuestOutcome } from "./recorder.ts";

export type { CallContext, GuestComponent };

/** A component as executors take it: its key and what to instantiate. */
export interface ExecutorComponent extends GuestComponent {
  /** Distinguishes components (and memory limits) across actors. */
  key: string;
}

/** What an executor needs to know about one actor. */
export interface ActorSlot {
  component: ExecutorComponent;
  /** Longest one call may run before the actor is cut off. */
  timeoutMs: number;
  /** The context of each call (peers, children, replay). */
  context: () => CallContext;
}

/** An executor that actors are registered with before they are called. */
export interface ActorExecutor extends Executor {
  register(actor: string, slot: ActorSlot): void;
  unregister(actor: string): void;
  close(): void;
}

const BOOT_LIMIT_MS = 30_000;

/** The outcome of a call that ended before or outside the guest. */
function trap(error: string): GuestOutcome {
  return { calls: [], status: "trap", error };
}

/**
 * Starts a worker the way actor workers are started: a module worker with
 * no Deno permissions at all (no read, write, net, env, run, ffi, sys).
 */
export function actorWorker(url: URL): Worker {
  return new Worker(url, {
    type: "module",
    deno: { permissions: "none" },
  } as WorkerOptions);
}

interface Pending {
  id: number;
  actor: string;
  fn: GuestFunction;
  args: string[];
  resolve: (outcome: GuestOutcome) => void;
}

class WorkerSlot {
  #pool: WorkerPool;
  #worker!: Worker;
  #sent = new Set<string>();
  #queue: Pending[] = [];
  #inFlight: Pending | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Actors placed on this worker. */
  actors = new Set<string>();

  constructor(pool: WorkerPool) {
    this.#pool = pool;
    this.#spawn();
  }

  #spawn(): void {
    this.#worker = actorWorker(new URL("./_worker.ts", import.meta.url));
    this.#sent.clear();
    this.#worker.onmessage = (e) => {
      if (e.data.type === "started") this.#started(e.data.id);
      else this.#done(e.data.id, e.data.outcome);
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#kill(`worker crashed: ${e.message}`);
    };
  }

  /** Kills the worker (and the running call), then carries on afresh. */
  #kill(reason: string): void {
    this.#worker.terminate();
    clearTimeout(this.#timer);
    const running = this.#inFlight;
    this.#inFlight = null;
    this.#spawn();
    if (running) running.resolve(trap(reason));
    this.#next();
  }

  enqueue(p: Pending): void {
    this.#queue.push(p);
    this.#next();
  }

  drop(actor: string): void {
    this.actors.delete(actor);
    this.#worker.postMessage({ type: "drop", actor } satisfies ToWorker);
  }

  /** The guest code of the call in flight has begun: start its clock. */
  #started(id: number): void {
    const p = this.#inFlight;
    if (p?.id !== id) return;
    clearTimeout(this.#timer);
    const limit = this.#pool.slot(p.actor)?.timeoutMs ?? 0;
    this.#timer = setTimeout(
      () => this.#kill(`timed out after ${limit} ms`),
      limit,
    );
  }

  #done(id: number, outcome: GuestOutcome): void {
    if (this.#inFlight?.id !== id) return;
    clearTimeout(this.#timer);
    const p = this.#inFlight;
    this.#inFlight = null;
    p.resolve(outcome);
    this.#next();
  }

  #next(): void {
    if (this.#inFlight || this.#queue.length === 0) return;
    const p = this.#queue.shift()!;
    const slot = this.#pool.slot(p.actor);
    if (!slot) {
      p.resolve(trap("actor is not running"));
      this.#next();
      return;
    }
    const { component } = slot;
    if (!this.#sent.has(component.key)) {
      this.#worker.postMessage(
        {
          type: "component",
          key: component.key,
          bindings: component.bindings,
          modules: component.modules,
        } satisfies ToWorker,
      );
      this.#sent.add(component.key);
    }
    this.#inFlight = p;
    this.#worker.postMessage(
      {
        type: "call",
        id: p.id,
        actor: p.actor,
        key: component.key,
        fn: p.fn,
        args: p.args,
        context: slot.context(),
      } satisfies ToWorker,
    );
    // Until the worker says the guest started, only a worker that never
    // answers (it died, or cannot load the bindings) is cut off.
    this.#timer = setTimeout(
      () => this.#kill(`worker did not start the call in ${BOOT_LIMIT_MS} ms`),
      BOOT_LIMIT_MS,
    );
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#worker.terminate();
  }
}

/**
 * Runs actors in a fixed pool of no-permission workers. An actor stays on
 * one worker; a call over its time limit terminates that worker, fails the
 * call, and the worker is replaced: its other actors lose only their
 * instances (state lives in the host) and their queued calls run on the
 * new worker.
 */
export class WorkerPool implements ActorExecutor {
  #slots: WorkerSlot[];
  #actors = new Map<string, { slot: ActorSlot; worker: WorkerSlot }>();
  #nextId = 1;

  constructor(options: { size?: number } = {}) {
    const size = options.size ?? Math.max(2, navigator.hardwareConcurrency);
    this.#slots = Array.from({ length: size }, () => new WorkerSlot(this));
  }

  /** The registration of an actor, if it is registered. */
  slot(actor: string): ActorSlot | undefined {
    return this.#actors.get(actor)?.slot;
  }

  register(actor: string, slot: ActorSlot): void {
    const existing = this.#actors.get(actor);
    if (existing) existing.worker.drop(actor);
    const worker = existing?.worker ??
      this.#slots.reduce((a, b) => a.actors.size <= b.actors.size ? a : b);
    worker.actors.add(actor);
    this.#actors.set(actor, { slot, worker });
  }

  unregister(actor: string): void {
    this.#actors.get(actor)?.worker.drop(actor);
    this.#actors.delete(actor);
  }

  call(
    actor: string,
    call: { fn: GuestFunction; args: string[] },
  ): Promise<GuestOutcome> {
    const entry = this.#actors.get(actor);
    if (!entry) return Promise.resolve(trap("actor is not running"));
    return new Promise((resolve) =>
      entry.worker.enqueue({ id: this.#nextId++, actor, ...call, resolve })
    );
  }

  close(): void {
    for (const s of this.#slots) s.close();
  }
}

/**
 * Runs guests on the calling thread: no isolation and no time limit. For
 * benchmarks and tests of trusted components only.
 */
export class InProcessExecutor implements ActorExecutor {
  #actors = new Map<string, { slot: ActorSlot; guest?: GuestActor }>();
  #bindings = new Map<string, Awaited<ReturnType<typeof loadBindings>>>();

  /** Loads a component's bindings; call before the first `call`. */
  async prepare(component: ExecutorComponent): Promise<void> {
    if (!this.#bindings.has(component.key)) {
      this.#bindings.set(component.key, await loadBindings(component.bindings));
    }
  }

  register(actor: string, slot: ActorSlot): void {
    this.#actors.set(actor, { slot });
  }

  unregister(actor: string): void {
    this.#actors.delete(actor);
  }

  call(
    actor: string,
    call: { fn: GuestFunction; args: string[] },
  ): Promise<GuestOutcome> {
    const entry = this.#actors.get(actor);
    const instantiate = entry && this.#bindings.get(entry.slot.component.key);
    if (!entry || !instantiate) {
      return Promise.resolve(trap("actor is not running"));
    }
    try {
      entry.guest ??= new GuestActor(actor, instantiate, entry.slot.component);
    } catch (err) {
      return Promise.resolve(
        trap(`instantiation failed: ${(err as Error).message}`),
      );
    }
    const outcome = entry.guest.call(call.fn, call.args, entry.slot.context());
    if (outcome.status === "trap") entry.guest = undefined;
    return Promise.resolve(outcome);
  }

  close(): void {
    this.#actors.clear();
  }
}
