// Copyright the Theater authors. MIT license.
// Runs guest calls against jco bindings and records every host call. Used
// inside the no-permission workers and in process; it touches no Deno API.
import type { Json } from "../chain/event.ts";
// node:crypto needs Deno, which the hardened workers do not have.
import { sha256 } from "@noble/hashes/sha2";
import { fromBase64, toBase64, toHex } from "../chain/bytes.ts";
import {
  type ActorInstance,
  type BindingsInstantiate,
  type CompiledComponent,
  createInstance,
  deadline,
  GuestTrap,
  type HostImports,
  type HttpRequest,
  type HttpResponse,
  type Result,
} from "./instance.ts";
import type { GateClient } from "./_gate_client.ts";
import { documentProblem, MAX_DOCUMENT_BYTES } from "./json_limits.ts";
import { type ActorLimits, DEFAULT_LIMITS, QuotaExceeded } from "./limits.ts";
import { HTTP, MESSAGE, RUNTIME, STORE, SUPERVISOR, TIMERS } from "./wit.ts";
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
  | "hostCalls"
  | "recordedBytes"
  | "sends"
  | "children"
  | "timers"
  | "requests"
  | "blobMb"
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
    blobMb: limits.blobMb,
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
   * The gate that reads blobs and makes HTTP requests for this actor (see
   * gate.ts), by key; none: `store.get` finds nothing, `http.fetch` errs.
   */
  gate?: string;
  /**
   * Run ahead of its turn: a call that would reach the world (HTTP, a blob
   * not yet stored) stops instead (`GuestOutcome.stopped`).
   */
  ahead?: boolean;
  /** In replay, the blobs `store.get` calls of the record read, by hash. */
  blobs?: Record<string, Uint8Array>;
  /**
   * In replay, the host calls the record says the guest made, in order:
   * their results are returned instead of live ones, and each call's
   * interface, function and arguments must match.
   */
  replay?: HostCallRecord[];
  /**
   * In replay, when the record ends this call in a time-out: its error (as
   * the host wrote it, without `trap: `). The call is ended with it as soon
   * as the guest has made the recorded host calls (docs/replay.md).
   */
  timedOut?: string;
}

/** A call run ahead that reached for the world, and so stopped. */
class Stopped extends Error {
  override name = "Stopped";
}

/** A guest call that did something other than what the record says. */
export class Divergence extends Error {
  override name = "Divergence";
}

/** In replay, a call ended where the record says it timed out. */
class RecordedTimeOut extends Error {
  override name = "RecordedTimeOut";
}

const RANDOM_MAX = 65536;
/**
 * Largest `http.fetch` request as recorded: a body of the largest grant
 * (8 MiB) in base64, and headers.
 */
const MAX_FETCH_RECORD = 12 * 1024 * 1024;
/** Time a guest waits for a gate past the time it gave it. */
const GATE_SLACK_MS = 250;
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
  /** Blobs put in this call, by hash: the host stores them with the step. */
  #blobs = new Map<string, Uint8Array>();
  /** Bytes put in this call. */
  #putBytes = 0;
  #gates: Map<string, GateClient>;

  /**
   * @param options.directory the actors messages may go to.
   * @param options.gates connections to gates, by key (see gate.ts).
   */
  constructor(
    id: string,
    options: {
      instantiate: BindingsInstantiate;
      component: GuestComponent;
      directory: Directory;
      gates?: Map<string, GateClient>;
    },
  ) {
    this.id = id;
    this.#directory = options.directory;
    this.#gates = options.gates ?? new Map();
    this.#instance = createInstance(
      options.instantiate,
      options.component.modules,
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
      store: {
        put: (data) => {
          const hash = toHex(sha256(data));
          const result = host(
            STORE,
            "put",
            [{ sha256: hash, size: data.length }],
            () => {
              // One call's puts together stay under the limit: a guest
              // cannot fill the disk faster than a blob per call.
              const max = this.#quota().blobMb * 1024 * 1024;
              const total = this.#putBytes + data.length;
              if (total > max) {
                return {
                  err:
                    `blobs of ${total} bytes in one call, over ${max} (limits.blob_mb)`,
                };
              }
              this.#putBytes = total;
              return { ok: hash };
            },
          );
          if (isOk(result)) this.#blobs.set(hash, data.slice());
          return fromRecord(result) as Result<string>;
        },
        get: (sha256) => {
          let bytes = null as Uint8Array | null;
          const result = host(STORE, "get", [sha256], () => {
            bytes = this.#blobs.get(sha256) ?? this.#gateGet(sha256);
            // A blob put by a step that is not committed yet is not in the
            // store: run ahead, the call cannot know it is missing.
            if (bytes === null && this.#context.ahead) {
              throw new Stopped("store.get of a blob not in the store");
            }
            return bytes === null ? null : { size: bytes.length };
          });
          if (result === null) return null;
          if (this.#context.replay) bytes = this.#replayBlob(sha256, result);
          return bytes;
        },
      },
      http: {
        fetch: (request) => this.#fetch(request),
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

  /** This call's gate (see gate.ts), if the actor has one. */
  #gate(): GateClient | undefined {
    const key = this.#context.gate;
    return key === undefined ? undefined : this.#gates.get(key);
  }

  /** A blob read through the actor's gate, or null. */
  #gateGet(sha256: string): Uint8Array | null {
    const gate = this.#gate();
    if (!gate || !/^[0-9a-f]{64}$/.test(sha256)) return null;
    const left = this.#timeLeft();
    if (left < 1) return null;
    const answer = gate.call("get", sha256, {
      timeoutMs: left,
      waitMs: left + GATE_SLACK_MS,
    });
    return answer && answer.head !== null ? answer.body : null;
  }

  /** In replay, the bytes of a blob a recorded `store.get` read. */
  #replayBlob(sha256: string, recorded: Json): Uint8Array {
    const bytes = this.#blobs.get(sha256) ?? this.#context.blobs?.[sha256];
    const size = (recorded as { size?: Json }).size;
    if (!bytes) {
      throw new Divergence(
        `store.get: blob ${sha256} is not in the run's store`,
      );
    }
    if (bytes.length !== size) {
      throw new Divergence(
        `store.get: blob ${sha256} has ${bytes.length} bytes, the record says ${size}`,
      );
    }
    return bytes;
  }

  /** Milliseconds left before this call's deadline. */
  #timeLeft(): number {
    return Math.floor(deadline.at - performance.now());
  }

  /** `http.fetch`: through the gate live; from the record in replay. */
  #fetch(request: HttpRequest): Result<HttpResponse> {
    let body = null as Uint8Array | null;
    // Keys in the order the chain keeps them (RFC 8785), so that replay
    // compares like with like.
    const args: Json = {
      body: request.body === null ? null : toBase64(request.body),
      headers: request.headers.map(([k, v]) => [k, v]),
      method: request.method,
      url: request.url,
    };
    // The request is recorded whole: it must fit a chain line, and it
    // counts against recorded_bytes like every argument.
    const size = JSON.stringify(args).length;
    if (size > MAX_FETCH_RECORD) {
      throw new RangeError(
        `http.fetch: a request of ${size} characters as recorded, over ${MAX_FETCH_RECORD}`,
      );
    }
    this.#charge(size);
    const result = this.#host(HTTP, "fetch", [args], () => {
      if (this.#context.ahead) throw new Stopped("http.fetch");
      const gate = this.#gate();
      if (!gate) return { err: "this actor has no HTTP grant" };
      const left = this.#timeLeft();
      if (left < 1) {
        return { err: "no time left in this call (limits.handle_timeout_ms)" };
      }
      const answer = gate.call("fetch", {
        method: request.method,
        url: request.url,
        headers: args.headers,
      }, {
        body: request.body,
        timeoutMs: Math.min(left, 2 ** 31 - 1),
        waitMs: left + GATE_SLACK_MS,
      });
      if (!answer) return { err: "the HTTP gate did not answer in time" };
      if (!isOk(answer.head)) return answer.head;
      body = answer.body;
      const ok = (answer.head as { ok: Record<string, Json> }).ok;
      return { ok: { ...ok, body: toBase64(answer.body) } };
    });
    // The response is in the record: it counts against recorded_bytes.
    this.#charge(JSON.stringify(result).length);
    if (!isOk(result)) {
      return { ok: false, error: String((result as { err: Json }).err) };
    }
    const ok = (result as { ok: Record<string, Json> }).ok;
    return {
      ok: true,
      value: {
        status: Number(ok.status),
        headers: (ok.headers as [string, string][]).map(([k, v]) => [k, v]),
        body: body ?? fromBase64(String(ok.body)),
      },
    };
  }

  /** Counts bytes of a host call's result against `limits.recorded_bytes`. */
  #charge(bytes: number): void {
    const quota = this.#quota();
    this.#bytes += bytes;
    if (this.#bytes > quota.recordedBytes) {
      throw new QuotaExceeded(
        "recordedBytes",
        quota.recordedBytes,
        `more than ${quota.recordedBytes} bytes of host calls in one call`,
      );
    }
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
    const timedOut = this.#context.timedOut;
    if (replay && timedOut !== undefined && this.#replayAt === replay.length) {
      // The live call got no further than this: what the guest would do
      // next is not on record, so it is not run.
      throw new RecordedTimeOut(timedOut);
    }
    return result;
  }

  /** The blobs this call put, for the outcome (none in replay). */
  #stored(): { blobs?: Uint8Array[] } {
    if (this.#context.replay || this.#blobs.size === 0) return {};
    return { blobs: [...this.#blobs.values()] };
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
    this.#blobs = new Map();
    this.#putBytes = 0;
    const instance = this.#instance;
    if (context.replay?.length === 0 && context.timedOut !== undefined) {
      // Timed out before its first host call: nothing of it to run.
      return { calls: [], status: "trap", error: context.timedOut };
    }
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
      const blobs = this.#stored();
      return result.ok
        ? { calls: this.#calls, status: "ok", value: result.value, ...blobs }
        : { calls: this.#calls, status: "err", error: result.error, ...blobs };
    } catch (err) {
      const cause = err instanceof GuestTrap ? err.cause : err;
      if (cause instanceof Divergence) {
        return { calls: this.#calls, status: "diverged", error: cause.message };
      }
      if (cause instanceof Stopped) {
        return {
          calls: [],
          status: "trap",
          error: `stopped: ${cause.message}`,
          stopped: true,
        };
      }
      return {
        calls: this.#calls,
        ...this.#stored(),
        status: "trap",
        error: cause instanceof Error ? cause.message : String(cause),
      };
    }
  }
}

/** Whether a recorded result is `{"ok": …}`. */
function isOk(result: Json): boolean {
  return result !== null && typeof result === "object" && "ok" in result;
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
