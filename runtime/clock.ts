// Copyright the Theater authors. MIT license.
/**
 * Time as a dependency. Whatever decides by time — actor timers, request
 * time-outs, restart windows, the worker pool's watchdog, chain timestamps
 * — takes a {@linkcode Clock} from its options, defaulting to
 * {@linkcode systemClock}, so that tests can drive it with a virtual one
 * (`virtual_clock.ts`) instead of waiting on the machine.
 *
 * Not on it: the guest's own deadline inside its worker (`instance.ts`),
 * which is checked by instrumented code on another thread, and the guest's
 * `now` host call, answered there too.
 *
 * @module
 */

/** A timer set on a {@linkcode Clock}, to clear it with. */
export type TimerId = number;

/** Options of {@linkcode Clock.setTimer}. */
export interface TimerOptions {
  /**
   * The timer does not keep the process alive (a watchdog that must not
   * hold up the end of a run).
   *
   * @default {false}
   */
  unref?: boolean;
}

/** Where time comes from, and how to be called back later. */
export interface Clock {
  /** Milliseconds since the Unix epoch: for timestamps that are recorded. */
  now(): number;
  /**
   * Milliseconds on a clock that never goes back, from an arbitrary
   * origin: for windows and deadlines, which a change of the wall clock
   * must not stretch or shrink.
   */
  monotonic(): number;
  /** Calls `fn` once, `ms` milliseconds from now (on the monotonic clock). */
  setTimer(fn: () => void, ms: number, options?: TimerOptions): TimerId;
  /** Cancels a timer that has not fired; nothing for one that has, or none. */
  clearTimer(id: TimerId | undefined): void;
}

/**
 * The machine's clock: `Date.now()`, `performance.now()` and the event
 * loop's timers. What runs use; only tests need another.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (fn: () => void, ms: number, options?: TimerOptions) => {
    // Deno's timers are numbers (the Node typings in scope say otherwise).
    const id = setTimeout(fn, ms) as unknown as number;
    if (options?.unref) Deno.unrefTimer(id);
    return id;
  },
  clearTimer: (id: TimerId | undefined) => clearTimeout(id),
});
