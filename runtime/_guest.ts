// Copyright the Theater authors. MIT license.
// Runs guest calls against jco bindings and records every host call. Used
// inside the no-permission workers and in process; it touches no Deno API.
import type { Json } from "../chain/event.ts";
import {
  type ActorInstance,
  type BindingsInstantiate,
  type CompiledComponent,
  createInstance,
  GuestTrap,
  type HostImports,
  type Result,
} from "./instance.ts";
import { documentProblem, MAX_DOCUMENT_BYTES } from "./json_limits.ts";
import { type ActorLimits, DEFAULT_LIMITS, QuotaExceeded } from "./limits.ts";
import { MESSAGE, RUNTIME, SUPERVISOR, TIMERS } from "./wit.ts";
import type {
  GuestFunction,
  GuestOutcome,
  HostCallRecord,
} from "./recorder.ts";

export { loadBindings } from "./instance.ts";

/** What a worker or the in-process executor needs to run one component. */
export type GuestComponent = CompiledComponent;

/** The quotas that bound one call into the guest. */
export type CallQuota = Pick<
  ActorLimits,
  "hostCalls" | "recordedBytes" | "sends" | "children" | "timers" | "requests"
>;

/** The quotas of an actor whose manifest sets none. */
export const DEFAULT_QUOTA: CallQuota = quotaOf(DEFAULT_LIMITS);

/** The per-call quotas among an actor's limits. */
export function quotaOf(limits: ActorLimits): CallQuota {
  return {
    hostCalls: limits.hostCalls,
    recordedBytes: limits.recordedBytes,
    sends: limits.sends,
    children: limits.children,
    timers: limits.timers,
    requests: limits.requests,
  };
}

/**
 * How an actor stands, as a sender sees it: gone, running, or running
 * with a full mailbox (a send to it is refused).
 */
export const Standing = { Gone: 0, Running: 1, Full: 2 } as const;
/** One of the {@linkcode Standing} values. */
export type Standing = typeof Standing[keyof typeof Standing];

/**
 * The actors a message may be sent to. The host keeps each worker's copy
 * up to date by changes, so no call carries a list of all actors.
 */
export type Directory = Map<string, Standing>;

/** Per-call context from the host: quotas, children, what replay expects. */
export interface CallContext {
  /** Quotas of this call (default: {@linkcode DEFAULT_QUOTA}). */
  quota?: CallQuota;
  /** Children of this actor. */
  children: string[];
  /** How many children this actor has spawned before (names the next). */
  spawned?: number;
  /** Who sent the message being handled (`message.sender`). */
  sender?: string;
  /** The ids of this actor's pending timers (`timers.cancel`, quota). */
  timers?: string[];
  /** How many of this actor's requests wait for a response (quota). */
  requests?: number;
  /**
   * In replay, the host calls the record says the guest made, in order:
   * their results are returned instead of live ones, and each call's
   * interface, function and arguments must match.
   */
  replay?: HostCallRecord[];
}

/** A guest call that did something other than what the record says. */
export class Divergence extends Error {
  override name = "Divergence";
}

const RANDOM_MAX = 65536;
/** Longest a timer may be set for: what setTimeout takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function sameJson(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One actor's instance of a component, and the host it sees. */
export class GuestActor {
  readonly id: string;
  #instance: ActorInstance;
  #calls: HostCallRecord[] = [];
  #context: CallContext = { children: [] };
  #directory: Directory;
  #replayAt = 0;
  #spawned = 0;
  #spawnedNow = 0;
  /** Timers set in this call (and not cancelled in it). */
  #timersSet: string[] = [];
  /** Requests made in this call. */
  #requestsNow = 0;
  #sends = 0;
  #bytes = 0;

  constructor(
    id: string,
    instantiate: BindingsInstantiate,
    component: GuestComponent,
    directory: Directory,
  ) {
    this.id = id;
    this.#directory = directory;
    this.#instance = createInstance(
      instantiate,
      component.modules,
      this.#imports(),
    );
  }

  /** The host functions, each recorded (and, in replay, fed the record). */
  #imports(): HostImports {
    const host = this.#host.bind(this);
    return {
      runtime: {
        log: (msg) => void host(RUNTIME, "log", [msg], () => null),
        now: () => host(RUNTIME, "now", [], () => Date.now()) as number,
        random: (len) => {
          const bytes = host(RUNTIME, "random", [len], () => {
            if (len > RANDOM_MAX) return { err: `len over ${RANDOM_MAX}` };
            return Array.from(crypto.getRandomValues(new Uint8Array(len)));
          });
          if (!Array.isArray(bytes)) {
            throw new RangeError(`random: len ${len} is over ${RANDOM_MAX}`);
          }
          return new Uint8Array(bytes as number[]);
        },
        selfId: () => host(RUNTIME, "self-id", [], () => this.id) as string,
      },
      message: {
        send: (to, msg) => {
          this.#countSend();
          return fromRecord(
            host(MESSAGE, "send", [to, msg], () => this.#sendable(to, msg)),
          ) as Result<null>;
        },
        request: (to, msg, timeoutMs) => {
          this.#countSend();
          return fromRecord(
            host(MESSAGE, "request", [to, msg, timeoutMs], () => {
              if (
                !Number.isInteger(timeoutMs) || timeoutMs < 1 ||
                timeoutMs > MAX_TIMER_MS
              ) {
                return {
                  err:
                    `timeout-ms must be 1 to ${MAX_TIMER_MS}, got ${timeoutMs}`,
                };
              }
              const refused = this.#sendable(to, msg);
              if ("err" in refused) return refused;
              const { requests } = this.#quota();
              if (
                (this.#context.requests ?? 0) + this.#requestsNow >= requests
              ) {
                return {
                  err:
                    `quota exceeded: more than ${requests} requests waiting (limits.requests)`,
                };
              }
              this.#requestsNow++;
              return { ok: `rq-${randomHex(6)}` };
            }),
          ) as Result<string>;
        },
        sender: () =>
          host(
            MESSAGE,
            "sender",
            [],
            () => this.#context.sender ?? "",
          ) as string,
      },
      timers: {
        after: (ms, msg) =>
          fromRecord(
            host(TIMERS, "after", [ms, msg], () => this.#timer(ms, msg, 0)),
          ) as Result<string>,
        every: (ms, msg) =>
          fromRecord(
            host(TIMERS, "every", [ms, msg], () => this.#timer(ms, msg, 10)),
          ) as Result<string>,
        cancel: (id) =>
          host(TIMERS, "cancel", [id], () => {
            const pending = (this.#context.timers ?? []).includes(id) ||
              this.#timersSet.includes(id);
            if (pending) {
              this.#timersSet = this.#timersSet.filter((t) => t !== id);
            }
            return pending;
          }) as boolean,
      },
      supervisor: {
        spawn: (manifest, params) =>
          fromRecord(host(
            SUPERVISOR,
            "spawn",
            [manifest, params],
            () => this.#spawn(manifest, params),
          )) as Result<string>,
        // An actor may stop itself (a normal exit) or one of its children.
        stop: (child) =>
          fromRecord(
            host(
              SUPERVISOR,
              "stop",
              [child],
              () => child === this.id ? { ok: null } : this.#child(child),
            ),
          ) as Result<null>,
        restart: (child) =>
          fromRecord(
            host(SUPERVISOR, "restart", [child], () => this.#child(child)),
          ) as Result<null>,
        children: () =>
          host(
            SUPERVISOR,
            "children",
            [],
            () => [...this.#context.children],
          ) as string[],
      },
    };
  }

  /**
   * Names the child a spawn will start: `<self>.<manifest stem>-<n>`. The
   * child itself starts after the handler commits; a child that then fails
   * to start is reported as a `failed` child event.
   */
  #spawn(manifest: string, params: string | null): Json {
    const problem = params === null ? null : documentProblem(params);
    if (problem) return { err: `params ${problem}` };
    const { children } = this.#quota();
    if (this.#context.children.length + this.#spawnedNow >= children) {
      return {
        err: `quota exceeded: more than ${children} children (limits.children)`,
      };
    }
    this.#spawnedNow++;
    const stem = (manifest.split("/").pop() ?? "")
      .replace(/\.json$/, "").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 32) ||
      "child";
    this.#spawned++;
    const id = `${this.id}.${stem}-${this.#spawned}`;
    if (id.length > 128) return { err: "actor tree too deep: id too long" };
    return { ok: id };
  }

  /**
   * Sets a timer, to take effect when the call commits: a fresh random id
   * (recorded, so replay gives it back), or an err.
   */
  #timer(ms: number, msg: string, min: number): Json {
    if (!Number.isInteger(ms) || ms < min || ms > MAX_TIMER_MS) {
      return { err: `ms must be ${min} to ${MAX_TIMER_MS}, got ${ms}` };
    }
    const problem = documentProblem(msg);
    if (problem) return { err: `message ${problem}` };
    const { timers } = this.#quota();
    const pending = (this.#context.timers?.length ?? 0) +
      this.#timersSet.length;
    if (pending >= timers) {
      return {
        err:
          `quota exceeded: more than ${timers} pending timers (limits.timers)`,
      };
    }
    const id = `t-${randomHex(6)}`;
    this.#timersSet.push(id);
    return { ok: id };
  }

  /** Counts a message sent in this call against `limits.sends`. */
  #countSend(): void {
    const quota = this.#quota();
    if (++this.#sends > quota.sends) {
      throw new QuotaExceeded(
        "sends",
        quota.sends,
        `more than ${quota.sends} messages sent in one call`,
      );
    }
  }

  /** Whether a message may go to `to`: `{ok: null}` or an err. */
  #sendable(to: string, msg: string): { ok: null } | { err: string } {
    const standing = this.#directory.get(to) ?? Standing.Gone;
    if (standing === Standing.Gone) {
      return { err: `no actor ${JSON.stringify(to)} is running` };
    }
    if (standing === Standing.Full) {
      return { err: `the mailbox of ${JSON.stringify(to)} is full` };
    }
    const problem = documentProblem(msg);
    if (problem) return { err: `message ${problem}` };
    return { ok: null };
  }

  #child(child: string): Json {
    return this.#context.children.includes(child)
      ? { ok: null }
      : { err: `no child ${JSON.stringify(child)}` };
  }

  #quota(): CallQuota {
    return this.#context.quota ?? DEFAULT_QUOTA;
  }

  #host(iface: string, fn: string, args: Json[], live: () => unknown): Json {
    // Every argument ends up in the chain: a guest that passes more than a
    // document's worth traps instead of growing the record without bound.
    const size = args.reduce<number>(
      (n, a) => n + (typeof a === "string" ? a.length : 16),
      0,
    );
    if (size > MAX_DOCUMENT_BYTES) {
      throw new RangeError(
        `${fn}: arguments of ${size} characters, over the limit of ${MAX_DOCUMENT_BYTES}`,
      );
    }
    // The quotas are checked before the call is made (or looked up in
    // replay), so a replayed guest is stopped at the same place.
    const quota = this.#quota();
    if (this.#calls.length >= quota.hostCalls) {
      throw new QuotaExceeded(
        "hostCalls",
        quota.hostCalls,
        `more than ${quota.hostCalls} host calls in one call`,
      );
    }
    this.#bytes += size +
      (fn === "random" ? 4 * Math.min(Number(args[0]), RANDOM_MAX) : 64);
    if (this.#bytes > quota.recordedBytes) {
      throw new QuotaExceeded(
        "recordedBytes",
        quota.recordedBytes,
        `more than ${quota.recordedBytes} bytes of host calls in one call`,
      );
    }
    let result: Json;
    const replay = this.#context.replay;
    if (replay) {
      const want = replay[this.#replayAt++];
      if (
        !want || want.interface !== iface || want.function !== fn ||
        !sameJson(want.args, args)
      ) {
        throw new Divergence(
          `host call ${this.#calls.length + 1}: expected ${
            want
              ? `${want.function}(${JSON.stringify(want.args).slice(1, -1)})`
              : "no more host calls"
          }, got ${fn}(${JSON.stringify(args).slice(1, -1)})`,
        );
      }
      result = want.result;
    } else {
      result = live() as Json;
    }
    this.#calls.push({ interface: iface, function: fn, args, result });
    return result;
  }

  /** Runs one export and reports what happened, host calls included. */
  call(fn: GuestFunction, args: string[], context: CallContext): GuestOutcome {
    this.#calls = [];
    this.#context = context;
    this.#replayAt = 0;
    this.#spawned = context.spawned ?? 0;
    this.#spawnedNow = 0;
    this.#timersSet = [];
    this.#requestsNow = 0;
    this.#sends = 0;
    this.#bytes = 0;
    const instance = this.#instance;
    try {
      let result: Result<string | [string, string | null]>;
      if (fn === "init") {
        result = instance.init(args[0]);
      } else if (fn === "handle") {
        const r = instance.handle(args[0], args[1]);
        result = r.ok ? { ok: true, value: [r.value.state, r.value.reply] } : r;
      } else if (instance.onChildEvent) {
        result = instance.onChildEvent(args[0], args[1]);
      } else {
        throw new TypeError(`the component does not export ${fn}`);
      }
      if (context.replay && this.#replayAt < context.replay.length) {
        throw new Divergence(
          `the guest made ${this.#replayAt} host calls, the record has ${context.replay.length}`,
        );
      }
      return result.ok
        ? { calls: this.#calls, status: "ok", value: result.value }
        : { calls: this.#calls, status: "err", error: result.error };
    } catch (err) {
      const cause = err instanceof GuestTrap ? err.cause : err;
      if (cause instanceof Divergence) {
        return { calls: this.#calls, status: "diverged", error: cause.message };
      }
      return {
        calls: this.#calls,
        status: "trap",
        error: cause instanceof Error ? cause.message : String(cause),
      };
    }
  }
}

/** A recorded `result` (`{"ok": v}` or `{"err": reason}`) as a `Result`. */
function fromRecord(result: Json): Result<Json> {
  if (result !== null && typeof result === "object" && "err" in result) {
    return { ok: false, error: String(result.err) };
  }
  const value = (result as { ok?: Json } | null)?.ok;
  return { ok: true, value: value ?? null };
}

/**
 * The state a call leaves for the next call of a batch: the new state of
 * an `ok` whose state passes the document gate, else the state it was
 * given. Workers thread batches by it, and the host predicts by it what a
 * batched call was given.
 */
export function nextState(
  fn: GuestFunction,
  given: string,
  outcome: GuestOutcome,
): string {
  if (outcome.status !== "ok") return given;
  const value = outcome.value;
  const next = fn === "handle"
    ? (value as [string, string | null])[0]
    : value as string;
  return typeof next === "string" && documentProblem(next) === null
    ? next
    : given;
}

/** `n` random bytes in hex, for timer and request ids. */
function randomHex(n: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
