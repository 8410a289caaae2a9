// Copyright the Theater authors. MIT license.
// How a step's host calls become chain events (docs/chain-format.md §5):
// policy only, used by the recorder live and in replay.
import type { HostCallData, Json } from "../chain/mod.ts";
import { SUPERVISOR, TIMERS } from "./wit.ts";

/** A `host.call` or `host.calls` event to append, without its envelope. */
export interface CallEvent {
  /** The event type. */
  type: "host.call" | "host.calls";
  /** Its data, per docs/chain-format.md §5. */
  data: { [key: string]: Json };
}

/** Largest host call (arguments and result as JSON text) put in a group. */
const GROUP_CALL_MAX = 64 * 1024;
/** Largest group of host calls, the same way. */
const GROUP_MAX = 1024 * 1024;

/**
 * A step's host calls as chain events, and the event each call is in.
 * Grouped: each run of two or more calls to one interface is one
 * `host.calls` event (a step that logs and reads the clock writes one
 * envelope, not two); supervisor and timer calls stay `host.call` events,
 * for the links that name them, and so do large calls.
 */
export function callEvents(
  calls: HostCallData[],
  form: "grouped" | "single",
): { events: CallEvent[]; at: number[] } {
  const events: CallEvent[] = [];
  const at: number[] = [];
  let run: HostCallData[] = [];
  let runBytes = 0;
  const close = () => {
    if (run.length === 1) {
      const [c] = run;
      events.push({
        type: "host.call",
        // Members in RFC 8785 order: the chain writes them natively.
        data: {
          args: c.args,
          function: c.function,
          interface: c.interface,
          result: c.result,
        },
      });
    } else if (run.length > 1) {
      events.push({
        type: "host.calls",
        data: {
          calls: run.map((c) => ({
            args: c.args,
            function: c.function,
            result: c.result,
          })),
          interface: run[0].interface,
        },
      });
    }
    run = [];
    runBytes = 0;
  };
  for (const call of calls) {
    const alone = form === "single" || call.interface === SUPERVISOR ||
      call.interface === TIMERS;
    const bytes = alone
      ? 0
      : JSON.stringify(call.args).length + JSON.stringify(call.result).length;
    const single = alone || bytes > GROUP_CALL_MAX;
    if (
      single ||
      (run.length > 0 &&
        (run[0].interface !== call.interface || runBytes + bytes > GROUP_MAX))
    ) {
      close();
    }
    run.push(call);
    runBytes += bytes;
    at.push(events.length);
    if (single) close();
  }
  close();
  return { events, at };
}
