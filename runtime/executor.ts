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
  type Directory,
  GuestActor,
  type GuestComponent,
  loadBindings,
  Standing,
} from "./_guest.ts";
import type { ToWorker } from "./_worker.ts";
import { GateClient } from "./_gate_client.ts";
import type { Gate } from "./gate.ts";
import { MAX_TIMEOUT_MS } from "./limits.ts";
import { Watchdog } from "./_watchdog.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Executor, GuestFunction, GuestOutcome } from "./recorder.ts";

export type { CallContext, CallQuota, GuestComponent } from "./_guest.ts";
export { quotaOf } from "./_guest.ts";

/** A component as executors take it: its key and what to instantiate. */
export interface ExecutorComponent extends GuestComponent {
  /** Distinguishes components (and memory limits) across actors. */
  key: string;
}

/** What an executor needs to know about one actor. */
export interface ActorSlot {
  /** The component the actor runs. */
  component: ExecutorComponent;
  /** Longest one call (instantiation included) may run. */
  timeoutMs: number;
  /** The context of each call (quotas, children, replay). */
  context: () => CallContext;
  /** The gate that reads blobs and fetches for the actor, if any. */
  gate?: Gate;
}

/** An executor that actors are registered with before they are called. */
export interface ActorExecutor extends Executor {
  /** Adds an actor (or replaces its registration) so it can be called. */
  register(actor: string, slot: ActorSlot): void;
  /** Removes an actor and drops its instance. */
  unregister(actor: string): void;
  /**
   * Marks a registered actor's mailbox as full (sends to it are refused
   * with an `err`) or as taking messages again.
   */
  setMailboxFull(actor: string, full: boolean): void;
  /**
   * Says that an actor of the run runs on another node of a cluster (or no
   * longer does): guests may send to it, though it is not called here.
   */
  setRemote(actor: string, present: boolean): void;
  /** Stops the executor; no calls are run after it. */
  close(): void;
}

const BOOT_LIMIT_MS = 30_000;
/** How long past its deadline a call may take to stop before its worker is killed. */
const KILL_GRACE_MS = 1000;
/** Directory changes kept for workers to catch up on before a reset. */
const DIRECTORY_LOG = 4096;

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

/** One call of a batch; `args[0]` null: the state the call before left. */
export interface BatchCall {
  /** The export to call. */
  fn: GuestFunction;
  /** Its arguments; a null first one is the state the call before left. */
  args: (string | null)[];
  /** Its context; default: the actor's slot's context at dispatch. */
  context?: CallContext;
  /** Who sent the message being handled (`message.sender`). */
  sender?: string;
  /** Run ahead of its turn (see `GuestOutcome.stopped`). */
  ahead?: boolean;
}

interface Pending {
  id: number;
  actor: string;
  calls: BatchCall[];
  resolve: (outcomes: GuestOutcome[]) => void;
}

/** A call's context with its sender and the actor's gate. */
function withCall(
  context: CallContext,
  call: { sender?: string; ahead?: boolean },
  gate: Gate | undefined,
): CallContext {
  const { sender, ahead } = call;
  if (sender === undefined && !gate && !ahead) return context;
  return {
    ...context,
    ...(sender === undefined ? {} : { sender }),
    ...(gate ? { gate: gate.key } : {}),
    ...(ahead ? { ahead } : {}),
  };
}

/** The outcomes of a batch that ended before or outside the guest. */
function traps(count: number, error: string): GuestOutcome[] {
  return Array.from({ length: count }, () => trap(error));
}

interface Registered {
  slot: ActorSlot;
  /** The worker holding the actor's instance, if any. */
  home: WorkerSlot | null;
}

/** One worker of the pool: it runs one call at a time. */
class WorkerSlot {
  #pool: WorkerPool;
  #worker: Worker;
  #sent = new Set<string>();
  /**
   * Actors whose instance is ready here, as far as the host knows: their
   * calls start at once, so the worker need not say so.
   */
  #warm = new Set<string>();
  /** Cuts off a call in flight that does not answer in time. */
  #watchdog: Watchdog;
  /** The call in flight, or null when the worker is free. */
  running: Pending | null = null;
  /** How far into the pool's directory log this worker is. */
  seen = -1;
  /** Actors whose instance lives here. */
  homes = 0;

  constructor(pool: WorkerPool) {
    this.#pool = pool;
    this.#watchdog = new Watchdog((why) => this.#kill(why), {
      clock: pool.clock,
    });
    this.#worker = actorWorker(new URL("./_worker.ts", import.meta.url));
    this.#worker.onmessage = (e) => {
      if (e.data.type === "started") this.#started(e.data.id);
      else this.#done(e.data.id, e.data.outcomes);
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#kill(`worker crashed: ${e.message}`);
    };
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  drop(actor: string): void {
    this.#warm.delete(actor);
    this.post({ type: "drop", actor });
  }

  /** Runs a call here; the worker must be free. */
  run(p: Pending, slot: ActorSlot): void {
    const { component } = slot;
    if (!this.#sent.has(component.key)) {
      this.post({
        type: "component",
        key: component.key,
        bindings: component.bindings,
        modules: component.modules,
      });
      this.#sent.add(component.key);
    }
    const gate = slot.gate;
    if (gate && !this.#sent.has(gate.key)) {
      const port = gate.connect();
      this.post({ type: "gate", key: gate.key, port }, [port]);
      this.#sent.add(gate.key);
    }
    this.running = p;
    const warm = this.#warm.has(p.actor);
    this.post({
      type: "call",
      id: p.id,
      actor: p.actor,
      key: component.key,
      announce: !warm,
      calls: p.calls.map((c) => ({
        fn: c.fn,
        args: c.args,
        context: withCall(c.context ?? slot.context(), c, gate),
      })),
      timeoutMs: slot.timeoutMs,
    });
    if (warm) {
      // The instance is ready: the calls start now (a worker that finds it
      // gone after all says "started", which sets the timer again).
      this.#limit(p);
      return;
    }
    // Until the worker says the call started, only a worker that never
    // answers (it died, or cannot load the bindings) is cut off.
    this.#watchdog.arm(
      BOOT_LIMIT_MS,
      `worker did not start the call in ${BOOT_LIMIT_MS} ms`,
    );
  }

  /**
   * The call in flight has begun (instantiation first). The guest stops
   * itself at its deadline (instrumented, see _interrupt.ts); only a worker
   * that does not answer well after it is killed — which Deno cannot do
   * to a thread stuck in a loop, so this is the last resort.
   */
  #started(id: number): void {
    const p = this.running;
    if (p?.id !== id) return;
    this.#limit(p);
  }

  /** The last-resort deadline of calls under way. */
  #limit(p: Pending): void {
    const limit = this.#pool.slot(p.actor)?.timeoutMs ?? 0;
    // Each call of a batch has its own deadline.
    this.#watchdog.arm(
      Math.min(limit * p.calls.length + KILL_GRACE_MS, MAX_TIMEOUT_MS),
      `timed out after ${limit} ms`,
    );
  }

  #done(id: number, outcomes: GuestOutcome[]): void {
    if (this.running?.id !== id) return;
    this.#watchdog.disarm();
    const p = this.running;
    // After a trap the worker drops the instance (_worker.ts).
    if (outcomes.at(-1)?.status === "trap") this.#warm.delete(p.actor);
    else this.#warm.add(p.actor);
    this.running = null;
    p.resolve(outcomes);
    this.#pool.freed();
  }

  /** Kills the worker and fails the call in flight. */
  #kill(reason: string): void {
    this.close();
    const running = this.running;
    this.running = null;
    this.#pool.lost(this);
    if (running) running.resolve(traps(running.calls.length, reason));
  }

  close(): void {
    this.#watchdog.close();
    this.#worker.terminate();
  }
}

/**
 * Runs actors in a pool of no-permission workers. A call goes to a free
 * worker (the one holding the actor's instance when it is free), so an
 * actor that runs long delays only itself; the pool grows up to its size
 * when every worker is busy, and calls wait in one queue, in order, beyond
 * that. A call over its time limit terminates its worker and fails; the
 * actors that had instances there lose only those instances (state lives
 * in the host).
 */
export class WorkerPool implements ActorExecutor {
  /** What the watchdog of each worker times calls by. */
  readonly clock: Clock;
  #max: number;
  #workers: WorkerSlot[] = [];
  #queue: Pending[] = [];
  #actors = new Map<string, Registered>();
  #nextId = 1;
  /** The directory of actors, and the changes workers catch up on. */
  #directory = new Map<string, Standing>();
  /** Actors of the run on other nodes. */
  #remote = new Set<string>();
  #log: [string, Standing][] = [];
  #logBase = 0;
  #closed = false;

  /**
   * Makes a pool that starts its workers as calls need them.
   *
   * @param options.size most workers at once (default: twice the cores,
   * at least 4).
   * @param options.clock what decides that a call is past its time and
   * its worker must be killed (default: the system clock). A guest stops
   * itself at its limit on the real clock, in its worker; this is the
   * host's last resort when it does not.
   */
  constructor(options: { size?: number; clock?: Clock } = {}) {
    this.#max = options.size ??
      Math.max(4, 2 * navigator.hardwareConcurrency);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Starts a worker now if none is running, so that the first call does
   * not wait for one to boot.
   */
  warm(): void {
    if (this.#workers.length === 0 && !this.#closed) this.#spawn();
  }

  /** Workers started so far and still alive. */
  get workers(): number {
    return this.#workers.length;
  }

  /** The registration of an actor, if it is registered. */
  slot(actor: string): ActorSlot | undefined {
    return this.#actors.get(actor)?.slot;
  }

  /** Adds an actor (or replaces its registration) so it can be called. */
  register(actor: string, slot: ActorSlot): void {
    const existing = this.#actors.get(actor);
    if (existing?.home) {
      existing.home.drop(actor);
      existing.home.homes--;
    }
    this.#actors.set(actor, { slot, home: null });
    this.#change(actor, Standing.Running);
  }

  /** Removes an actor and drops its instance. */
  unregister(actor: string): void {
    const entry = this.#actors.get(actor);
    if (!entry) return;
    if (entry.home) {
      entry.home.drop(actor);
      entry.home.homes--;
    }
    this.#actors.delete(actor);
    this.#change(
      actor,
      this.#remote.has(actor) ? Standing.Running : Standing.Gone,
    );
  }

  /** Marks an actor's mailbox as full, or as taking messages again. */
  setMailboxFull(actor: string, full: boolean): void {
    if (!this.#actors.has(actor)) return;
    this.#change(actor, full ? Standing.Full : Standing.Running);
  }

  /** Says that an actor runs on another node, or no longer does. */
  setRemote(actor: string, present: boolean): void {
    if (present) this.#remote.add(actor);
    else this.#remote.delete(actor);
    if (this.#actors.has(actor)) return;
    this.#change(actor, present ? Standing.Running : Standing.Gone);
  }

  #change(actor: string, standing: Standing): void {
    if (standing === Standing.Gone) this.#directory.delete(actor);
    else this.#directory.set(actor, standing);
    this.#log.push([actor, standing]);
    if (this.#log.length > DIRECTORY_LOG) {
      // Workers this far behind get the whole directory instead.
      this.#logBase += this.#log.length;
      this.#log = [];
    }
  }

  /** Brings a worker's copy of the directory up to date. */
  #sync(worker: WorkerSlot): void {
    const end = this.#logBase + this.#log.length;
    if (worker.seen === end) return;
    if (worker.seen < this.#logBase) {
      worker.post({
        type: "directory",
        reset: true,
        changes: [...this.#directory],
      });
    } else {
      worker.post({
        type: "directory",
        reset: false,
        changes: this.#log.slice(worker.seen - this.#logBase),
      });
    }
    worker.seen = end;
  }

  /** Runs one guest function of an actor and resolves with its outcome. */
  async call(
    actor: string,
    call: { fn: GuestFunction; args: string[]; sender?: string },
  ): Promise<GuestOutcome> {
    return (await this.callMany(actor, [call]))[0];
  }

  /**
   * Runs several calls into one actor in one round trip to its worker, one
   * after another (see {@linkcode BatchCall} for how state passes along).
   */
  callMany(actor: string, calls: BatchCall[]): Promise<GuestOutcome[]> {
    if (!this.#actors.has(actor)) {
      return Promise.resolve(traps(calls.length, "actor is not running"));
    }
    return new Promise((resolve) => {
      this.#queue.push({ id: this.#nextId++, actor, calls, resolve });
      this.#dispatch();
    });
  }

  /** Starts queued calls on free workers, in order. */
  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const p = this.#queue[0];
      const entry = this.#actors.get(p.actor);
      if (!entry) {
        this.#queue.shift();
        p.resolve(traps(p.calls.length, "actor is not running"));
        continue;
      }
      let worker = entry.home?.running === null ? entry.home : undefined;
      if (!worker) {
        // Elsewhere, the free worker with the fewest instances: an actor
        // whose worker was killed should not take another actor's home.
        for (const w of this.#workers) {
          if (w.running === null && (!worker || w.homes < worker.homes)) {
            worker = w;
          }
        }
      }
      if (!worker && this.#workers.length < this.#max) worker = this.#spawn();
      if (!worker) return;
      this.#queue.shift();
      if (entry.home !== worker) {
        // One instance per actor: it moves with the call.
        if (entry.home) {
          entry.home.drop(p.actor);
          entry.home.homes--;
        }
        entry.home = worker;
        worker.homes++;
      }
      this.#sync(worker);
      worker.run(p, entry.slot);
    }
  }

  /** A worker finished its call. */
  freed(): void {
    this.#dispatch();
  }

  /**
   * A worker was killed: its instances are gone with it. A replacement
   * starts booting at once, so the next call does not wait for it.
   *
   * @internal Called only by the pool's own workers.
   */
  lost(worker: WorkerSlot): void {
    this.#workers = this.#workers.filter((w) => w !== worker);
    for (const entry of this.#actors.values()) {
      if (entry.home === worker) entry.home = null;
    }
    if (!this.#closed) this.#spawn();
    queueMicrotask(() => this.#dispatch());
  }

  #spawn(): WorkerSlot {
    const worker = new WorkerSlot(this);
    this.#workers.push(worker);
    return worker;
  }

  /** Terminates every worker and fails the calls still queued. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.close();
    this.#workers = [];
    for (const p of this.#queue.splice(0)) {
      p.resolve(traps(p.calls.length, "executor closed"));
    }
  }
}

/**
 * Runs guests on the calling thread: no isolation and no time limit. For
 * benchmarks and tests of trusted components only.
 */
export class InProcessExecutor implements ActorExecutor {
  #actors = new Map<string, { slot: ActorSlot; guest?: GuestActor }>();
  #bindings = new Map<string, Awaited<ReturnType<typeof loadBindings>>>();
  #directory: Directory = new Map();
  #remote = new Set<string>();
  #gates = new Map<string, GateClient>();

  /** Loads a component's bindings; call before the first `call`. */
  async prepare(component: ExecutorComponent): Promise<void> {
    if (!this.#bindings.has(component.key)) {
      this.#bindings.set(component.key, await loadBindings(component.bindings));
    }
  }

  /** Adds an actor (or replaces its registration) so it can be called. */
  register(actor: string, slot: ActorSlot): void {
    this.#actors.set(actor, { slot });
    this.#directory.set(actor, Standing.Running);
  }

  /** Removes an actor and drops its instance. */
  unregister(actor: string): void {
    this.#actors.delete(actor);
    if (this.#remote.has(actor)) this.#directory.set(actor, Standing.Running);
    else this.#directory.delete(actor);
  }

  /** Marks an actor's mailbox as full, or as taking messages again. */
  setMailboxFull(actor: string, full: boolean): void {
    if (!this.#actors.has(actor)) return;
    this.#directory.set(actor, full ? Standing.Full : Standing.Running);
  }

  /** Says that an actor runs on another node, or no longer does. */
  setRemote(actor: string, present: boolean): void {
    if (present) this.#remote.add(actor);
    else this.#remote.delete(actor);
    if (this.#actors.has(actor)) return;
    if (present) this.#directory.set(actor, Standing.Running);
    else this.#directory.delete(actor);
  }

  /** Runs one guest function of an actor and resolves with its outcome. */
  call(
    actor: string,
    call: { fn: GuestFunction; args: string[]; sender?: string },
  ): Promise<GuestOutcome> {
    const entry = this.#actors.get(actor);
    const instantiate = entry && this.#bindings.get(entry.slot.component.key);
    if (!entry || !instantiate) {
      return Promise.resolve(trap("actor is not running"));
    }
    const gate = entry.slot.gate;
    if (gate && !this.#gates.has(gate.key)) {
      this.#gates.set(gate.key, new GateClient(gate.connect()));
    }
    try {
      entry.guest ??= new GuestActor(actor, {
        instantiate,
        component: entry.slot.component,
        directory: this.#directory,
        gates: this.#gates,
      });
    } catch (err) {
      return Promise.resolve(
        trap(`instantiation failed: ${(err as Error).message}`),
      );
    }
    const outcome = entry.guest.call(
      call.fn,
      call.args,
      withCall(entry.slot.context(), call, gate),
    );
    if (outcome.status === "trap") entry.guest = undefined;
    return Promise.resolve(outcome);
  }

  /** Drops every actor and its instance. */
  close(): void {
    this.#actors.clear();
  }
}
