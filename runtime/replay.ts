// Copyright the Theater authors. MIT license.
/**
 * Deterministic replay: re-run a recorded chain against a component, feed
 * it the recorded inputs and host call results, and check that it computes
 * the same events, byte for byte (docs/replay.md).
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import {
  type ChainEvent,
  ChainWriter,
  changes,
  type Json,
  readEvents,
  sha256Hex,
  StateTracker,
  verifyChain,
} from "../chain/mod.ts";
import { executorComponent, loadComponent } from "./component.ts";
import {
  type ActorExecutor,
  type CallContext,
  type CallQuota,
  quotaOf,
  WorkerPool,
} from "./executor.ts";
import { limitsOf } from "./limits.ts";
import {
  ActorRecorder,
  type HostCallRecord,
  type ResumeData,
  type StartData,
} from "./recorder.ts";

/** A chain that cannot be replayed at all (not intact, no component). */
export class ReplayError extends Error {
  override name = "ReplayError";
  /** Why: the chain does not verify, or its component cannot be used. */
  readonly reason: "not-intact" | "component";
  constructor(message: string, reason: "not-intact" | "component") {
    super(message);
    this.reason = reason;
  }
}

/** The first event where the replay computed something else. */
export interface ReplayDivergence {
  seq: number;
  /** The recorded event, or null when the replay wrote more events. */
  expected: ChainEvent | null;
  /** The replayed event, or null when the replay wrote fewer events. */
  actual: ChainEvent | null;
  /** A readable account of what differs. */
  detail: string;
  /** The recorded input of the step that diverged (its message, ...). */
  input: ChainEvent | null;
  /**
   * Where the state after the divergent event differs, path by path
   * (`~ $.balance: 700 -> 675`), recorded first; empty when it does not.
   */
  state: string[];
  /** The same for the reply, when both sides have one. */
  reply: string[];
}

/** What replaying one chain found. */
export interface ReplayReport {
  file: string;
  actor: string;
  /** Events replayed and matched. */
  events: number;
  /** The head hash of the recorded chain. */
  head: string | null;
  ok: boolean;
  divergence: ReplayDivergence | null;
}

/** Options for {@linkcode replayChain}. */
export interface ReplayOptions {
  /**
   * The component to run instead of the recorded one (its SHA-256 need not
   * match): how a new build is tested against an old record.
   */
  component?: string;
  /**
   * More places to look for the recorded components by SHA-256, three
   * levels deep, before the chain's directory (first its `components/`
   * copies), its parent, and the working directory.
   */
  search?: string[];
  /** Called after each step with events done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Where guests run; default: one no-permission worker. */
  executor?: ActorExecutor;
  /**
   * Directory for transpiled components; `false` for no disk cache;
   * default: `defaultCacheDir()`.
   */
  cacheDir?: string | false;
}

const INPUTS = new Set([
  "actor.start",
  "actor.resume",
  "message.in",
  "child.event",
  "actor.stop",
]);
/** Events of a chain replay keeps from verifying rather than read again. */
const KEEP_EVENTS = 200_000;
const SKIP_DIRS = new Set(["node_modules", ".git", "chains"]);

/**
 * The folder of a run directory that keeps a copy of every component the
 * run used, as `<sha256>.wasm`.
 */
export const COMPONENTS_DIR = "components";

/** Finds a `.wasm` file with the given SHA-256 below the search roots. */
async function findComponent(
  sha256: string,
  roots: string[],
  seen: Map<string, string>,
): Promise<string | null> {
  for (const [path, hash] of seen) if (hash === sha256) return path;
  // A run directory keeps every component it ran by hash (see
  // ActorSystem): look there first, by name.
  for (const root of roots) {
    const kept = join(root, COMPONENTS_DIR, `${sha256}.wasm`);
    try {
      const hash = sha256Hex(await Deno.readFile(kept));
      seen.set(kept, hash);
      if (hash === sha256) return kept;
    } catch {
      // Not kept there.
    }
  }
  const walk = async (dir: string, depth: number): Promise<string | null> => {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return null;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isFile && e.name.endsWith(".wasm") && !seen.has(path)) {
        const hash = sha256Hex(await Deno.readFile(path));
        seen.set(path, hash);
        if (hash === sha256) return path;
      }
    }
    if (depth === 0) return null;
    for (const e of entries) {
      if (e.isDirectory && !SKIP_DIRS.has(e.name) && !e.name.startsWith(".")) {
        const found = await walk(join(dir, e.name), depth - 1);
        if (found) return found;
      }
    }
    return null;
  };
  for (const root of roots) {
    const found = await walk(root, 3);
    if (found) return found;
  }
  return null;
}

/** Groups a chain into steps: an input event and the events it caused. */
async function* steps(
  events: Iterable<ChainEvent> | AsyncIterable<ChainEvent>,
): AsyncGenerator<ChainEvent[]> {
  let step: ChainEvent[] = [];
  for await (const event of events) {
    if (INPUTS.has(event.type) && step.length > 0) {
      yield step;
      step = [];
    }
    step.push(event);
  }
  if (step.length > 0) yield step;
}

function brief(value: Json, max = 200): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Says readably how two events differ. */
export function describeDivergence(
  expected: ChainEvent | null,
  actual: ChainEvent | null,
): string {
  if (!actual) {
    return `the replay wrote nothing where the record has ${expected?.type} ${
      brief(expected?.data ?? null)
    }`;
  }
  if (!expected) {
    return `the replay wrote ${actual.type} ${
      brief(actual.data)
    } where the record ends`;
  }
  const error = actual.type === "handle.error" ? String(actual.data.error) : "";
  if (error.startsWith("diverged: ")) {
    return `the guest ${error} (the record has ${expected.type} ${
      brief(expected.data)
    })`;
  }
  if (expected.type !== actual.type) {
    return `expected ${expected.type} ${
      brief(expected.data)
    }, got ${actual.type} ${brief(actual.data)}`;
  }
  const lines = [];
  const names = new Set([
    ...Object.keys(expected.data),
    ...Object.keys(actual.data),
  ]);
  for (const name of names) {
    const e = expected.data[name] ?? null;
    const a = actual.data[name] ?? null;
    if (JSON.stringify(e) !== JSON.stringify(a)) {
      lines.push(`data.${name}: expected ${brief(e)}, got ${brief(a)}`);
    }
  }
  for (const name of ["ts", "parent"] as const) {
    if (expected[name] !== actual[name]) {
      lines.push(`${name}: expected ${expected[name]}, got ${actual[name]}`);
    }
  }
  return `${expected.type}: ${lines.join("; ") || "same data, other hash"}`;
}

/**
 * Replays one chain. The chain must verify first. Every guest call gets the
 * recorded host call results and every event the recorded `ts`; the replay
 * is written to a scratch chain and compared event by event.
 *
 * @throws {ReplayError} when the chain is not intact or a component cannot
 * be found or loaded.
 */
export async function replayChain(
  path: string,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  // The verifying pass keeps the events of a chain of ordinary size, so
  // the replay does not read and check every line a second time.
  let kept: ChainEvent[] | null = [];
  const verified = await verifyChain(path, {
    onEvent: (e) => {
      if (kept && kept.push(e) > KEEP_EVENTS) kept = null;
    },
  });
  if (!verified.ok) {
    const e = verified.error!;
    throw new ReplayError(
      `${e.file}:${e.line}: refusing to replay a chain that does not verify: ${e.message}`,
      "not-intact",
    );
  }
  const actor = verified.actor!;
  const total = verified.events;
  // --search adds places; the run directory's own copies come first.
  const roots = [
    ...new Set([
      ...(options.search ?? []),
      dirname(path),
      dirname(dirname(path)),
      Deno.cwd(),
    ]),
  ].filter((dir) => dir !== "/");
  const seen = new Map<string, string>();
  const executor = options.executor ?? new WorkerPool({ size: 1 });
  const scratch = await Deno.makeTempDir({ prefix: "theater_replay_" });
  const out = join(scratch, basename(path));
  const tsQueue: number[] = [];
  let lastTs = 0;
  // What the replay appends is compared in memory, as it is appended,
  // never read back from the scratch chain.
  const appended: ChainEvent[] = [];
  const writer = await ChainWriter.open(out, {
    actor,
    fsync: "none",
    clock: () => tsQueue.shift() ?? lastTs,
    onAppend: (e) => appended.push(e),
  });
  let replay: HostCallRecord[] = [];
  let quota: CallQuota | undefined;
  const context = (): CallContext => ({ children: [], replay, quota });
  const recorder = new ActorRecorder(actor, { writer, executor });
  let supervised = false;
  let done = 0;
  // The recorded state, step by step, to show what a divergence changed.
  const recorded = new StateTracker();
  const report: ReplayReport = {
    file: path,
    actor,
    events: 0,
    head: verified.head,
    ok: false,
    divergence: null,
  };
  try {
    for await (const step of steps(kept ?? readEvents(path))) {
      const [input, ...outputs] = step;
      tsQueue.push(...step.map((e) => e.ts));
      lastTs = step.at(-1)!.ts;
      replay = outputs.filter((e) => e.type === "host.call").map((e) =>
        e.data as unknown as HostCallRecord
      );
      // The form the record gives this step's new state.
      const form = outputs.some((e) => e.type === "handle.patch")
        ? "patch"
        : outputs.some((e) => e.type === "handle.ok")
        ? "full"
        : undefined;
      recorder.stateForm = () => form;
      const d = input.data;
      switch (input.type) {
        case "actor.start":
        case "actor.resume": {
          const file = options.component ??
            await findComponent(String(d.component), roots, seen);
          if (!file) {
            throw new ReplayError(
              `${path}:${
                input.seq + 1
              }: component ${d.component} not found under ${
                roots.join(", ")
              } (pass --component or --search)`,
              "component",
            );
          }
          const loaded = await loadComponent(file, {
            cacheDir: options.cacheDir,
          });
          if (!options.component && loaded.sha256 !== d.component) {
            throw new ReplayError(
              `${file}: SHA-256 does not match the record`,
              "component",
            );
          }
          supervised = loaded.supervised;
          const limits = limitsOf(
            (d.manifest as { limits?: Json } | null)?.limits,
          );
          quota = quotaOf(limits);
          executor.unregister(actor);
          executor.register(actor, {
            component: executorComponent(loaded, limits),
            timeoutMs: limits.handleTimeoutMs,
            context,
          });
          if (input.type === "actor.resume") {
            await recorder.continueChain(d as unknown as ResumeData, {
              init: outputs.length > 0,
              state: recorder.state,
            });
            break;
          }
          const start = d as unknown as StartData;
          if (outputs.length > 0) await recorder.start(start);
          else await recorder.resume(start);
          break;
        }
        case "message.in":
          await recorder.deliver(d.msg, {
            from: String(d.from),
            link: d.link as StartData["link"],
          });
          break;
        case "child.event":
          await recorder.childEvent(
            d as { child: string; event: string; reason: string | null },
            { notify: supervised && outputs.length > 0 },
          );
          break;
        case "actor.stop":
          await recorder.stop(String(d.reason));
          break;
        default:
          throw new ReplayError(
            `${path}:${
              input.seq + 1
            }: ${input.type} without the input before it`,
            "not-intact",
          );
      }
      const produced = appended.splice(0);
      for (let i = 0; i < Math.max(step.length, produced.length); i++) {
        const expected = step[i] ?? null;
        const actual = produced[i] ?? null;
        if (expected?.hash !== actual?.hash) {
          // The recorded state after the divergent event, against the
          // state the replay computed.
          let recordedState: Json = null;
          try {
            for (const e of step.slice(0, i + 1)) recorded.add(e);
            recordedState = recorded.state;
          } catch {
            recordedState = null;
          }
          const hasReply = (e: ChainEvent | null) =>
            e?.type === "handle.ok" || e?.type === "handle.patch";
          report.divergence = {
            seq: (expected ?? actual)!.seq,
            expected,
            actual,
            detail: describeDivergence(expected, actual),
            input: input ?? null,
            state: changes(recordedState, recorder.state),
            reply: hasReply(expected) && hasReply(actual)
              ? changes(
                expected!.data.reply ?? null,
                actual!.data.reply ?? null,
              )
              : [],
          };
          return report;
        }
        report.events++;
      }
      for (const e of step) recorded.add(e);
      done += step.length;
      options.onProgress?.(done, total);
    }
    report.ok = true;
    return report;
  } finally {
    await writer.close().catch(() => {});
    if (!options.executor) executor.close();
    await Deno.remove(scratch, { recursive: true });
  }
}

/**
 * Replays a chain and throws if the component no longer reproduces it:
 * for a user's own `deno test`, to turn a recorded run into a regression
 * test (docs/replay.md).
 *
 * @throws {Error} naming the first divergent event.
 */
export async function assertReplays(
  path: string,
  options: ReplayOptions = {},
): Promise<void> {
  const report = await replayChain(path, options);
  if (!report.ok) {
    const d = report.divergence!;
    throw new Error(
      `${path}: replay diverges at seq ${d.seq}: ${d.detail}`,
    );
  }
}
