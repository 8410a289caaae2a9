// Copyright the Theater authors. MIT license.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { describeIoError } from "../chain/mod.ts";

/** A bad command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A CLI command: its help text and what it does with its arguments. Its
 * one-line summary is in cli/_commands.ts, so the top-level help needs no
 * command's module.
 */
export interface Command {
  name: string;
  help: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `parseArgs` in strict mode, with its errors turned into UsageError in
 * our words; an option that takes one value and is given twice is refused
 * (parseArgs would keep the last without a word).
 */
export function parse<T extends Options>(
  args: string[],
  options: T,
): { values: Record<string, unknown>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new UsageError(
        `unknown option ${flag} (for an argument that begins with '-', put it after --)`,
      );
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new UsageError(
        `${flag} needs a value${
          /ambiguous/.test(message)
            ? ` (for a value that begins with '-', write ${flag}=VALUE)`
            : ""
        }`,
      );
    }
    throw new UsageError(message);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens ?? []) {
    if (token.kind !== "option") continue;
    const { name, rawName } = token as { name: string; rawName: string };
    const option = options[name];
    if (option?.type !== "string" || option.multiple) continue;
    if (seen.has(name)) {
      throw new UsageError(`${rawName} given twice (it takes one value)`);
    }
    seen.add(name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Parses a non-negative integer flag value, naming the flag when it is not. */
export function intFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (
    typeof value !== "string" || !/^\d+$/.test(value) ||
    !Number.isSafeInteger(n)
  ) {
    throw new UsageError(
      `--${name} must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

const useColor = Deno.stdout.isTerminal() && !Deno.noColor;

/** Wraps text in an ANSI colour when stdout is a terminal and NO_COLOR is unset. */
export function color(code: number, text: string): string {
  return useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** Writes one line to stdout. */
export function out(line: string): void {
  console.log(line);
}

/**
 * Lines for stdout, written together once per turn of the event loop: one
 * write for the replies a batch of steps released instead of one per line
 * (`theater run` prints a line per message). `flush` writes what waits.
 */
export function batchedOut(): { line(text: string): void; flush(): void } {
  const waiting: string[] = [];
  const encoder = new TextEncoder();
  const flush = () => {
    if (waiting.length === 0) return;
    const bytes = encoder.encode(waiting.join("\n") + "\n");
    waiting.length = 0;
    for (let at = 0; at < bytes.length;) {
      at += Deno.stdout.writeSync(bytes.subarray(at));
    }
  };
  return {
    line(text) {
      if (waiting.push(text) === 1) setTimeout(flush, 0);
    },
    flush,
  };
}

/** Writes one line to stderr. */
export function err(line: string): void {
  console.error(line);
}

/**
 * The transpile cache the `--cache-dir` / `--no-cache` flags ask for:
 * `false` for none, a directory, or undefined for the default.
 */
export function cacheOption(
  values: { [key: string]: unknown },
): string | false | undefined {
  if (values["no-cache"] === true) {
    if (values["cache-dir"] !== undefined) {
      throw new UsageError("--no-cache and --cache-dir exclude each other");
    }
    return false;
  }
  return values["cache-dir"] as string | undefined;
}

const OPERATIONS: Record<string, string> = {
  readfile: "cannot read",
  open: "cannot open",
  stat: "cannot read",
  lstat: "cannot read",
  readdir: "cannot list",
  writefile: "cannot write",
  mkdir: "cannot create the directory",
  remove: "cannot remove",
  rename: "cannot rename",
  copy: "cannot copy",
};

/**
 * An OS or permission error from Deno in our words: what was being done,
 * to which path, and the reason, without the "(os error N)" tail. Null
 * for any other error.
 */
export function describeOsError(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const known = Object.values(Deno.errors).some((kind) =>
    error instanceof kind
  );
  if (!known) return null;
  const denied = error.message.match(/^Requires (\w+) access to "([^"]*)"/);
  if (denied) {
    return `${denied[2]}: not allowed by Deno's permissions (${
      denied[1]
    } access)`;
  }
  // The reason in the words every other message uses; the call and path
  // from Deno's own text.
  const call = error.message.match(/\(os error \d+\): (\w+) '([^']*)'/);
  const reason = describeIoError(error);
  return call
    ? `${OPERATIONS[call[1]] ?? call[1]} ${call[2]}: ${reason}`
    : reason;
}

/**
 * Stops on SIGINT or SIGTERM: `signal` aborts, its reason the signal's
 * name, until `dispose()` removes the listeners. How a command that
 * follows or serves something ends normally.
 */
export function stopOnSignals(): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const names = ["SIGINT", "SIGTERM"] as const;
  const listeners = names.map((name) =>
    [name, () => abort.abort(name)] as const
  );
  for (const [name, fn] of listeners) Deno.addSignalListener(name, fn);
  return {
    signal: abort.signal,
    dispose() {
      for (const [name, fn] of listeners) Deno.removeSignalListener(name, fn);
    },
  };
}

/**
 * Resolves with `{ value }` once `promise` does, or with null as soon as
 * `signal` aborts (at once if it has); rejects when `promise` does first.
 * Unlike `Promise.race` against a promise that stays pending, it leaves
 * nothing behind once it has settled, so a loop may race every step
 * against one long-lived signal.
 */
export function unlessAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<{ value: T } | null> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const abort = () => resolve(null);
    signal.addEventListener("abort", abort, { once: true });
    promise.then((value) => {
      signal.removeEventListener("abort", abort);
      resolve({ value });
    }, (err) => {
      signal.removeEventListener("abort", abort);
      reject(err);
    });
  });
}

// C0 and C1 controls and DEL (a terminal acts on them), and the Unicode
// marks that reorder or break lines where they are shown.
const CONTROL =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Text a guest (or anyone but theater) wrote, made safe to show on a
 * terminal: every control character is written as its JSON escape
 * (`\u001b`, `\n`, ...), so it can neither move the cursor, set the
 * window title, clear the screen nor start a line of its own. Other text,
 * quotes and backslashes included, is left as it is.
 */
export function escapeControl(text: string): string {
  return text.replace(
    CONTROL,
    (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A JSON text with the controls JSON leaves as they are (DEL, C1, the
 * Unicode line and direction marks) escaped as well: the same value, safe
 * on a terminal.
 */
export function terminalJson(value: unknown): string {
  return escapeControl(JSON.stringify(value));
}

/** Waits `ms`, or until `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
