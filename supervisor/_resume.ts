// Copyright the Theater authors. MIT license.
// Where an actor stands at the end of its chain, for resuming it: its last
// committed state, its spawned children, and how each child last stood.
// Pure: it folds events that were already verified.
import {
  type ChainEvent,
  type HostCallData,
  hostCallsOf,
  type Json,
  StateTracker,
} from "../chain/mod.ts";
import { SUPERVISOR, TIMERS } from "../runtime/mod.ts";

/** The prefix of the `actor.stop` reason of every actor a run stops. */
export const RUN_STOP = "run stopped: ";

/** A child as its parent's chain last saw it. */
export interface ChildRecord {
  /** The last lifecycle event about it, or null if none was recorded. */
  event: string | null;
  reason: string | null;
  /** For a spawned child: the manifest path and params, and the spawn. */
  spawn?: { manifest: string; params: string | null; hash: string };
}

/** Where an actor's chain leaves it. */
export interface ResumePoint {
  /** The last committed state (null before any). */
  state: Json;
  /** Whether `init` ever succeeded. */
  initialized: boolean;
  /** Spawns that committed (names the next child). */
  spawned: number;
  /** Children by id, in the order they first appear. */
  children: Map<string, ChildRecord>;
  /** The reason of the final `actor.stop`, or null if it ends otherwise. */
  stopped: string | null;
  /** The hash of the last event. */
  head: string | null;
  /** Timers set by committed steps and still pending, by id. */
  timers: Map<string, PendingTimer>;
}

/** A timer an actor set and that has not fired (or, `every`, been cancelled). */
export interface PendingTimer {
  every: boolean;
  ms: number;
  msg: Json;
  /** When it was set (the `ts` of its host call). */
  at: number;
}

/** The `from` of a timer's message: `timer:<id>`. */
export const TIMER_FROM = "timer:";

/** Folds a chain's events into its {@linkcode ResumePoint}. */
export class ResumeFold {
  #point: ResumePoint = {
    state: null,
    initialized: false,
    spawned: 0,
    children: new Map(),
    stopped: null,
    head: null,
    timers: new Map(),
  };
  #state = new StateTracker();
  /** Timers set and cancelled by the step under way. */
  #timerCalls: { call: HostCallData; ts: number }[] = [];
  /** Spawns of the step under way: they count only if it commits. */
  #pending: {
    id: string;
    manifest: string;
    params: string | null;
    hash: string;
  }[] = [];

  /**
   * Takes the next event.
   *
   * @throws {StateError} when a state patch does not lead where it says.
   */
  add(e: ChainEvent): void {
    const p = this.#point;
    p.head = e.hash;
    p.stopped = null;
    const d = e.data;
    switch (e.type) {
      case "host.call":
      case "host.calls":
        for (const call of hostCallsOf(e)) {
          if (call.interface === TIMERS) {
            this.#timerCalls.push({ call, ts: e.ts });
          }
          const result = call.result as { ok?: Json } | null;
          if (
            call.interface === SUPERVISOR && call.function === "spawn" &&
            result !== null && typeof result === "object" && "ok" in result
          ) {
            this.#pending.push({
              id: String(result.ok),
              manifest: String(call.args[0]),
              params: (call.args[1] ?? null) as string | null,
              hash: e.hash,
            });
          }
        }
        return;
      case "actor.init":
        this.#state.add(e);
        p.initialized = true;
        this.#commit();
        return;
      case "handle.ok":
      case "handle.patch":
        this.#state.add(e);
        this.#commit();
        return;
      case "handle.error":
        this.#pending = [];
        this.#timerCalls = [];
        return;
      case "message.in": {
        const from = String(d.from);
        const id = from.slice(TIMER_FROM.length);
        if (from.startsWith(TIMER_FROM) && !p.timers.get(id)?.every) {
          p.timers.delete(id);
        }
        return;
      }
      case "actor.start":
        // A restart (or a new start) begins with no timers.
        p.timers.clear();
        return;
      case "child.event": {
        const id = String(d.child);
        const child = p.children.get(id) ?? { event: null, reason: null };
        child.event = String(d.event);
        child.reason = d.reason === null ? null : String(d.reason);
        p.children.set(id, child);
        return;
      }
      case "actor.stop":
        p.stopped = String(d.reason);
        // Only a stop of the whole run keeps the timers for its resume.
        if (!p.stopped.startsWith(RUN_STOP)) p.timers.clear();
        return;
    }
  }

  #commit(): void {
    const p = this.#point;
    for (const { call: d, ts } of this.#timerCalls) {
      const args = d.args;
      const result = d.result as { ok?: Json } | boolean | null;
      if (d.function === "cancel") {
        if (result === true) p.timers.delete(String(args[0]));
      } else if (result && typeof result === "object" && "ok" in result) {
        p.timers.set(String(result.ok), {
          every: d.function === "every",
          ms: Number(args[0]),
          msg: JSON.parse(String(args[1])),
          at: ts,
        });
      }
    }
    this.#timerCalls = [];
    for (const s of this.#pending) {
      p.spawned++;
      const child = p.children.get(s.id) ?? { event: null, reason: null };
      child.spawn = { manifest: s.manifest, params: s.params, hash: s.hash };
      p.children.set(s.id, child);
    }
    this.#pending = [];
  }

  /**
   * Where the events so far leave the actor.
   *
   * @throws {StateError} when the last state patch does not give its hash.
   */
  point(): ResumePoint {
    this.#point.state = this.#state.state;
    return this.#point;
  }
}

/**
 * Whether a child was running when its parent's chain ends: it was started,
 * restarted or failed (and not yet stopped), or the run stopped it, or it
 * was spawned and never reported on (the run ended before it started).
 */
export function wasRunning(child: ChildRecord | undefined): boolean {
  if (!child || child.event === null) return true;
  if (child.event === "stopped") {
    return child.reason?.startsWith(RUN_STOP) ?? false;
  }
  return child.event !== "given-up";
}
