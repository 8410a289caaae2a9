// Copyright the Theater authors. MIT license.
/**
 * Helpers for end-to-end tests that drive the `theater` CLI as a user would.
 *
 * @module
 */
import { join } from "node:path";
import { hasNats, natsServer } from "../tools/nats_server.ts";
import { THEATER_FLAGS, theaterCommand } from "../tools/theater_command.ts";
import { type Lines, watchLines } from "../tools/wait.ts";
import {
  type ChainEvent,
  eventLine,
  readEvents,
  sealEvent,
  stateHash,
  type UnsealedEvent,
  verifyPath,
} from "../chain/mod.ts";

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the process, in bytes, as last sampled. */
  peakRss: number;
  /** Whether the run outlived `timeoutMs` and had to be killed. */
  killed: boolean;
  /** Whether `signal` was sent (its event came, or its time passed). */
  signalled: boolean;
  /**
   * Why `signalWhen` never came, when it failed; the run was then killed
   * (SIGKILL) unless it had ended by itself.
   */
  signalError?: string;
}

/** A run under way: what it has printed so far, line by line. */
export interface RunningCli {
  /** The process id. */
  pid: number;
  /** Its stdout, as it comes. */
  stdout: Lines;
  /** Its stderr, as it comes. */
  stderr: Lines;
  /** Resolves when it has exited: pass as `ended` to `waitFor`. */
  status: Promise<Deno.CommandStatus>;
}

/**
 * When {@linkcode runCli} sends its `signal`: once the run has printed
 * `count` (default 1) lines that `stdout` (or `stderr`) matches.
 */
export interface LineEvent {
  /** A stdout line to wait for. */
  stdout?: RegExp | ((line: string) => boolean);
  /** A stderr line to wait for. */
  stderr?: RegExp | ((line: string) => boolean);
  /**
   * How many matching lines to wait for.
   *
   * @default {1}
   */
  count?: number;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Permission flags (default: {@linkcode THEATER_FLAGS}). */
  flags?: string[];
  /**
   * Text for stdin, or a function that writes it bit by bit; the function
   * may wait for what the run printed (`run.stdout.until(...)`).
   */
  stdin?:
    | string
    | ((
      write: (text: string) => Promise<void>,
      run: RunningCli,
    ) => Promise<void>);
  cwd?: string;
  /** Leave stdin open after writing `stdin` (no end of input). */
  holdStdin?: boolean;
  /** Kill the run (SIGKILL) if it has not ended by then: a hang bound. */
  timeoutMs?: number;
  /** A signal to send once `signalWhen` has come. */
  signal?: Deno.Signal;
  /**
   * When to send `signal`: after a line (or the Nth matching line) the
   * run printed, or when the function resolves. Not sent when the run
   * ends first; when the function fails, the run is killed and the
   * result says why (`signalError`).
   */
  signalWhen?: LineEvent | ((run: RunningCli) => Promise<unknown>);
  /** More environment variables for the child. */
  env?: Record<string, string>;
}

/**
 * Samples a process's resident-memory high-water mark (VmHWM) until it
 * exits, from a shell: Deno does not let a process read /proc without
 * every permission. Resolves with the last sample, in bytes (0 when none
 * could be taken).
 */
async function sampleRss(pid: number): Promise<number> {
  const script = `while [ -e /proc/${pid}/status ]; do
    grep '^VmHWM:' /proc/${pid}/status 2>/dev/null; sleep 0.02; done`;
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "null",
  }).output();
  let peak = 0;
  for (const m of new TextDecoder().decode(stdout).matchAll(/(\d+) kB/g)) {
    peak = Math.max(peak, Number(m[1]) * 1024);
  }
  return peak;
}

/** The permissions `theater build` needs as well (deno check, the addon). */
export const BUILD_FLAGS = [...THEATER_FLAGS, "--allow-run", "--allow-ffi"];

function _lineMatch(
  match: RegExp | ((line: string) => boolean),
): (line: string) => boolean {
  return typeof match === "function" ? match : (line) => match.test(line);
}

/** Reads a stream to its end, as bytes. */
async function _readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Runs `theater <args>` in a fresh Deno process with the given permission
 * flags (default: {@linkcode THEATER_FLAGS}).
 */
export async function runCli(
  args: string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const command = theaterCommand(args, {
    flags: options.flags,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
  });
  const child = command.spawn();
  // VmHWM only grows: the last sample before exit is the peak, give or
  // take what grew in the final few milliseconds.
  const sampler = sampleRss(child.pid);
  // Lines are watched only when something waits for them; the bytes are
  // kept as they came either way.
  const watch = typeof options.stdin === "function" ||
    options.signalWhen !== undefined;
  let stdout: ReadableStream<Uint8Array> = child.stdout;
  let stderr: ReadableStream<Uint8Array> = child.stderr;
  let run: RunningCli | undefined;
  if (watch) {
    const [out, outLines] = child.stdout.tee();
    const [err, errLines] = child.stderr.tee();
    stdout = out;
    stderr = err;
    run = {
      pid: child.pid,
      stdout: watchLines(outLines),
      stderr: watchLines(errLines),
      status: child.status,
    };
  }
  const outBytes = _readAll(stdout);
  const errBytes = _readAll(stderr);
  let killed = false;
  let signalled = false;
  let signalError: string | undefined;
  let exited = false;
  const killer = options.timeoutMs === undefined ? undefined : setTimeout(
    () => {
      killed = true;
      child.kill("SIGKILL");
    },
    options.timeoutMs,
  );
  const send = () => {
    if (exited || signalled) return;
    try {
      child.kill(options.signal!);
      signalled = true;
    } catch {
      // It ended in the meantime.
    }
  };
  if (options.signal !== undefined && options.signalWhen === undefined) {
    // A signal after a fixed time would measure the machine.
    throw new Error(
      "runCli: a signal needs signalWhen, the event to send it on",
    );
  }
  if (options.signal !== undefined && options.signalWhen !== undefined) {
    const when = options.signalWhen;
    const event = typeof when === "function" ? when(run!) : (() => {
      const [stream, match] = when.stdout !== undefined
        ? [run!.stdout, when.stdout]
        : [run!.stderr, when.stderr!];
      const count = when.count ?? 1;
      return stream.count(
        _lineMatch(match),
        count,
        `line ${count} matching ${String(match)} on ${
          when.stdout !== undefined ? "stdout" : "stderr"
        }`,
      );
    })();
    // A run that ends first is not signalled; the test sees `signalled`.
    event.then(send, (err) => {
      signalError = err instanceof Error ? err.message : String(err);
      if (exited) return;
      try {
        child.kill("SIGKILL");
      } catch {
        // It ended in the meantime.
      }
    });
  }
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const write = (text: string) =>
        writer.write(new TextEncoder().encode(text)).catch(() => {});
      if (typeof options.stdin === "string") await write(options.stdin);
      else await options.stdin(write, run!);
      if (options.holdStdin) writer.releaseLock();
      else await writer.close().catch(() => {});
    }
    const { code } = await child.status;
    exited = true;
    const decoder = new TextDecoder();
    return {
      code,
      stdout: decoder.decode(await outBytes),
      stderr: decoder.decode(await errBytes),
      peakRss: await sampler,
      killed,
      signalled,
      ...(signalError === undefined ? {} : { signalError }),
    };
  } catch (err) {
    // A writer that failed must not leave the run behind.
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
      exited = true;
    }
    await Promise.allSettled([outBytes, errBytes, sampler]);
    throw err;
  } finally {
    clearTimeout(killer);
  }
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "theater_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes a valid chain of `n` events for `actor` (default `big`) straight
 * to `path`, in large writes: much faster than the writer, for tests of
 * big chains. Every event is a `handle.ok`; with `patches`, the chain is
 * shaped as the recorder writes one: an `actor.init`, then a `message.in`
 * and a `handle.patch` per step (a 64-item state, two items changed per
 * step), with a full `handle.ok` once the chain has grown by 8 times the
 * state since the last one.
 */
export async function writeBigChain(
  path: string,
  n: number,
  options: { actor?: string; patches?: boolean } = {},
): Promise<void> {
  const actor = options.actor ?? "big";
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  let parent: string | null = null;
  let lines: string[] = [];
  const flush = async () => {
    const bytes = encoder.encode(lines.map((l) => l + "\n").join(""));
    for (let at = 0; at < bytes.length;) {
      at += await file.write(bytes.subarray(at));
    }
    lines = [];
  };
  const state = {
    count: 0,
    items: Array.from({ length: 64 }, (_, i) => `item ${i}, first value`),
  };
  let sinceFull = 0;
  const next = (seq: number): Omit<UnsealedEvent, "seq" | "parent"> => {
    const at = { v: 1 as const, actor, ts: 1764028800000 + seq };
    if (!options.patches) {
      return {
        ...at,
        type: "handle.ok",
        data: { state: { count: seq, history: [seq, seq + 1] }, reply: seq },
      };
    }
    if (seq === 0) {
      return {
        ...at,
        type: "actor.init",
        data: { state: structuredClone(state) },
      };
    }
    const step = Math.ceil(seq / 2);
    if (seq % 2 === 1) {
      return {
        ...at,
        type: "message.in",
        data: { from: "external", msg: { op: "set", step }, link: null },
      };
    }
    state.count = step;
    const i = (step * 7) % 64;
    state.items[i] = `item ${i}, value ${step}`;
    const text = JSON.stringify(state);
    if (sinceFull >= 8 * text.length) {
      sinceFull = 0;
      return {
        ...at,
        type: "handle.ok",
        data: { state: JSON.parse(text), reply: step },
      };
    }
    return {
      ...at,
      v: 3,
      type: "handle.patch",
      data: {
        patch: [
          { op: "replace", path: "/count", value: step },
          { op: "replace", path: `/items/${i}`, value: state.items[i] },
        ],
        reply: step,
        state_hash: stateHash(state),
      },
    };
  };
  try {
    for (let seq = 0; seq < n; seq++) {
      const event: ChainEvent = sealEvent({ ...next(seq), seq, parent });
      parent = event.hash;
      const line = eventLine(event);
      sinceFull += line.length + 1;
      lines.push(line);
      if (lines.length === 10_000) await flush();
    }
    await flush();
  } finally {
    file.close();
  }
}

/** Every event of a chain file, in order. */
export async function chainEvents(path: string): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for await (const e of readEvents(path)) out.push(e);
  return out;
}

/** The JSON lines `theater run` printed. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** A stdin line for `theater run` addressed to `actor`. */
export function addressed(actor: string, msg: unknown): string {
  return JSON.stringify({ to: actor, msg }) + "\n";
}

/** Writes `body` as JSON to `<dir>/<name>` (a manifest, for one). */
export function writeJson(
  dir: string,
  name: string,
  body: unknown,
): Promise<void> {
  return Deno.writeTextFile(join(dir, name), JSON.stringify(body));
}

/**
 * Asserts that a run directory verifies and that `theater replay` reaches
 * the same head for every chain in it.
 */
export async function assertVerifiesAndReplays(dir: string): Promise<void> {
  const report = await verifyPath(dir);
  if (!report.ok) throw new Error(`verify: ${report.error?.message}`);
  const replay = await runCli(["replay", dir]);
  if (replay.code !== 0 || !/same head/.test(replay.stdout)) {
    throw new Error(
      `replay: exit ${replay.code}: ${replay.stderr}${replay.stdout}`,
    );
  }
}

export { serveProcess } from "../tools/serve_process.ts";
export { waitFor, watchLines } from "../tools/wait.ts";
export { THEATER_FLAGS, theaterCommand } from "../tools/theater_command.ts";
export { hasNats, NATS, natsServer } from "../tools/nats_server.ts";

/**
 * A test with a real nats-server (JetStream) in a temporary directory,
 * stopped after it; skipped where nats-server is missing, except in CI.
 */
export function natsTest(
  name: string,
  fn: (
    ctx: { dir: string; nats: Awaited<ReturnType<typeof natsServer>> },
  ) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !hasNats && Deno.env.get("CI") !== "true",
    async fn() {
      await withTempDir(async (dir) => {
        const nats = await natsServer(join(dir, "js"));
        try {
          await fn({ dir, nats });
        } finally {
          await nats.stop();
        }
      });
    },
  });
}
