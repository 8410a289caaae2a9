// Copyright the Theater authors. MIT license.
// Entry of the actor workers. They run with no Deno permissions: everything
// they need (bindings source, compiled modules) arrives by message.
import "./_harden.ts";
import {
  type CallContext,
  type Directory,
  GuestActor,
  loadBindings,
  type Standing,
} from "./_guest.ts";
import type { GuestFunction } from "./recorder.ts";
import { deadline, GuestTrap, TimedOut } from "./instance.ts";

/** Messages the host sends to a worker. */
export type ToWorker =
  | {
    type: "component";
    key: string;
    bindings: string;
    modules: Record<string, WebAssembly.Module>;
  }
  | {
    type: "call";
    id: number;
    actor: string;
    key: string;
    fn: GuestFunction;
    args: string[];
    context: CallContext;
    /** The call's time limit, instantiation included. */
    timeoutMs: number;
  }
  | { type: "drop"; actor: string }
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

/** Answers a call that failed before the guest ran. */
function failed(id: number, error: string): void {
  scope.postMessage({
    type: "result",
    id,
    outcome: { calls: [], status: "trap", error },
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
        failed(msg.id, `instantiation failed: ${(err as Error).message}`);
        return;
      }
      // The time limit starts now, before instantiation: a start function
      // that spins is cut off like a handler that spins.
      scope.postMessage({ type: "started", id: msg.id });
      deadline.at = performance.now() + msg.timeoutMs;
      deadline.ms = msg.timeoutMs;
      try {
        if (!actor) {
          actor = new GuestActor(msg.actor, c.instantiate, c, directory);
          actors.set(msg.actor, actor);
        }
      } catch (err) {
        deadline.at = Infinity;
        const cause = err instanceof GuestTrap ? err.cause : err;
        failed(
          msg.id,
          cause instanceof TimedOut
            ? cause.message
            : `instantiation failed: ${(err as Error).message}`,
        );
        return;
      }
      const outcome = actor.call(msg.fn, msg.args, msg.context);
      deadline.at = Infinity;
      if (outcome.status === "trap") {
        // After a trap an instance's memory may be anything: start afresh.
        actors.delete(msg.actor);
      }
      scope.postMessage({ type: "result", id: msg.id, outcome });
    }
  }
}

// Messages are handled strictly one after another, in order.
let queue = Promise.resolve();
scope.onmessage = (event) => {
  queue = queue.then(() => handle(event.data));
};
