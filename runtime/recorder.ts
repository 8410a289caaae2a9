// Copyright the Theater authors. MIT license.
/**
 * The recording actor loop: it calls into a guest through an
 * {@linkcode Executor}, writes everything the guest saw and did to the
 * actor's chain, and only then lets the effects out (replies, logs,
 * outgoing messages). See docs/chain-format.md §5 for the event order.
 *
 * @module
 */
import type { ChainEvent, ChainLink, ChainWriter, Json } from "../chain/mod.ts";
import { parseDocument } from "./json_limits.ts";

/** One host function call made by the guest, with what it got back. */
export interface HostCallRecord {
  interface: string;
  function: string;
  args: Json[];
  result: Json;
}

/** The guest exports the loop calls. */
export type GuestFunction = "init" | "handle" | "on-child-event";

/** What one call into the guest did. */
export type GuestOutcome =
  & {
    /** Host calls in the order the guest made them. */
    calls: HostCallRecord[];
  }
  & (
    /** `value` is the export's `ok` payload: a state, or [state, reply]. */
    | { status: "ok"; value: string | [string, string | null] }
    /** The export returned `err`. */
    | { status: "err"; error: string }
    /** The guest trapped, ran over its time or memory, or its host died. */
    | { status: "trap"; error: string }
    /** In replay: the guest made a host call the record does not have. */
    | { status: "diverged"; error: string }
  );

/** Runs one guest call somewhere (in a worker, in process, in replay). */
export interface Executor {
  call(
    actor: string,
    call: { fn: GuestFunction; args: string[] },
  ): Promise<GuestOutcome>;
}

/** An outgoing message the guest sent, as recorded. */
export interface Outgoing {
  to: string;
  msg: Json;
  /** Link to the `message.out` event in the sender's chain. */
  link: ChainLink;
}

/** What `actor.start` records. */
export interface StartData {
  /** SHA-256 of the component. */
  component: string;
  /** The manifest as written. */
  manifest: { [key: string]: Json };
  params: Json;
  /** The spawning parent's event, or null for a root actor. */
  link: ChainLink | null;
}

/** A supervisor call the guest made, to carry out after it commits. */
export interface Effect {
  op: "spawn" | "stop" | "restart";
  /** The child's id (for spawn: the id the guest was given). */
  child: string;
  /** For spawn: the manifest path and params the guest passed. */
  manifest?: string;
  params?: string | null;
  /** Link to the `host.call` event of the call. */
  link: ChainLink;
}

/** What delivering one message led to, once it is on disk. */
export interface Delivery {
  ok: boolean;
  /** The reply (null when the handler gave none) or the error text. */
  reply: Json;
  error?: string;
  /**
   * True when the call failed by crashing (a trap, time or memory limit,
   * output that is not JSON) rather than by returning `err`.
   */
  crashed: boolean;
  /** The recorded `actor.init` / `handle.ok` / `handle.error` event. */
  event: ChainEvent;
  logs: string[];
  outgoing: Outgoing[];
  effects: Effect[];
}

const RUNTIME = "theater:actor/runtime";
const MESSAGE = "theater:actor/message";
const SUPERVISOR = "theater:actor/supervisor";

/**
 * One actor's recorded life: start, init, then messages one at a time. The
 * state lives here, outside the guest, so a guest that dies loses nothing
 * that was committed.
 */
export class ActorRecorder {
  readonly id: string;
  readonly writer: ChainWriter;
  readonly executor: Executor;
  #state: Json = null;
  #stateText = "null";
  #busy: Promise<unknown> = Promise.resolve();

  constructor(
    id: string,
    options: { writer: ChainWriter; executor: Executor },
  ) {
    this.id = id;
    this.writer = options.writer;
    this.executor = options.executor;
  }

  /** The last committed state. */
  get state(): Json {
    return this.#state;
  }

  /**
   * Records `actor.start`, then calls `init(params)` and records its
   * outcome. Resolves with the init outcome once it is durable.
   */
  start(start: StartData): Promise<Delivery> {
    return this.#serial(async () => (await this.#start(start, true))!);
  }

  /**
   * Records `actor.start` for an actor that resumes its last committed
   * state (no `init`), as a restart does; replay uses it too.
   */
  resume(start: StartData): Promise<void> {
    return this.#serial(async () => {
      await this.#start(start, false);
    });
  }

  async #start(start: StartData, init: boolean): Promise<Delivery | null> {
    const started = this.writer.append("actor.start", {
      component: start.component,
      manifest: start.manifest,
      params: start.params,
      link: start.link,
    });
    if (init) return await this.#run("init", [JSON.stringify(start.params)]);
    await started;
    await this.writer.flush();
    return null;
  }

  /** Records an incoming message, runs the handler, records the outcome. */
  deliver(
    msg: Json,
    options: { from: string; link?: ChainLink | null },
  ): Promise<Delivery> {
    return this.#serial(async () => {
      this.writer.append("message.in", {
        from: options.from,
        msg,
        link: options.link ?? null,
      });
      return await this.#run("handle", [this.#stateText, JSON.stringify(msg)]);
    });
  }

  /**
   * Records a lifecycle event about a child and, with `notify`, passes it
   * to the guest's `on-child-event`. Resolves with the recorded event and
   * what the guest did with it.
   */
  childEvent(
    event: { child: string; event: string; reason: string | null },
    options: { notify: boolean },
  ): Promise<{ event: ChainEvent; delivery: Delivery | null }> {
    return this.#serial(async () => {
      const recorded = await this.writer.append("child.event", { ...event });
      if (!options.notify) {
        await this.writer.flush();
        return { event: recorded, delivery: null };
      }
      const delivery = await this.#run("on-child-event", [
        this.#stateText,
        JSON.stringify(event),
      ]);
      return { event: recorded, delivery };
    });
  }

  /**
   * Records a restart: `actor.stop`, then `actor.start`; with `fresh`, runs
   * `init` again, otherwise the actor resumes from its last committed state.
   * Resolves with the init outcome, or null when resuming.
   */
  restart(
    reason: string,
    start: StartData & { fresh: boolean },
  ): Promise<Delivery | null> {
    return this.#serial(() => {
      this.writer.append("actor.stop", { reason });
      return this.#start(start, start.fresh);
    });
  }

  /** Records `actor.stop` and waits for everything to be durable. */
  stop(reason: string): Promise<void> {
    return this.#serial(async () => {
      await this.writer.append("actor.stop", { reason });
      await this.writer.flush();
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#busy.then(fn, fn);
    this.#busy = next.catch(() => {});
    return next;
  }

  async #run(fn: GuestFunction, args: string[]): Promise<Delivery> {
    const outcome = await this.executor.call(this.id, { fn, args });
    const logs: string[] = [];
    const sends: { to: string; msg: Json }[] = [];
    const effects: Promise<Effect>[] = [];
    for (const call of outcome.calls) {
      const recorded = this.writer.append("host.call", {
        interface: call.interface,
        function: call.function,
        args: call.args,
        result: call.result,
      });
      if (call.interface === RUNTIME && call.function === "log") {
        logs.push(String(call.args[0]));
      }
      if (!isOk(call.result)) continue;
      if (call.interface === MESSAGE && call.function === "send") {
        // The host answered ok only for a message that parses.
        sends.push({
          to: String(call.args[0]),
          msg: JSON.parse(String(call.args[1])),
        });
      }
      if (call.interface === SUPERVISOR && call.function !== "children") {
        const ok = (call.result as { ok: Json }).ok;
        const op = call.function as Effect["op"];
        effects.push(recorded.then((e) => ({
          op,
          child: op === "spawn" ? String(ok) : String(call.args[0]),
          ...(op === "spawn"
            ? {
              manifest: String(call.args[0]),
              params: call.args[1] as string | null,
            }
            : {}),
          link: { actor: this.id, hash: e.hash },
        })));
      }
    }
    let failure: string | null = null;
    let crashed = false;
    let state: Json = this.#state;
    let stateText = this.#stateText;
    let reply: Json = null;
    if (outcome.status === "ok") {
      try {
        const [s, r] = typeof outcome.value === "string"
          ? [outcome.value, null]
          : outcome.value;
        state = parseDocument(s, "new state");
        stateText = s;
        if (r !== null && r !== undefined) reply = parseDocument(r, "reply");
      } catch (err) {
        failure = (err as Error).message;
        crashed = true;
      }
    } else {
      crashed = outcome.status !== "err";
      failure = outcome.status === "err"
        ? outcome.error
        : `${outcome.status}: ${outcome.error}`;
    }
    if (failure !== null) {
      // A failed call changes nothing: its state is dropped, and so are the
      // messages and supervisor calls it made. What it saw is on record.
      const event = await this.writer.append("handle.error", {
        phase: fn,
        error: failure,
      });
      await this.writer.flush();
      return {
        ok: false,
        reply: null,
        error: failure,
        crashed,
        event,
        logs,
        outgoing: [],
        effects: [],
      };
    }
    const done = this.writer.append(
      fn === "init" ? "actor.init" : "handle.ok",
      fn === "init" ? { state } : { state, reply },
    );
    const out = sends.map((s) =>
      this.writer.append("message.out", { to: s.to, msg: s.msg })
    );
    const event = await done;
    const sent = await Promise.all(out);
    const effectList = await Promise.all(effects);
    await this.writer.flush();
    this.#state = state;
    this.#stateText = stateText;
    return {
      ok: true,
      reply,
      crashed: false,
      event,
      logs,
      outgoing: sent.map((e, i) => ({
        to: sends[i].to,
        msg: sends[i].msg,
        link: { actor: this.id, hash: e.hash },
      })),
      effects: effectList,
    };
  }
}

function isOk(result: Json): boolean {
  return typeof result === "object" && result !== null &&
    !Array.isArray(result) && "ok" in result;
}
