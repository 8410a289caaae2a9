// Copyright the Theater authors. MIT license.
/**
 * A clock for tests: time stands still until the test moves it, and then
 * every timer that falls due fires in time order (timers due together, in
 * the order they were set), each with the clock reading its due time. So a
 * test of timer order, time-outs or restart windows says exactly when
 * things happen, and takes milliseconds however busy the machine is.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./virtual_clock.ts";
 *
 * const clock = new VirtualClock({ now: Date.UTC(2025, 0, 1) });
 * const fired: string[] = [];
 * clock.setTimer(() => fired.push("b"), 20);
 * clock.setTimer(() => fired.push("a"), 10);
 * clock.advance(15); // fired: ["a"]
 * clock.advance(5); // fired: ["a", "b"]
 * ```
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";

interface Pending {
  id: TimerId;
  at: number;
  fn: () => void;
}

/** How many firings {@linkcode VirtualClock.runUntilIdle} allows by default. */
const IDLE_LIMIT = 100_000;

/**
 * A {@linkcode Clock} that moves only when told to. Its monotonic reading
 * starts at 0; its wall-clock reading at `options.now` (default 0) and
 * moves with it.
 */
export class VirtualClock implements Clock {
  #epoch: number;
  #elapsed = 0;
  #nextId = 1;
  /** Pending timers, in firing order: by due time, then by id. */
  #queue: Pending[] = [];
  #firing = false;

  /**
   * Makes a clock standing at `options.now` ms since the epoch (default
   * 0) and at 0 on its monotonic clock.
   */
  constructor(options: { now?: number } = {}) {
    this.#epoch = options.now ?? 0;
  }

  /** Milliseconds since the epoch, as set, plus the time advanced. */
  now(): number {
    return this.#epoch + this.#elapsed;
  }

  /** Milliseconds advanced since the clock was made. */
  monotonic(): number {
    return this.#elapsed;
  }

  /**
   * Calls `fn` when the clock has advanced `ms` from now (at once on the
   * next {@linkcode VirtualClock.advance}, for 0 or less). The options
   * mean nothing here: a virtual timer keeps no process alive.
   */
  setTimer(fn: () => void, ms: number): TimerId {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer = { id: this.#nextId++, at: this.#elapsed + delay, fn };
    // After every timer due at the same time or earlier: ties keep the
    // order they were set in.
    let lo = 0;
    let hi = this.#queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#queue[mid].at <= timer.at) lo = mid + 1;
      else hi = mid;
    }
    this.#queue.splice(lo, 0, timer);
    return timer.id;
  }

  /** Cancels a pending timer; nothing for one that fired, or none. */
  clearTimer(id: TimerId | undefined): void {
    if (id === undefined) return;
    const at = this.#queue.findIndex((t) => t.id === id);
    if (at !== -1) this.#queue.splice(at, 1);
  }

  /** Timers set and neither fired nor cleared. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Milliseconds until the next timer is due, or null when none is set. */
  nextDue(): number | null {
    const next = this.#queue[0];
    return next === undefined ? null : Math.max(0, next.at - this.#elapsed);
  }

  /**
   * Moves the clock `ms` forward, firing every timer due by then in time
   * order, each with the clock at its due time; timers those set fire too
   * if due by the end. Returns how many fired. A timer that throws stops
   * the advance there (the clock stays at its due time) and the error
   * comes out of this call.
   *
   * @throws {RangeError} for a negative or non-finite `ms`, or a call
   * from inside a firing timer.
   */
  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`advance: ms must be 0 or more, got ${ms}`);
    }
    const target = this.#elapsed + ms;
    let fired = 0;
    this.#run(() => {
      while (this.#queue.length > 0 && this.#queue[0].at <= target) {
        this.#fire();
        fired++;
      }
    });
    this.#elapsed = target;
    return fired;
  }

  /**
   * Moves the clock from one due timer to the next until none is left,
   * and returns how many fired.
   *
   * @param options.limit most firings (default 100,000): an interval
   * timer that keeps setting itself again never leaves the clock idle.
   * @throws {Error} past the limit, saying how many timers are pending.
   */
  runUntilIdle(options: { limit?: number } = {}): number {
    const limit = options.limit ?? IDLE_LIMIT;
    let fired = 0;
    this.#run(() => {
      while (this.#queue.length > 0) {
        if (fired >= limit) {
          throw new Error(
            `runUntilIdle: ${this.#queue.length} timers still pending after ${limit} firings (a timer that sets itself again never lets the clock go idle: use advance)`,
          );
        }
        this.#fire();
        fired++;
      }
    });
    return fired;
  }

  #run(body: () => void): void {
    if (this.#firing) {
      throw new RangeError(
        "a virtual clock cannot be advanced from inside one of its timers",
      );
    }
    this.#firing = true;
    try {
      body();
    } finally {
      this.#firing = false;
    }
  }

  #fire(): void {
    const timer = this.#queue.shift()!;
    this.#elapsed = Math.max(this.#elapsed, timer.at);
    timer.fn();
  }
}
