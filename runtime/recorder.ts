// Copyright the Theater authors. MIT license.
/**
 * The recording actor loop: it calls into a guest through an
 * {@linkcode Executor}, writes everything the guest saw and did to the
 * actor's chain, and only then lets the effects out (replies, logs,
 * outgoing messages). See docs/chain-format.md §5 for the event order.
 *
 * @module
 */
import {
  canonicalState,
  type ChainEvent,
  type ChainLink,
  type ChainWriter,
  type EventType,
  type HostCallData,
  type Json,
  patchBetween,
  patchReachesPrototype,
  sha256Hex,
} from "../chain/mod.ts";
import { parseDocument } from "./json_limits.ts";
import { MESSAGE, RUNTIME, SUPERVISOR, TIMERS } from "./wit.ts";
import { nextState } from "./_guest.ts";
import { callEvents } from "./_host_calls.ts";
import type { BlobStore } from "./store.ts";

/** One host function call made by the guest, with what it got back. */
export type HostCallRecord = HostCallData;

/** The guest exports the loop calls. */
export type GuestFunction = "init" | "handle" | "on-child-event";

/** What one call into the guest did. */
export type GuestOutcome =
  & {
    /** Host calls in the order the guest made them. */
    calls: HostCallRecord[];
    /**
     * The blobs the call's `store.put` calls stored (live runs only); the
     * host writes them before the step's events.
     */
    blobs?: Uint8Array[];
    /**
     * A call run ahead that stopped where it would have had an effect on
     * the world (an HTTP request, a read of a blob not yet stored): it is
     * never used, and its message is run again in its turn.
     */
    stopped?: boolean;
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
  /** Runs one guest function of an actor and resolves with its outcome. */
  call(
    actor: string,
    call: { fn: GuestFunction; args: string[]; sender?: string },
  ): Promise<GuestOutcome>;
  /**
   * Runs several calls into one actor one after another, in one round
   * trip; a null first argument is the state the call before left (the
   * new state of an `ok` that passes the document gate, else the state it
   * was given). Optional: without it, calls go one at a time.
   */
  callMany?(
    actor: string,
    calls: {
      fn: GuestFunction;
      args: (string | null)[];
      sender?: string;
      /** Run ahead of its turn: it must stop before any effect. */
      ahead?: boolean;
    }[],
  ): Promise<GuestOutcome[]>;
}

/** A message waiting in an actor's queue, for calls run ahead. */
interface Queued {
  /** The message as the guest gets it. */
  text: string;
  /** Who sent it (`message.sender`). */
  from: string;
}

/** Messages handled ahead in one round trip, at most. */
const RUN_AHEAD = 16;

/** An outgoing message the guest sent, as recorded. */
export interface Outgoing {
  /** The receiver's actor id. */
  to: string;
  /** The message, as recorded. */
  msg: Json;
  /** Length of the message's JSON text, as the guest sent it. */
  size: number;
  /** Link to the `message.out` event in the sender's chain. */
  link: ChainLink;
  /** For a request (0.2.0): its id and how long to wait for the reply. */
  request?: { id: string; timeoutMs: number };
  /** For the response to a request: the request's id. */
  response?: string;
}

/** A request this actor is handling: whom to answer, and the request id. */
export interface RespondTo {
  /** The requesting actor. */
  actor: string;
  /** The request's id. */
  id: string;
}

/** What `actor.start` records. */
export interface StartData {
  /** SHA-256 of the component. */
  component: string;
  /** The manifest as written. */
  manifest: { [key: string]: Json };
  /** The params `init` is called with. */
  params: Json;
  /** The spawning parent's event, or null for a root actor. */
  link: ChainLink | null;
}

/** What `actor.resume` records. */
export interface ResumeData {
  /** SHA-256 of the component the actor runs now. */
  component: string;
  /** The manifest as written now. */
  manifest: { [key: string]: Json };
  /** Params, for an `init` that runs again. */
  params: Json;
  /** The torn final line cut from the chain, if any. */
  cut: { bytes: number; sha256: string } | null;
}

/** A supervisor call the guest made, to carry out after it commits. */
export interface Effect {
  /** Which supervisor or timers function the guest called. */
  op: "spawn" | "stop" | "restart" | "after" | "every" | "cancel";
  /** The child's id (for spawn: the id the guest was given); for timers, the timer's id. */
  child: string;
  /** For after and every: the delay in ms and the message. */
  timer?: { ms: number; msg: Json };
  /** For spawn: the manifest path and params the guest passed. */
  manifest?: string;
  /** For spawn: the params as JSON text, or null for none. */
  params?: string | null;
  /** Link to the `host.call` event of the call. */
  link: ChainLink;
}

/** What delivering one message led to, once it is on disk. */
export interface Delivery {
  /** Whether the call succeeded and its outcome was recorded. */
  ok: boolean;
  /** The reply (null when the handler gave none) or the error text. */
  reply: Json;
  /** Why the call failed, when `ok` is false. */
  error?: string;
  /**
   * True when the call failed by crashing (a trap, time or memory limit,
   * output that is not JSON) rather than by returning `err`.
   */
  crashed: boolean;
  /** The recorded `actor.init` / `handle.ok` / `handle.error` event. */
  event: ChainEvent;
  /** The recorded event that started the step (`message.in`, …), if any. */
  input: ChainEvent | null;
  /** The lines the guest logged, in order. */
  logs: string[];
  /** The messages the guest sent, to deliver now that they are recorded. */
  outgoing: Outgoing[];
  /** The supervisor calls the guest made, to carry out now. */
  effects: Effect[];
}

/** A message refused because the actor is stopping; nothing is recorded. */
export class NotDelivered extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "NotDelivered";
}

/** One event of a step, appended with the rest of the step at once. */
interface StepEvent {
  type: EventType;
  data: { [key: string]: Json };
  ts?: number;
}

/**
 * A full state is recorded once the chain has grown by this many times the
 * state's size since the last one (see `ActorRecorder#stateEvent`).
 */
const FULL_EVERY = 8;

/**
 * One actor's recorded life: start, init, then messages one at a time. The
 * state lives here, outside the guest, so a guest that dies loses nothing
 * that was committed.
 */
export class ActorRecorder {
  /** The actor's id. */
  readonly id: string;
  /** The writer of the actor's chain. */
  readonly writer: ChainWriter;
  /** Where the actor's guest calls run. */
  readonly executor: Executor;
  #state: Json = null;
  #stateText = "null";
  #busy: Promise<unknown> = Promise.resolve();
  /** Messages delivered and not yet handled, in order. */
  #queued: Queued[] = [];
  /** Outcomes run ahead, by message, with the state each was given. */
  #ahead = new Map<Queued, { state: string; outcome: GuestOutcome }>();
  /** The last message run ahead and the state it leaves. */
  #predicted: { after: Queued; state: string } | null = null;
  /** The batch running ahead, and the messages it covers. */
  #inflight: { covers: Set<Queued>; done: Promise<void> } | null = null;
  /** Bumped when what ran ahead is dropped: late batches are ignored. */
  #epoch = 0;
  #closing: string | null = null;
  /**
   * The chain's size in bytes right after the last full state; -Infinity
   * when the next state must be full (after a start or resume).
   */
  #fullAt = -Infinity;
  /** The last committed state in RFC 8785 key order, once computed. */
  #canonical: Json | undefined;
  /** The same for the state of the step under way. */
  #nextCanonical: Json | undefined;
  /** The length of `#canonical`'s text, and its hash (computed once). */
  #canonicalSum: { length: number; hash: () => string } | undefined;
  /** The same for the state of the step under way. */
  #nextSum: { length: number; hash: () => string } | undefined;
  /**
   * In replay: the form the record gives the state of the step under way
   * (`full` for `handle.ok`, `patch` for `handle.patch`).
   */
  stateForm?: () => "full" | "patch" | undefined;
  /**
   * In replay: whether the record writes the host calls of the step under
   * way each as a `host.call` (`single`, as before format version 4) or
   * runs of them as `host.calls` (`grouped`, the default).
   */
  callForm?: () => "grouped" | "single";

  #store: BlobStore | null;
  #runAhead: boolean;

  /**
   * Makes the recorder of actor `id`, with its chain writer and executor.
   *
   * @param options.store where the blobs the guest puts are written.
   * @param options.runAhead whether queued messages may be computed ahead
   * of their turn (default true; off for actors that make HTTP requests,
   * which a call run ahead cannot make).
   */
  constructor(
    id: string,
    options: {
      writer: ChainWriter;
      executor: Executor;
      store?: BlobStore | null;
      runAhead?: boolean;
    },
  ) {
    this.id = id;
    this.writer = options.writer;
    this.executor = options.executor;
    this.#store = options.store ?? null;
    this.#runAhead = options.runAhead ?? true;
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

  /**
   * Records `actor.resume`: the actor continues its chain in a new run, from
   * `state` (its last committed state, as the chain holds it), or, when its
   * `init` never succeeded, by running `init` again. `cut` is the torn line
   * cut from the chain's end, if any. Resolves with the recorded
   * `actor.resume` and the init outcome (null when none ran).
   */
  continueChain(
    data: ResumeData,
    options: { init: boolean; state: Json },
  ): Promise<{ event: ChainEvent; init: Delivery | null }> {
    return this.#serial(async () => {
      this.#dropAhead();
      // The guest gets the state as the chain holds it, in a new run and
      // in replay alike.
      this.#fullAt = -Infinity;
      this.#canonical = undefined;
      this.#canonicalSum = undefined;
      this.#state = options.state;
      this.#stateText = JSON.stringify(options.state);
      const resumed: StepEvent = {
        type: "actor.resume",
        // Members in RFC 8785 order here and below: the chain writes such
        // data natively (canonicalJson's fast path).
        data: {
          component: data.component,
          cut: data.cut as Json,
          manifest: data.manifest,
          params: data.params,
        },
        ts: this.writer.tick(),
      };
      if (options.init) {
        const init = await this.#run("init", [JSON.stringify(data.params)], [
          resumed,
        ]);
        return { event: init.input!, init };
      }
      const [event] = this.writer.appendAll([resumed]);
      await this.writer.flush();
      return { event: await event, init: null };
    });
  }

  async #start(
    start: StartData,
    init: boolean,
    before: StepEvent[] = [],
  ): Promise<Delivery | null> {
    this.#dropAhead();
    this.#fullAt = -Infinity;
    const started: StepEvent = {
      type: "actor.start",
      data: {
        component: start.component,
        link: start.link,
        manifest: start.manifest,
        params: start.params,
      },
      ts: this.writer.tick(),
    };
    if (init) {
      return await this.#run("init", [JSON.stringify(start.params)], [
        ...before,
        started,
      ]);
    }
    await Promise.all(this.writer.appendAll([...before, started]));
    await this.writer.flush();
    return null;
  }

  /** Records an incoming message, runs the handler, records the outcome. */
  deliver(
    msg: Json,
    options: {
      from: string;
      link?: ChainLink | null;
      /**
       * When the message is a request: its handler's reply goes back to
       * the requester, recorded as a `message.out` of the same step.
       */
      respondTo?: RespondTo;
    },
  ): Promise<Delivery> {
    const queued: Queued = { text: JSON.stringify(msg), from: options.from };
    this.#queued.push(queued);
    return this.#serial(async () => {
      this.#queued.shift();
      while (!this.#ahead.has(queued) && this.#inflight?.covers.has(queued)) {
        await this.#inflight.done;
      }
      const ahead = this.#ahead.get(queued);
      this.#ahead.delete(queued);
      if (this.#closing) throw new NotDelivered(this.#closing);
      const input: StepEvent = {
        type: "message.in",
        data: { from: options.from, link: options.link ?? null, msg },
        ts: this.writer.tick(),
      };
      const args = [this.#stateText, queued.text];
      // A call run ahead counts only if it was given this very state.
      let outcome: GuestOutcome;
      if (ahead && ahead.state === args[0]) {
        outcome = ahead.outcome;
        this.#fill();
      } else {
        outcome = await this.#callAhead(args, queued.from);
      }
      return await this.#runPipelined(
        "handle",
        args,
        [input],
        outcome,
        options.respondTo,
      );
    });
  }

  /**
   * Calls `handle` for the message at hand and, when the executor can and
   * more messages wait, for up to {@linkcode RUN_AHEAD} of them in the same
   * round trip, each from the state the one before leaves. Those outcomes
   * are kept for their messages, which use one only if their state is
   * the one it was computed from; any other step drops them all.
   */
  async #callAhead(args: string[], sender: string): Promise<GuestOutcome> {
    this.#dropAhead();
    const next = this.#queued.slice(0, RUN_AHEAD - 1);
    if (!this.executor.callMany || next.length === 0 || !this.#runAhead) {
      return await this.executor.call(this.id, { fn: "handle", args, sender });
    }
    const epoch = this.#epoch;
    const outcomes = await this.executor.callMany(this.id, [
      { fn: "handle", args, sender },
      ...next.map((q) => ({
        fn: "handle" as const,
        args: [null, q.text],
        sender: q.from,
        ahead: true,
      })),
    ]);
    if (epoch === this.#epoch) {
      this.#keepAhead(next, nextState("handle", args[0], outcomes[0]), {
        outcomes: outcomes.slice(1),
      });
      this.#fill();
    }
    return outcomes[0];
  }

  /**
   * Keeps the outcomes run ahead for `messages`, the first given `state`,
   * and notes where the next batch would start.
   */
  #keepAhead(
    messages: Queued[],
    state: string,
    { outcomes }: { outcomes: GuestOutcome[] },
  ): void {
    for (const [k, q] of messages.entries()) {
      const outcome = outcomes[k];
      if (outcome?.stopped) {
        // Nothing more is run ahead until this message's turn.
        this.#predicted = null;
        break;
      }
      if (!outcome) break;
      this.#ahead.set(q, { state, outcome });
      state = nextState("handle", state, outcome);
      this.#predicted = { after: q, state };
    }
  }

  /**
   * While fewer than a batch of outcomes wait, runs the next messages
   * ahead in the background, from the state predicted for them, so the
   * worker computes while the host records.
   */
  #fill(): void {
    const predicted = this.#predicted;
    if (this.#inflight || !predicted || !this.executor.callMany) return;
    if (this.#ahead.size >= RUN_AHEAD) return;
    const from = this.#queued.indexOf(predicted.after) + 1;
    const next = this.#queued.slice(from, from + RUN_AHEAD);
    if (from === 0 || next.length === 0) return;
    const epoch = this.#epoch;
    const done = this.executor.callMany(
      this.id,
      next.map((q, k) => ({
        fn: "handle" as const,
        args: [k === 0 ? predicted.state : null, q.text],
        sender: q.from,
        ahead: true,
      })),
    ).then((outcomes) => {
      if (epoch === this.#epoch) {
        this.#keepAhead(next, predicted.state, { outcomes });
      }
    }, () => {}).finally(() => {
      if (this.#inflight?.done === done) this.#inflight = null;
      if (epoch === this.#epoch) this.#fill();
    });
    this.#inflight = { covers: new Set(next), done };
  }

  /** Forgets every call run ahead (a step that changes what they saw). */
  #dropAhead(): void {
    this.#ahead.clear();
    this.#predicted = null;
    this.#epoch++;
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
      this.#dropAhead();
      const input: StepEvent = {
        type: "child.event",
        data: { ...event },
        ts: this.writer.tick(),
      };
      if (!options.notify) {
        const [recorded] = this.writer.appendAll([input]);
        await this.writer.flush();
        return { event: await recorded, delivery: null };
      }
      const delivery = await this.#run("on-child-event", [
        this.#stateText,
        JSON.stringify(event),
      ], [input]);
      return { event: delivery.input!, delivery };
    });
  }

  /** Records `actor.stop` and waits for everything to be durable. */
  stop(reason: string): Promise<void> {
    return this.#serial(async () => {
      this.#dropAhead();
      await this.writer.append("actor.stop", { reason });
      await this.writer.flush();
    });
  }

  /**
   * Refuses every delivery still queued, and any later one, with
   * {@linkcode NotDelivered}: nothing of them is recorded. Calls under way
   * finish (or time out) as usual; lifecycle steps still run.
   */
  close(reason: string): void {
    this.#closing ??= reason;
  }

  /**
   * How a new state is recorded: as a `handle.patch` from the last state,
   * unless the patch is no smaller than the state, or the chain has grown
   * by {@linkcode FULL_EVERY} times the state since the last full state; then
   * as a full `handle.ok`. So a chain grows with the changes, and reading a
   * state back from the last full one reads at most about
   * `FULL_EVERY + 1` times its size. Replay writes the form the record has.
   * Returns the event and whether it is a full state.
   */
  #stateEvent(
    state: Json,
    reply: Json,
    same: boolean,
  ): [StepEvent, boolean] {
    const form = this.stateForm?.();
    this.#nextSum = undefined;
    if (form === "full") {
      this.#nextCanonical = undefined;
      return [{ type: "handle.ok", data: { reply, state } }, true];
    }
    let next: Json;
    let patch: Json[];
    if (same && this.#canonical !== undefined && this.#canonicalSum) {
      // The guest gave back the very text of the state it got: nothing to
      // canonicalise, diff or hash again.
      next = this.#canonical;
      this.#nextSum = this.#canonicalSum;
      // What the diff gives two equal states: nothing for a container,
      // a replacement for a bare value (and this is O(1) either way).
      patch = patchBetween(next, next);
    } else {
      // Each state is canonicalised once, and kept in that form as the
      // base of the next patch; a small one's hash is computed when first
      // needed (a full state needs none), a large one's at once, so that
      // its text is not kept for it.
      this.#canonical ??= canonicalState(this.#state).value;
      const { value, text } = canonicalState(state);
      next = value;
      this.#nextSum = { length: text.length, hash: hashOnce(text) };
      patch = patchBetween(this.#canonical, next);
    }
    this.#nextCanonical = next;
    const { length } = this.#nextSum;
    const size = JSON.stringify(patch).length;
    const grown = this.writer.bytes - this.#fullAt;
    // A patch through a prototype token is one every reader refuses, so
    // that state is written whole (the record then says "full" to replay).
    if (
      form !== "patch" &&
      (size >= length || grown >= FULL_EVERY * length ||
        patchReachesPrototype(patch))
    ) {
      return [{ type: "handle.ok", data: { reply, state: next } }, true];
    }
    return [{
      type: "handle.patch",
      data: { patch, reply, state_hash: this.#nextSum.hash() },
    }, false];
  }

  #serial<T>(fn: () => Promise<T | Early<T>>): Promise<T> {
    const step = this.#busy.then(fn, fn);
    this.#busy = step.catch(() => {});
    return step.then((v) => v instanceof Early ? v.durable : v);
  }

  /** Runs a guest call and records it; resolves once the step is durable. */
  async #run(
    fn: GuestFunction,
    args: string[],
    input: StepEvent[],
  ): Promise<Delivery> {
    return await (await this.#stage(fn, args, input)).durable;
  }

  /**
   * As {@linkcode ActorRecorder.#run}, but a step that succeeded without
   * supervisor calls lets the next step of this actor start as soon as its
   * events have their places in the chain, while they are still being
   * synced (group commit: one fsync then covers several steps). Its effects
   * still wait for the fsync, and steps resolve in chain order.
   */
  async #runPipelined(
    fn: GuestFunction,
    args: string[],
    input: StepEvent[],
    outcome: GuestOutcome,
    respondTo?: RespondTo,
  ): Promise<Delivery | Early<Delivery>> {
    const staged = await this.#stage(fn, args, input, outcome, respondTo);
    return staged.early ? new Early(staged.durable) : await staged.durable;
  }

  async #stage(
    fn: GuestFunction,
    args: string[],
    input: StepEvent[],
    given?: GuestOutcome,
    respondTo?: RespondTo,
  ): Promise<{ durable: Promise<Delivery>; early: boolean }> {
    if (!given) this.#dropAhead();
    let outcome = given ?? await this.executor.call(this.id, { fn, args });
    if (outcome.blobs?.length) {
      // Blobs before the events that name them: a chain never points at
      // a blob the store does not have.
      try {
        if (!this.#store) throw new Error("this run has no blob store");
        this.#store.putSync(outcome.blobs);
      } catch (err) {
        outcome = {
          calls: outcome.calls,
          status: "trap",
          error: `cannot store its blobs: ${(err as Error).message}`,
        };
      }
    }
    const logs: string[] = [];
    const sends: {
      to: string;
      msg: Json;
      size: number;
      request?: { id: string; timeoutMs: number };
      response?: string;
    }[] = [];
    const effects: { op: Effect["op"]; at: number; call: HostCallRecord }[] =
      [];
    const { events: calls, at: eventOf } = callEvents(
      outcome.calls,
      this.callForm?.() ?? "grouped",
    );
    for (const [k, call] of outcome.calls.entries()) {
      if (call.interface === RUNTIME && call.function === "log") {
        logs.push(String(call.args[0]));
      }
      if (
        call.interface === TIMERS && call.function === "cancel" &&
        call.result === true
      ) {
        effects.push({
          op: "cancel",
          at: input.length + eventOf[k],
          call,
        });
      }
      if (!isOk(call.result)) continue;
      if (call.interface === TIMERS && call.function !== "cancel") {
        effects.push({
          op: call.function as Effect["op"],
          at: input.length + eventOf[k],
          call,
        });
      }
      if (
        call.interface === MESSAGE &&
        (call.function === "send" || call.function === "request")
      ) {
        // The host answered ok only for a message that passed the gate.
        const text = String(call.args[1]);
        sends.push({
          to: String(call.args[0]),
          msg: JSON.parse(text),
          size: text.length,
          ...(call.function === "request"
            ? {
              request: {
                id: String((call.result as { ok: Json }).ok),
                timeoutMs: Number(call.args[2]),
              },
            }
            : {}),
        });
      }
      if (call.interface === SUPERVISOR && call.function !== "children") {
        effects.push({
          op: call.function as Effect["op"],
          at: input.length + eventOf[k],
          call,
        });
      }
    }
    let failure: string | null = null;
    let crashed = false;
    let state: Json = this.#state;
    let stateText = this.#stateText;
    let same = false;
    let reply: Json = null;
    if (outcome.status === "ok") {
      try {
        const [s, r] = typeof outcome.value === "string"
          ? [outcome.value, null]
          : outcome.value;
        // The very text of the state the guest got passed the gate then.
        same = s === this.#stateText;
        state = same ? this.#state : parseDocument(s, "new state");
        stateText = s;
        if (r !== null && r !== undefined) reply = parseDocument(r, "reply");
      } catch (err) {
        failure = (err as Error).message;
        crashed = true;
      }
    } else {
      crashed = outcome.status !== "err";
      failure = outcome.status === "err"
        ? guestError(outcome.error)
        : `${outcome.status}: ${outcome.error}`;
    }
    let recorded: Promise<ChainEvent>[] | null = null;
    if (failure === null) {
      let done: StepEvent = { type: "handle.ok", data: { reply, state } };
      let isFull = true;
      if (fn === "init") done = { type: "actor.init", data: { state } };
      else {
        try {
          [done, isFull] = this.#stateEvent(state, reply, same);
        } catch (err) {
          failure = `cannot record the new state: ${(err as Error).message}`;
          crashed = true;
        }
      }
      if (respondTo && failure === null) {
        // The reply of a request goes back to the requester, recorded here.
        const msg = {
          response: { id: respondTo.id, from: this.id, reply },
        };
        sends.push({
          to: respondTo.actor,
          msg,
          size: JSON.stringify(msg).length,
          response: respondTo.id,
        });
      }
      const out: StepEvent[] = sends.map((s) => ({
        type: "message.out",
        data: { msg: s.msg, to: s.to },
      }));
      try {
        if (failure !== null) throw new TypeError(failure);
        recorded = this.writer.appendAll([...input, ...calls, done, ...out]);
        if (isFull) this.#fullAt = this.writer.bytes;
      } catch (err) {
        // An outcome the chain cannot hold is a crash of the call, never an
        // escape from the loop.
        failure ??= `cannot record the outcome: ${(err as Error).message}`;
        crashed = true;
      }
    }
    if (recorded === null) {
      // A failed call changes nothing: its state is dropped, and so are the
      // messages and supervisor calls it made. What it saw is on record.
      const error: StepEvent = {
        type: "handle.error",
        data: { error: failure!, phase: fn },
      };
      let events: Promise<ChainEvent>[];
      try {
        events = this.writer.appendAll([...input, ...calls, error]);
      } catch (err) {
        (error.data as { error: string }).error =
          `${failure}; its host calls cannot be recorded: ${
            (err as Error).message
          }`;
        events = this.writer.appendAll([...input, error]);
      }
      const durable = this.#durable(events).then((all) => ({
        ok: false,
        reply: null,
        error: failure!,
        crashed,
        event: all.at(-1)!,
        input: all[input.length - 1] ?? null,
        logs,
        outgoing: [],
        effects: [],
      }));
      return { durable, early: false };
    }
    // The step has its place in the chain: the next one starts from its
    // state. Should the write fail, the writer fails every later step too,
    // so nothing computed from this state gets out.
    this.#state = state;
    this.#stateText = stateText;
    this.#canonical = fn === "init" ? undefined : this.#nextCanonical;
    this.#canonicalSum = fn === "init" ? undefined : this.#nextSum;
    const doneAt = input.length + calls.length;
    const durable = this.#durable(recorded).then((all) => ({
      ok: true,
      reply,
      crashed: false,
      event: all[doneAt],
      input: all[input.length - 1] ?? null,
      logs,
      outgoing: sends.map((s, i) => ({
        to: s.to,
        msg: s.msg,
        size: s.size,
        link: { actor: this.id, hash: all[doneAt + 1 + i].hash },
        ...(s.request ? { request: s.request } : {}),
        ...(s.response ? { response: s.response } : {}),
      })),
      effects: effects.map(({ op, at, call }) => ({
        op,
        child: op === "spawn" || op === "after" || op === "every"
          ? String((call.result as { ok: Json }).ok)
          : String(call.args[0]),
        ...(op === "spawn"
          ? {
            manifest: String(call.args[0]),
            params: call.args[1] as string | null,
          }
          : {}),
        ...(op === "after" || op === "every"
          ? {
            timer: {
              ms: Number(call.args[0]),
              msg: JSON.parse(String(call.args[1])),
            },
          }
          : {}),
        link: { actor: this.id, hash: all[at].hash },
      })),
    }));
    // Supervisor and timer calls change what later calls see (children,
    // names, pending timers).
    if (effects.length > 0) this.#dropAhead();
    return { durable, early: effects.length === 0 };
  }

  /**
   * Resolves with a step's events once all of them are durable. (Not a
   * `flush`: under steady load the writer is never idle.)
   */
  #durable(events: Promise<ChainEvent>[]): Promise<ChainEvent[]> {
    return Promise.all(events);
  }
}

/** Largest state text kept to hash later, should a patch need it. */
const LAZY_HASH_MAX = 4096;

/** The SHA-256 of `text`, computed once: now for a large text, else later. */
function hashOnce(text: string): () => string {
  // Two helpers, so that the closure for a large text does not hold it.
  return text.length > LAZY_HASH_MAX ? known(sha256Hex(text)) : later(text);
}

function known(hash: string): () => string {
  return () => hash;
}

function later(text: string): () => string {
  let hash: string | undefined;
  return () => hash ??= sha256Hex(text);
}

/** A step whose effects wait for `durable`, while the next step may start. */
class Early<T> {
  constructor(readonly durable: Promise<T>) {}
}

function isOk(result: Json): boolean {
  return typeof result === "object" && result !== null &&
    !Array.isArray(result) && "ok" in result;
}

/**
 * A guest's own `err`, as recorded: one that begins as the host writes a
 * call it ended (`trap: `, `diverged: `) gets `err: ` in front, so that a
 * recorded time-out is always the host's (replay takes it as an input,
 * docs/replay.md) and a guest cannot pass its `err` off as one.
 */
function guestError(error: string): string {
  return /^(trap|diverged): /.test(error) ? `err: ${error}` : error;
}
