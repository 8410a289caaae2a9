// Copyright the Theater authors. MIT license.
import { type Clock, systemClock, type TimerId } from "./clock.ts";

/**
 * A deadline for the call in flight, watched by one timer that is set
 * again only when it would fire too late: most calls end long before
 * their deadline, and a timer set and cleared per call costs more than the
 * call's own bookkeeping. When the timer fires it finds no deadline (the
 * call ended), a later one (it waits on), or one that passed (it expires).
 * The timer does not keep the process alive.
 */
export class Watchdog {
  #expire: (why: string) => void;
  #clock: Clock;
  #deadline = Infinity;
  #why = "";
  #timer: TimerId | undefined;
  #timerAt = Infinity;

  /**
   * Makes a watchdog that calls `expire` with the reason of a passed
   * deadline, timed by `options.clock` (default: the system clock).
   */
  constructor(expire: (why: string) => void, options: { clock?: Clock } = {}) {
    this.#expire = expire;
    this.#clock = options.clock ?? systemClock;
  }

  /** Sets the deadline `ms` from now, replacing any other. */
  arm(ms: number, why: string): void {
    this.#deadline = this.#clock.monotonic() + ms;
    this.#why = why;
    if (this.#timer !== undefined && this.#timerAt <= this.#deadline) return;
    this.#clock.clearTimer(this.#timer);
    this.#timerAt = this.#deadline;
    this.#timer = this.#clock.setTimer(this.#check, ms, { unref: true });
  }

  /** No deadline: the call ended. */
  disarm(): void {
    this.#deadline = Infinity;
  }

  /** Stops watching for good. */
  close(): void {
    this.disarm();
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #check = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#deadline === Infinity) return;
    const left = this.#deadline - this.#clock.monotonic();
    if (left <= 0) {
      this.#deadline = Infinity;
      this.#expire(this.#why);
    } else this.arm(left, this.#why);
  };
}
