// Copyright the Theater authors. MIT license.
// Runs guest calls against jco bindings and records every host call. Used
// inside the no-permission workers and in process; it touches no Deno API.
import type { Json } from "../chain/event.ts";
import { documentProblem, MAX_DOCUMENT_BYTES } from "./json_limits.ts";
import type {
  GuestFunction,
  GuestOutcome,
  HostCallRecord,
} from "./recorder.ts";

/** What a worker or the in-process executor needs to run one component. */
export interface GuestComponent {
  /** The jco bindings (an ES module exporting `instantiate`). */
  bindings: string;
  modules: Record<string, WebAssembly.Module>;
}

/** Per-call context from the host: who exists, what replay expects. */
export interface CallContext {
  /** Actors a message may be sent to right now. */
  peers: string[];
  /** Children of this actor. */
  children: string[];
  /** How many children this actor has spawned before (names the next). */
  spawned?: number;
  /**
   * In replay, the host calls the record says the guest made, in order:
   * their results are returned instead of live ones, and each call's
   * interface, function and arguments must match.
   */
  replay?: HostCallRecord[];
}

type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
) => Record<string, Record<string, (...args: string[]) => unknown>>;

/** A guest call that did something other than what the record says. */
export class Divergence extends Error {
  override name = "Divergence";
}

const RANDOM_MAX = 65536;
const RUNTIME = "theater:actor/runtime";
const MESSAGE = "theater:actor/message";
const SUPERVISOR = "theater:actor/supervisor";

/** Loads bindings source as a module; a data: URL needs no permission. */
export async function loadBindings(source: string): Promise<Instantiate> {
  const url = `data:text/javascript,${encodeURIComponent(source)}`;
  const mod = await import(url);
  return mod.instantiate as Instantiate;
}

function sameJson(a: Json, b: Json): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One actor's instance of a component, and the host it sees. */
export class GuestActor {
  readonly id: string;
  #exports: Record<string, Record<string, (...args: string[]) => unknown>>;
  #calls: HostCallRecord[] = [];
  #context: CallContext = { peers: [], children: [] };
  #replayAt = 0;
  #spawned = 0;

  constructor(id: string, instantiate: Instantiate, component: GuestComponent) {
    this.id = id;
    const host = this.#host.bind(this);
    this.#exports = instantiate((name) => component.modules[name], {
      [RUNTIME]: {
        log: (msg: string) => host(RUNTIME, "log", [msg], () => null),
        now: () => BigInt(host(RUNTIME, "now", [], () => Date.now()) as number),
        random: (len: number) => {
          const bytes = host(RUNTIME, "random", [len], () => {
            if (len > RANDOM_MAX) return { err: `len over ${RANDOM_MAX}` };
            return Array.from(crypto.getRandomValues(new Uint8Array(len)));
          });
          if (!Array.isArray(bytes)) {
            throw new RangeError(`random: len ${len} is over ${RANDOM_MAX}`);
          }
          return new Uint8Array(bytes as number[]);
        },
        selfId: () => host(RUNTIME, "self-id", [], () => this.id),
      },
      [MESSAGE]: {
        send: (to: string, msg: string) =>
          unwrap(host(MESSAGE, "send", [to, msg], () => {
            if (!this.#context.peers.includes(to)) {
              return { err: `no actor ${JSON.stringify(to)} is running` };
            }
            const problem = documentProblem(msg);
            if (problem) return { err: `message ${problem}` };
            return { ok: null };
          })),
      },
      [SUPERVISOR]: {
        spawn: (manifest: string, params?: string) =>
          unwrap(
            host(
              SUPERVISOR,
              "spawn",
              [manifest, params ?? null],
              () => this.#spawn(manifest, params),
            ),
          ),
        stop: (child: string) =>
          unwrap(host(SUPERVISOR, "stop", [child], () => this.#child(child))),
        restart: (child: string) =>
          unwrap(
            host(SUPERVISOR, "restart", [child], () => this.#child(child)),
          ),
        children: () =>
          host(SUPERVISOR, "children", [], () => [...this.#context.children]),
      },
    });
  }

  /**
   * Names the child a spawn will start: `<self>.<manifest stem>-<n>`. The
   * child itself starts after the handler commits; a child that then fails
   * to start is reported as a `failed` child event.
   */
  #spawn(manifest: string, params: string | undefined): Json {
    const problem = params === undefined ? null : documentProblem(params);
    if (problem) return { err: `params ${problem}` };
    const stem = (manifest.split("/").pop() ?? "")
      .replace(/\.json$/, "").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 32) ||
      "child";
    this.#spawned++;
    const id = `${this.id}.${stem}-${this.#spawned}`;
    if (id.length > 128) return { err: "actor tree too deep: id too long" };
    return { ok: id };
  }

  #child(child: string): Json {
    return this.#context.children.includes(child)
      ? { ok: null }
      : { err: `no child ${JSON.stringify(child)}` };
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
    const target = fn === "on-child-event"
      ? this.#exports.supervised?.onChildEvent
      : this.#exports.actor?.[fn];
    try {
      if (!target) throw new TypeError(`the component does not export ${fn}`);
      const value = target(...args);
      if (context.replay && this.#replayAt < context.replay.length) {
        throw new Divergence(
          `the guest made ${this.#replayAt} host calls, the record has ${context.replay.length}`,
        );
      }
      const ok = fn === "handle"
        ? [(value as string[])[0], (value as string[])[1] ?? null] as [
          string,
          string | null,
        ]
        : value as string;
      return { calls: this.#calls, status: "ok", value: ok };
    } catch (err) {
      if (err instanceof Divergence) {
        return { calls: this.#calls, status: "diverged", error: err.message };
      }
      // jco throws a ComponentError carrying `payload` for an `err` result.
      if (err && typeof err === "object" && "payload" in err) {
        return {
          calls: this.#calls,
          status: "err",
          error: String((err as { payload: unknown }).payload),
        };
      }
      return {
        calls: this.#calls,
        status: "trap",
        error: err instanceof Error ? err.message : String(err),
      };
    }
  }
}

/** jco maps a thrown non-Error to the `err` case of a `result`. */
function unwrap(result: Json): Json {
  if (result && typeof result === "object" && "err" in result) {
    throw String((result as { err: Json }).err);
  }
  return (result as { ok: Json }).ok ?? null;
}
