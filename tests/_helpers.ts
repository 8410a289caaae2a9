// Copyright the Theater authors. MIT license.
/**
 * Helpers for end-to-end tests that drive the `theater` CLI as a user would.
 *
 * @module
 */
import { join } from "node:path";
import { hasNats, natsServer } from "../tools/nats_server.ts";
import { THEATER_FLAGS, theaterCommand } from "../tools/theater_command.ts";
import {
  type ChainEvent,
  eventLine,
  readEvents,
  sealEvent,
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

/**
 * Runs `theater <args>` in a fresh Deno process with the given permission
 * flags (default: {@linkcode THEATER_FLAGS}).
 */
export async function runCli(
  args: string[],
  options: {
    flags?: string[];
    /** Text for stdin, or a function that writes it bit by bit. */
    stdin?:
      | string
      | ((write: (text: string) => Promise<void>) => Promise<void>);
    cwd?: string;
    /** Leave stdin open after writing `stdin` (no end of input). */
    holdStdin?: boolean;
    /** Kill the run (SIGKILL) if it has not ended by then. */
    timeoutMs?: number;
    /** Send this signal after `signalAfterMs` (default 1000). */
    signal?: Deno.Signal;
    signalAfterMs?: number;
    /** More environment variables for the child. */
    env?: Record<string, string>;
  } = {},
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
  let killed = false;
  const killer = options.timeoutMs === undefined ? undefined : setTimeout(
    () => {
      killed = true;
      child.kill("SIGKILL");
    },
    options.timeoutMs,
  );
  const signaller = options.signal === undefined ? undefined : setTimeout(
    () => child.kill(options.signal!),
    options.signalAfterMs ?? 1000,
  );
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const write = (text: string) =>
        writer.write(new TextEncoder().encode(text)).catch(() => {});
      if (typeof options.stdin === "string") await write(options.stdin);
      else await options.stdin(write);
      if (options.holdStdin) writer.releaseLock();
      else await writer.close().catch(() => {});
    }
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return {
      code,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
      peakRss: await sampler,
      killed,
    };
  } finally {
    clearTimeout(killer);
    clearTimeout(signaller);
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
 * Writes a valid chain of `n` events for `actor` straight to `path`, in
 * large writes: much faster than the writer, for tests of big chains.
 */
export async function writeBigChain(
  path: string,
  n: number,
  actor = "big",
): Promise<void> {
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
  try {
    for (let seq = 0; seq < n; seq++) {
      const event: ChainEvent = sealEvent({
        v: 1,
        seq,
        actor,
        parent,
        ts: 1764028800000 + seq,
        type: "handle.ok",
        data: { state: { count: seq, history: [seq, seq + 1] }, reply: seq },
      });
      parent = event.hash;
      lines.push(eventLine(event));
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
