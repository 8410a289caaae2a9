// Copyright the Theater authors. MIT license.
/**
 * Erlang/OTP restart policy, as pure functions: which exits are restarted,
 * the restart intensity over a monotonic clock, and which children a
 * strategy stops and starts, in what order. The actor system carries the
 * plans out; this module does no I/O.
 *
 * @module
 */

/** How a supervisor restarts its children when one fails. */
export type Strategy = "one-for-one" | "one-for-all" | "rest-for-one";

/** When a child is restarted (its own manifest's `supervision.restart`). */
export type RestartType = "permanent" | "transient" | "temporary";

/** How a child ended: it stopped itself, or it crashed. */
export type Exit = "normal" | "crash";

/**
 * Whether a child that ended this way is restarted: `permanent` always,
 * `transient` only after a crash, `temporary` never (as in OTP).
 */
export function shouldRestart(type: RestartType, exit: Exit): boolean {
  return type === "permanent" || (type === "transient" && exit === "crash");
}

/** A supervisor's restart intensity: at most `maxRestarts` in `periodMs`. */
export interface Intensity {
  maxRestarts: number;
  periodMs: number;
}

/**
 * Charges one restart at `now` (milliseconds on a monotonic clock) to the
 * history of earlier restarts. As in OTP, restarts at most `periodMs` old
 * count (the window is inclusive) and the supervisor gives up when, with
 * this one, there are more than `maxRestarts`. Returns the history to keep.
 */
export function chargeRestart(
  history: readonly number[],
  now: number,
  intensity: Intensity,
): { giveUp: boolean; history: number[] } {
  const kept = [now, ...history.filter((t) => now - t <= intensity.periodMs)];
  return { giveUp: kept.length > intensity.maxRestarts, history: kept };
}

/** The children a restart stops (in that order), then starts (in order). */
export interface RestartPlan {
  stop: string[];
  start: string[];
}

/**
 * What `strategy` does when `failed` fails, given the supervisor's
 * children in start order: `one-for-one` restarts it alone; `one-for-all`
 * stops every child, last started first, then starts them all in order;
 * `rest-for-one` does the same for `failed` and the children started after
 * it.
 */
export function restartPlan(
  strategy: Strategy,
  children: readonly string[],
  failed: string,
): RestartPlan {
  const at = children.indexOf(failed);
  if (at === -1) return { stop: [], start: [] };
  const affected = strategy === "one-for-one"
    ? [failed]
    : strategy === "one-for-all"
    ? [...children]
    : children.slice(at);
  return { stop: [...affected].reverse(), start: affected };
}
