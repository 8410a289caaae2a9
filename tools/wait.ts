// Copyright the Theater authors. MIT license.
/**
 * The one way tests wait: for the thing itself (a line a process printed,
 * an event in a chain, a file), never for a fixed time. A deadline only
 * bounds a hang; when it passes, the error says what was awaited and what
 * was seen instead, so a failure on a slow machine reads as a hang, not as
 * a wrong count.
 *
 * @example
 * ```ts ignore
 * import { waitFor, watchLines } from "./wait.ts";
 * const child = new Deno.Command("theater", { stdout: "piped" }).spawn();
 * const out = watchLines(child.stdout);
 * await out.until((line) => line.includes('"ok"'), "the first reply");
 * await waitFor("the chain file", () => existsSync("run/counter.jsonl"));
 * ```
 *
 * @module
 */

/** How long a wait may hang before it fails: a bound, not a measurement. */
export const HANG_MS = 120_000;

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /**
   * When to give up, in milliseconds.
   *
   * @default {HANG_MS}
   */
  timeoutMs?: number;
  /** What was seen, for the error when the wait fails. */
  seen?: () => unknown;
  /**
   * Settles when the thing can no longer come (the process that would
   * make it has exited): the wait then fails after one last probe,
   * instead of at its deadline.
   */
  ended?: Promise<unknown>;
}

function _show(seen: unknown): string {
  return typeof seen === "string" ? seen : JSON.stringify(seen);
}

/** A wait that ran past its deadline; the message says what and what was seen. */
export class WaitTimeout extends Error {
  /** Creates the error for a wait on `what`. */
  constructor(what: string, ms: number, seen: unknown) {
    super(`waited ${ms} ms for ${what}; saw: ${_show(seen)}`.slice(0, 4000));
    this.name = "WaitTimeout";
  }
}

/**
 * Polls `probe` until it returns a value other than `undefined`, `null` or
 * `false`, and resolves with it. Polling starts fast and backs off to
 * 50 ms, so a wait costs little however slow the machine is.
 */
export async function waitFor<T>(
  what: string,
  probe: () =>
    | T
    | undefined
    | null
    | false
    | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const ms = options.timeoutMs ?? HANG_MS;
  const deadline = performance.now() + ms;
  let pause = 1;
  let last: unknown = undefined;
  let over = false;
  options.ended?.then(() => over = true, () => over = true);
  for (;;) {
    // Read before probing: a probe that starts after the end is the last.
    const final = over;
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) {
        return value;
      }
      last = value;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (final) {
      throw new Error(
        `it ended before ${what}; saw: ${
          _show(options.seen ? options.seen() : last)
        }`.slice(0, 4000),
      );
    }
    if (performance.now() > deadline) {
      throw new WaitTimeout(what, ms, options.seen ? options.seen() : last);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(50, pause * 2);
  }
}

/** The lines of a stream as they arrive, for {@linkcode watchLines}. */
export interface Lines {
  /** Every complete line so far, in order. */
  readonly lines: readonly string[];
  /** All text so far, including an unfinished last line. */
  readonly text: string;
  /** Resolves when the stream has ended (or failed). */
  readonly closed: Promise<void>;
  /**
   * Resolves with the first line (seen before or later) that `match`
   * accepts; fails when the stream ends without one or the deadline passes.
   */
  until(
    match: (line: string) => boolean,
    what: string,
    options?: { timeoutMs?: number },
  ): Promise<string>;
  /** Resolves once `count` lines accepted by `match` have been seen. */
  count(
    match: (line: string) => boolean,
    count: number,
    what: string,
    options?: { timeoutMs?: number },
  ): Promise<string[]>;
}

/**
 * Reads `stream` line by line in the background and lets a test wait for a
 * line by its content. The stream is read to its end, so a child process
 * never blocks on a full pipe.
 */
export function watchLines(stream: ReadableStream<Uint8Array>): Lines {
  const lines: string[] = [];
  let partial = "";
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const closed = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        partial += decoder.decode(chunk, { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop()!;
        if (parts.length > 0) {
          lines.push(...parts);
          wake();
        }
      }
    } catch {
      // A killed child's pipe may end in an error: the lines read stand.
    } finally {
      if (partial !== "") lines.push(partial);
      partial = "";
      ended = true;
      wake();
    }
  })();
  const count = (
    match: (line: string) => boolean,
    n: number,
    what: string,
    options: { timeoutMs?: number } = {},
  ): Promise<string[]> => {
    const ms = options.timeoutMs ?? HANG_MS;
    return new Promise((resolve, reject) => {
      // Each waiter scans only the lines it has not seen, so a long output
      // costs one pass however many chunks it came in.
      const found: string[] = [];
      let next = 0;
      const check = () => {
        for (; next < lines.length && found.length < n; next++) {
          if (match(lines[next])) found.push(lines[next]);
        }
        if (found.length >= n) {
          done();
          resolve(found);
        } else if (ended) {
          done();
          reject(
            new Error(
              `the stream ended before ${what} (${found.length} of ${n}); saw: ${
                lines.slice(-20).join("\n")
              }`.slice(0, 4000),
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new WaitTimeout(
            `${what} (${found.length} of ${n})`,
            ms,
            lines.slice(-20).join("\n"),
          ),
        );
      }, ms);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  };
  return {
    get lines() {
      return lines;
    },
    get text() {
      return lines.join("\n") + (partial === "" ? "" : "\n" + partial);
    },
    closed,
    count,
    until: async (match, what, options) =>
      (await count(match, 1, what, options))[0],
  };
}
