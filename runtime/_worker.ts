// Copyright the Theater authors. MIT license.
// Entry of the actor workers. They run with no Deno permissions: everything
// they need (bindings source, compiled modules) arrives by message.
import "./_harden.ts";
import {
  type CallContext,
  type Directory,
  GuestActor,
  loadBindings,
  nextState,
  type Standing,
} from "./_guest.ts";
import type { GuestFunction, GuestOutcome } from "./recorder.ts";
import { deadline, GuestTrap, TimedOut } from "./instance.ts";
import { GateClient } from "./_gate_client.ts";

/** Messages the host sends to a worker. */
export type ToWorker =
  | {
    type: "component";
    key: string;
    bindings: string;
    modules: Record<string, WebAssembly.Module>;
  }
  | {
    /**
     * Calls into one actor, run one after another. A call whose first
     * argument is null gets the state the call before it left: the new
     * state of an `ok` that passes the document gate, else the state it
     * was given (so replay can send many steps at once).
     */
    type: "call";
    id: number;
    actor: string;
    key: string;
    calls: {
      fn: GuestFunction;
      args: (string | null)[];
      context: CallContext;
    }[];
    /** Each call's time limit, instantiation included. */
    timeoutMs: number;
    /**
     * Whether the host waits to hear that the calls started (it does not
     * know the instance to be ready); the worker says so anyway when it
     * must instantiate first.
     */
    announce: boolean;
  }
  | { type: "drop"; actor: string }
  | {
    /** A port to a gate (gate.ts), for the calls whose context names it. */
    type: "gate";
    key: string;
    port: MessagePort;
  }
  | {
    /** Changes to the directory of actors; `reset` replaces it whole. */
    type: "directory";
    reset: boolean;
    changes: [string, Standing][];
  };

// The worker global, typed without pulling the worker lib into the project.
const scope = self as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
};

const components = new Map<
  string,
  Promise<{
    instantiate: Awaited<ReturnType<typeof loadBindings>>;
    modules: Record<string, WebAssembly.Module>;
    bindings: string;
  }>
>();
const actors = new Map<string, GuestActor>();
const directory: Directory = new Map();
const gates = new Map<string, GateClient>();

function trapped(error: string): GuestOutcome {
  return { calls: [], status: "trap", error };
}

/** Answers calls that failed before the guest ran. */
function failed(id: number, count: number, error: string): void {
  scope.postMessage({
    type: "result",
    id,
    outcomes: Array.from({ length: count }, () => trapped(error)),
  });
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case "component":
      {
        const loading = loadBindings(msg.bindings).then((instantiate) => ({
          instantiate,
          modules: msg.modules,
          bindings: msg.bindings,
        }));
        // A failure is reported to the call that needs the component, not
        // as an unhandled rejection that would take the worker down.
        loading.catch(() => {});
        components.set(msg.key, loading);
      }
      return;
    case "drop":
      actors.delete(msg.actor);
      return;
    case "gate":
      gates.set(msg.key, new GateClient(msg.port));
      return;
    case "directory":
      if (msg.reset) directory.clear();
      for (const [id, standing] of msg.changes) {
        if (standing === 0) directory.delete(id);
        else directory.set(id, standing);
      }
      return;
    case "call": {
      let actor = actors.get(msg.actor);
      let c;
      try {
        c = await components.get(msg.key);
        if (!c) throw new Error(`component ${msg.key} was not sent`);
      } catch (err) {
        scope.postMessage({ type: "started", id: msg.id });
        failed(
          msg.id,
          msg.calls.length,
          `instantiation failed: ${(err as Error).message}`,
        );
        return;
      }
      // The time limit starts now, before instantiation: a start function
      // that spins is cut off like a handler that spins.
      if (msg.announce || !actor) {
        scope.postMessage({ type: "started", id: msg.id });
      }
      const outcomes: GuestOutcome[] = [];
      let state: string | null = null;
      for (const call of msg.calls) {
        deadline.at = performance.now() + msg.timeoutMs;
        deadline.ms = msg.timeoutMs;
        try {
          if (!actor) {
            actor = new GuestActor(msg.actor, {
              instantiate: c.instantiate,
              component: c,
              directory,
              gates,
            });
            actors.set(msg.actor, actor);
          }
        } catch (err) {
          deadline.at = Infinity;
          const cause = err instanceof GuestTrap ? err.cause : err;
          outcomes.push(trapped(
            cause instanceof TimedOut
              ? cause.message
              : `instantiation failed: ${(err as Error).message}`,
          ));
          continue;
        }
        const given = call.args[0] ?? state ?? "null";
        const args = [given, ...call.args.slice(1)] as string[];
        const outcome = actor.call(call.fn, args, call.context);
        deadline.at = Infinity;
        if (outcome.status === "trap") {
          // After a trap an instance's memory may be anything: start afresh.
          actors.delete(msg.actor);
          actor = undefined;
        }
        state = nextState(call.fn, given, outcome);
        outcomes.push(outcome);
        if (outcome.stopped) break;
      }
      scope.postMessage({ type: "result", id: msg.id, outcomes });
    }
  }
}

// Messages are handled strictly one after another, in order.
let queue = Promise.resolve();
scope.onmessage = (event) => {
  queue = queue.then(() => handle(event.data));
};
