// Copyright the Theater authors. MIT license.
/**
 * Deterministic replay: re-run a recorded chain against a component, feed
 * it the recorded inputs and host call results, and check that it computes
 * the same events, byte for byte (docs/replay.md).
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  type ChainEvent,
  type ChainReport,
  ChainWriter,
  changes,
  hostCallsOf,
  type Json,
  readEvents,
  readUnproven,
  sha256Hex,
  stateAt,
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
import { nextState } from "./_guest.ts";
import { limitsOf, replayTimeoutMs } from "./limits.ts";
import { BlobStore } from "./store.ts";
import { COMPONENTS_DIR, STORE_DIR } from "../chain/mod.ts";
import { STORE } from "./wit.ts";
import {
  ActorRecorder,
  type Executor,
  type GuestFunction,
  type GuestOutcome,
  type HostCallRecord,
  type ResumeData,
  type StartData,
} from "./recorder.ts";

/** A chain that cannot be replayed at all (not intact, no component). */
export class ReplayError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ReplayError";
  /** Why: the chain does not verify, or its component cannot be used. */
  readonly reason: "not-intact" | "component";
  /** Makes the error with its message and reason. */
  constructor(message: string, reason: "not-intact" | "component") {
    super(message);
    this.reason = reason;
  }
}

/** The first event where the replay computed something else. */
export interface ReplayDivergence {
  /** The `seq` of the first event that differs. */
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
  /** The chain file replayed. */
  file: string;
  /** The actor whose chain it is. */
  actor: string;
  /** Events replayed and matched. */
  events: number;
  /** The head hash of the recorded chain. */
  head: string | null;
  /** Whether the replay matched the whole chain. */
  ok: boolean;
  /** The first event that differs, or null when none does. */
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
  /**
   * The blob store `store.get` calls read from; default: `store/` beside
   * the chain.
   */
  store?: string;
}

const INPUTS = new Set([
  "actor.start",
  "actor.resume",
  "message.in",
  "child.event",
  "actor.stop",
]);
/** Events of a chain replay holds in memory; longer ones stream. */
const KEEP_EVENTS = 200_000;
const SKIP_DIRS = new Set(["node_modules", ".git", "chains"]);

export { COMPONENTS_DIR };

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

/** The `{"response": {id, from}}` of a request's response message, if any. */
function responseOf(msg: Json): { id: string; from: string } | null {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    return null;
  }
  const r = msg.response;
  if (r === null || typeof r !== "object" || Array.isArray(r)) return null;
  return typeof r.id === "string" && typeof r.from === "string"
    ? { id: r.id, from: r.from }
    : null;
}

/** A guest call replay will make: its export, arguments and context. */
interface Planned {
  fn: GuestFunction;
  /** Arguments; null first: the state, as the call before leaves it. */
  args: (string | null)[];
  context: CallContext;
}

/** Steps of a batch sent to the worker at once. */
const BATCH = 64;

/**
 * The guest calls a chain's replay makes, in order, read from the record:
 * `init` where a start or resume has outputs, `handle` per message,
 * `on-child-event` where a child event has outputs.
 */
async function plan(
  events: ChainEvent[],
  store: BlobStore,
): Promise<Planned[]> {
  const calls: Planned[] = [];
  let quota: CallQuota | undefined;
  for await (const [input, ...outputs] of steps(events)) {
    const replay = hostCalls(outputs);
    const context = {
      children: [],
      replay,
      quota,
      ...blobsRead(replay, store),
      ...timeOutOf(input, outputs),
    };
    const d = input.data;
    if (input.type === "actor.start" || input.type === "actor.resume") {
      quota = quotaOf(
        limitsOf((d.manifest as { limits?: Json } | null)?.limits),
      );
      if (outputs.length > 0) {
        calls.push({
          fn: "init",
          args: [JSON.stringify(d.params)],
          context: { ...context, quota },
        });
      }
    } else if (input.type === "message.in") {
      calls.push({
        fn: "handle",
        args: [null, JSON.stringify(d.msg)],
        context,
      });
    } else if (input.type === "child.event" && outputs.length > 0) {
      calls.push({
        fn: "on-child-event",
        args: [
          null,
          JSON.stringify({ child: d.child, event: d.event, reason: d.reason }),
        ],
        context,
      });
    }
  }
  return calls;
}

/**
 * The blobs a step's recorded `store.get` calls read, from the run's
 * store; one that is missing or altered is left out, and the guest's
 * replay reports it.
 */
function blobsRead(
  calls: HostCallRecord[],
  store: BlobStore,
): { blobs?: Record<string, Uint8Array> } {
  let blobs: Record<string, Uint8Array> | undefined;
  for (const call of calls) {
    if (
      call.interface !== STORE || call.function !== "get" ||
      call.result === null
    ) continue;
    const hash = String(call.args[0]);
    const bytes = store.readSync(hash);
    if (bytes) (blobs ??= {})[hash] = bytes;
  }
  return blobs ? { blobs } : {};
}

/** The host calls a recorded step holds, in order: what replay feeds back. */
function hostCalls(outputs: ChainEvent[]): HostCallRecord[] {
  return outputs.flatMap((e) => hostCallsOf(e) as HostCallRecord[]);
}

/**
 * The errors the host writes when it, not the guest, ended a call for its
 * time: the call's deadline (the guest stopped by its instrumentation, or
 * its worker killed by the watchdog, `runtime/executor.ts`), or a worker
 * that never started the call. A guest's own `err` is never written with
 * `trap: ` in front (recorder.ts), so a guest cannot write one of these.
 */
const TIME_OUT =
  /^trap: (timed out after \d+ ms|worker did not start the call in \d+ ms)$/;

/** The guest export a step's input calls. */
const PHASES: Record<string, GuestFunction> = {
  "actor.start": "init",
  "actor.resume": "init",
  "message.in": "handle",
  "child.event": "on-child-event",
};

/**
 * When a recorded step's call timed out: its error, as the call's context
 * takes it (without `trap: `). The step then ends in a `handle.error` of
 * the step's own phase whose error is a time-out the host writes.
 */
function timeOutOf(
  input: ChainEvent,
  outputs: ChainEvent[],
): { timedOut?: string } {
  const last = outputs.at(-1);
  if (
    last?.type !== "handle.error" || last.data.phase !== PHASES[input.type] ||
    typeof last.data.error !== "string"
  ) return {};
  const match = TIME_OUT.exec(last.data.error);
  return match ? { timedOut: match[1] } : {};
}

/**
 * Where the record says a call timed out, the replayed call ends the same
 * way once the guest has made the recorded host calls, however it would
 * have ended: stopped where the record stops (runtime/_guest.ts), or, when
 * its worker ended it, by the worker's time limit or a trap of a fresh
 * instance. A call that ends with fewer host calls, or other ones, than
 * the record is left as it is: a divergence.
 */
class RecordedTimeOuts implements Executor {
  #inner: Executor;
  #step: () => { timedOut?: string; replay: HostCallRecord[] };

  constructor(
    inner: Executor,
    step: () => { timedOut?: string; replay: HostCallRecord[] },
  ) {
    this.#inner = inner;
    this.#step = step;
  }

  async call(
    actor: string,
    call: { fn: GuestFunction; args: string[] },
  ): Promise<GuestOutcome> {
    const outcome = await this.#inner.call(actor, call);
    const { timedOut, replay } = this.#step();
    if (
      timedOut === undefined || outcome.status !== "trap" ||
      outcome.calls.length !== replay.length
    ) return outcome;
    return { calls: outcome.calls, status: "trap", error: timedOut };
  }
}

/**
 * Runs replay's guest calls ahead, a batch per worker round trip, from the
 * plan, keeping up to two batches ahead of the recorder so the worker
 * computes while the host records. Each call the recorder then makes is
 * checked against what the batch gave that call (the same export and the
 * same arguments, the state included); on any difference everything run
 * ahead is dropped and a new batch starts from the recorder's call. So
 * batches change no outcome, only how many round trips there are.
 */
class Prefetch implements Executor {
  #pool: WorkerPool;
  #plan: Planned[];
  #actor = "";
  /** The index in the plan of the recorder's next call. */
  #next = 0;
  #ready = new Map<
    number,
    { fn: GuestFunction; args: string[]; outcome: GuestOutcome }
  >();
  /** Where the next batch starts, and the state it starts from. */
  #ahead: { from: number; state: string } | null = null;
  #inflight: Promise<void> | null = null;
  /** Bumped when what ran ahead is dropped: late batches are ignored. */
  #epoch = 0;

  constructor(pool: WorkerPool, planned: Planned[]) {
    this.#pool = pool;
    this.#plan = planned;
  }

  async call(
    actor: string,
    call: { fn: GuestFunction; args: string[] },
  ): Promise<GuestOutcome> {
    this.#actor = actor;
    const at = this.#next++;
    while (!this.#ready.has(at) && this.#inflight) await this.#inflight;
    const ready = this.#ready.get(at);
    this.#ready.delete(at);
    if (
      ready && ready.fn === call.fn &&
      ready.args.length === call.args.length &&
      ready.args.every((a, k) => a === call.args[k])
    ) {
      this.#fill();
      return ready.outcome;
    }
    // Not what ran ahead: start again from this call.
    this.#epoch++;
    this.#ready.clear();
    this.#ahead = null;
    if (this.#plan[at]?.fn !== call.fn) {
      // Not the call the plan has here: no more running ahead.
      this.#plan = [];
      return await this.#pool.call(actor, call);
    }
    this.#ahead = { from: at, state: call.args[0] };
    await this.#batch(call.args);
    const own = this.#ready.get(at)!;
    this.#ready.delete(at);
    this.#fill();
    return own.outcome;
  }

  /** Keeps a batch in flight while fewer than two are ready. */
  #fill(): void {
    if (this.#inflight || !this.#ahead) return;
    if (this.#ready.size >= 2 * BATCH) return;
    if (this.#ahead.from >= this.#plan.length) return;
    void this.#batch(null);
  }

  /**
   * Runs the next batch; `first` are the recorder's own arguments for its
   * first call (else the plan's, the state as the call before left it).
   */
  #batch(first: string[] | null): Promise<void> {
    const { from } = this.#ahead!;
    let state = this.#ahead!.state;
    const epoch = this.#epoch;
    const planned = this.#plan.slice(from, from + BATCH);
    const argsOf = (p: Planned, k: number): string[] =>
      k === 0 && first
        ? first
        : p.args.map((a, n) => n === 0 && a === null ? state : a) as string[];
    const done = this.#pool.callMany(
      this.#actor,
      planned.map((p, k) => ({
        fn: p.fn,
        args: k === 0 && first
          ? first
          : p.args.map((a, n) => n === 0 && a === null && k === 0 ? state : a),
        context: p.context,
      })),
    ).then((outcomes) => {
      if (epoch !== this.#epoch) return;
      // What each call was given, as the worker threads the state.
      for (let k = 0; k < outcomes.length; k++) {
        const p = planned[k];
        const args = argsOf(p, k);
        this.#ready.set(from + k, { fn: p.fn, args, outcome: outcomes[k] });
        state = nextState(p.fn, args[0] ?? state, outcomes[k]);
      }
      this.#ahead = { from: from + outcomes.length, state };
    }).finally(() => {
      if (this.#inflight === done) this.#inflight = null;
      if (epoch === this.#epoch) this.#fill();
    });
    this.#inflight = done;
    return done;
  }
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
  // The worker starts while the chain is verified (it takes 10-20 ms).
  const executor = options.executor ?? new WorkerPool({ size: 1 });
  if (!options.executor) (executor as WorkerPool).warm();
  try {
    return await replayWith(path, executor, options);
  } finally {
    if (!options.executor) executor.close();
  }
}

async function replayWith(
  path: string,
  executor: ActorExecutor,
  options: ReplayOptions,
): Promise<ReplayReport> {
  // A chain of ordinary size is read once, each line parsed but not
  // hashed: the replay proves a line by sealing the same event again (same
  // parent, same seq) and getting the line's very bytes, so a chain that
  // replays is a chain that verifies. The chain is verified only when a
  // line is not proven that way, to tell an altered record from a
  // divergence, and before anything else for a chain too long to hold.
  const lines = await readUnproven(path, { maxEvents: KEEP_EVENTS });
  const kept = lines?.length ? lines.map((l) => l.event) : null;
  let verified: ChainReport | null = null;
  const verify = async (): Promise<void> => {
    verified ??= await verifyChain(path);
    if (!verified.ok) {
      const e = verified.error!;
      throw new ReplayError(
        `${e.file}:${e.line}: refusing to replay a chain that does not verify: ${e.message}`,
        "not-intact",
      );
    }
  };
  if (!kept) await verify();
  /**
   * Whether a recorded event is the line the replay just sealed; a proven
   * line's bytes are let go.
   */
  const proven = (expected: ChainEvent, line: Uint8Array): boolean => {
    if (verified?.ok) return true;
    const read = lines![expected.seq];
    if (read?.event !== expected || !sameLine(read.bytes, line)) return false;
    read.bytes = PROVEN;
    return true;
  };
  const actor = kept ? kept[0].actor : verified!.actor!;
  const total = kept ? kept.length : verified!.events;
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
  const tsQueue: number[] = [];
  let lastTs = 0;
  // What the replay appends is compared in memory, as it is appended.
  const appended: { event: ChainEvent; line: Uint8Array }[] = [];
  const writer = ChainWriter.inMemory({
    actor,
    clock: () => tsQueue.shift() ?? lastTs,
    onAppend: (event, line) => appended.push({ event, line }),
  });
  let replay: HostCallRecord[] = [];
  let blobs: { blobs?: Record<string, Uint8Array> } = {};
  let timedOut: { timedOut?: string } = {};
  let quota: CallQuota | undefined;
  const context = (): CallContext => ({
    children: [],
    replay,
    quota,
    ...blobs,
    ...timedOut,
  });
  const store = new BlobStore(options.store ?? join(dirname(path), STORE_DIR));
  // With the whole chain in memory, guest calls run ahead in batches.
  const recorder = new ActorRecorder(actor, {
    writer,
    executor: new RecordedTimeOuts(
      kept && executor instanceof WorkerPool
        ? new Prefetch(executor, await plan(kept, store))
        : executor,
      () => ({ ...timedOut, replay }),
    ),
  });
  let supervised = false;
  let done = 0;
  const report: ReplayReport = {
    file: path,
    actor,
    events: 0,
    head: kept ? kept.at(-1)!.hash : verified!.head,
    ok: false,
    divergence: null,
  };
  try {
    for await (const step of steps(kept ?? readEvents(path))) {
      const [input, ...outputs] = step;
      tsQueue.push(...step.map((e) => e.ts));
      lastTs = step.at(-1)!.ts;
      replay = hostCalls(outputs);
      blobs = blobsRead(replay, store);
      timedOut = timeOutOf(input, outputs);
      // The form the record gives this step's new state.
      const form = outputs.some((e) => e.type === "handle.patch")
        ? "patch"
        : outputs.some((e) => e.type === "handle.ok")
        ? "full"
        : undefined;
      recorder.stateForm = () => form;
      const calls = outputs.some((e) => e.type === "host.calls")
        ? "grouped"
        : "single";
      recorder.callForm = () => calls;
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
            // A slower machine than the live one must not turn a call
            // that finished into a time-out.
            timeoutMs: replayTimeoutMs(limits.handleTimeoutMs),
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
        case "message.in": {
          // A request's handling ends with the response the host recorded
          // for it: the record says which deliveries were requests.
          const response = outputs.find((e) =>
            e.type === "message.out" && e.data.to === d.from &&
            responseOf(e.data.msg)?.from === actor
          );
          const id = response ? responseOf(response.data.msg)!.id : null;
          await recorder.deliver(d.msg, {
            from: String(d.from),
            link: d.link as StartData["link"],
            ...(id === null ? {} : {
              respondTo: { actor: String(d.from), id },
            }),
          });
          break;
        }
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
        const actual = produced[i]?.event ?? null;
        if (
          expected && actual && expected.hash === actual.hash &&
          proven(expected, produced[i].line)
        ) {
          report.events++;
          continue;
        }
        // Not proven: an altered record is refused as such.
        await verify();
        if (expected?.hash !== actual?.hash) {
          // The recorded state after the divergent event, against the
          // state the replay computed.
          const at = (expected ?? actual)!.seq;
          const recordedState = expected
            ? await stateAt(path, at).catch(() => null)
            : null;
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
      done += step.length;
      options.onProgress?.(done, total);
    }
    report.ok = true;
    return report;
  } catch (err) {
    // Whatever stopped the replay, a record that does not verify is
    // reported as such first.
    await verify();
    throw err;
  } finally {
    await writer.close().catch(() => {});
    // A pool shared by several replays keeps no instance of this one.
    executor.unregister(actor);
  }
}

/** What a proven line's bytes are replaced with: no line matches it. */
const PROVEN = new Uint8Array(0);

/** Whether a line read (without `\n`) is the line written (with it). */
function sameLine(read: Uint8Array, written: Uint8Array): boolean {
  if (read.length !== written.length - 1) return false;
  for (let i = 0; i < read.length; i++) {
    if (read[i] !== written[i]) return false;
  }
  return true;
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
