// Copyright the Theater authors. MIT license.
/**
 * The project templates of `theater new`: each is an `actor.ts` written
 * against the SDK. The rest of a project (manifest, test, README) is the
 * same for every template.
 *
 * @module
 */

/** The template names `theater new --template` accepts. */
export const TEMPLATES = [
  "basic",
  "kv",
  "supervisor",
  "clock",
  "fetcher",
] as const;

/** A template name. */
export type Template = typeof TEMPLATES[number];

const BASIC = `import { ActorError, defineActor } from "./theater_sdk.ts";

/** The actor's state, kept by the host between messages. */
interface State {
  count: number;
  updated: number;
}

/** The messages it understands. */
type Message = "inc" | "get" | "info" | { op: "add"; n: number };

/**
 * What it answers: one type per shape, joined in a union, so each reply is
 * checked against the shape it claims (\`kind\` tells a client which).
 */
type Reply =
  | { kind: "count"; count: number }
  | { kind: "info"; count: number; updated: number };

export default defineActor<State, Message, Reply>({
  init(params) {
    const start = typeof params === "object" && params !== null &&
        !Array.isArray(params) && typeof params.start === "number"
      ? params.start
      : 0;
    return { count: start, updated: 0 };
  },
  handle(state, msg, host) {
    if (msg === "get") {
      return { state, reply: { kind: "count", count: state.count } };
    }
    if (msg === "info") {
      return {
        state,
        reply: { kind: "info", count: state.count, updated: state.updated },
      };
    }
    let count = state.count;
    if (msg === "inc") count += 1;
    else if (typeof msg === "object" && msg.op === "add") count += msg.n;
    else throw new ActorError(\`unknown message \${JSON.stringify(msg)}\`);
    host.log(\`count is now \${count}\`);
    return {
      state: { count, updated: host.now() },
      reply: { kind: "count", count },
    };
  },
});
`;

const KV = `import {
  ActorError,
  defineActor,
  type Handled,
  type Json,
} from "./theater_sdk.ts";

interface State {
  entries: Record<string, Json>;
}

type Message =
  | { op: "put"; key: string; value: Json }
  | { op: "get"; key: string }
  | { op: "delete"; key: string }
  | { op: "keys" };

export default defineActor<State, Message, Json>({
  init: () => ({ entries: {} }),
  handle(state, msg, host): Handled<State, Json> {
    const entries = { ...state.entries };
    switch (msg.op) {
      case "put":
        entries[msg.key] = msg.value;
        host.log(\`put \${msg.key}\`);
        return { state: { entries }, reply: { ok: true } };
      case "get":
        return { state, reply: { value: entries[msg.key] ?? null } };
      case "delete":
        delete entries[msg.key];
        host.log(\`delete \${msg.key}\`);
        return { state: { entries }, reply: { ok: true } };
      case "keys":
        return { state, reply: { keys: Object.keys(entries).sort() } };
      default:
        throw new ActorError(\`unknown op in \${JSON.stringify(msg)}\`);
    }
  },
});
`;

const SUPERVISOR = `import {
  type ChildEvent,
  defineActor,
  type Handled,
  type Json,
} from "./theater_sdk.ts";

// One component, two roles: the manifest starts it as the supervisor, and
// its children (worker.json) run the same component as workers.
interface State {
  role: "supervisor" | "worker";
  jobs: number;
  events: ChildEvent[];
}

type Message =
  | { op: "work"; n: number }
  | { op: "spawn" }
  | { op: "status" }
  | { op: "crash" };

export default defineActor<State, Message, Json>({
  init(params) {
    const role = typeof params === "object" && params !== null &&
        !Array.isArray(params) && params.role === "worker"
      ? "worker"
      : "supervisor";
    return { role, jobs: 0, events: [] };
  },
  handle(state, msg, host): Handled<State, Json> {
    switch (msg.op) {
      case "work":
        return {
          state: { ...state, jobs: state.jobs + 1 },
          reply: { result: msg.n * msg.n, jobs: state.jobs + 1 },
        };
      case "spawn":
        return {
          state,
          reply: { child: host.spawn("./worker.json", { role: "worker" }) },
        };
      case "status":
        return {
          state,
          reply: {
            role: state.role,
            jobs: state.jobs,
            events: state.events.map((e) => ({ ...e })),
            children: host.children(),
          },
        };
      case "crash":
        // A state that is not JSON is a crash (not an error reply): the
        // supervisor hears "failed" and restarts this actor from its last
        // committed state.
        return { state: undefined as unknown as State };
    }
  },
  onChildEvent(state, event, host) {
    host.log(\`\${event.child} \${event.event}\`);
    return { ...state, events: [...state.events, event].slice(-20) };
  },
});
`;

const CLOCK = `import { defineActor } from "./theater_sdk.ts";

/**
 * A clock that ticks on a timer and asks itself the time with a request:
 * the WIT 0.2.0 timers, request/response and sender.
 */
interface State {
  ticks: number;
  timer: string | null;
  /** The last answer to a request, with who gave it. */
  answer: { from: string; reply: unknown } | null;
}

type Message =
  | "start"
  | "stop"
  | "status"
  | "what-time"
  | "tick"
  | { response: { id: string; from?: string; reply?: unknown; error?: string } };

export default defineActor<State, Message, unknown>({
  init: () => ({ ticks: 0, timer: null, answer: null }),
  handle(state, msg, host) {
    if (msg === "start") {
      // Ticks every 100 ms until "stop"; a request to itself: its answer
      // comes back later as a { response } message.
      const timer = state.timer ?? host.every(100, "tick");
      host.request(host.selfId(), "what-time", 1000);
      return { state: { ...state, timer }, reply: "started" };
    }
    if (msg === "stop") {
      if (state.timer) host.cancel(state.timer);
      return { state: { ...state, timer: null }, reply: "stopped" };
    }
    if (msg === "tick") return { state: { ...state, ticks: state.ticks + 1 } };
    if (msg === "what-time") return { state, reply: host.now() };
    if (msg === "status") return { state, reply: state };
    if (typeof msg === "object" && "response" in msg) {
      const r = msg.response;
      return {
        state: {
          ...state,
          answer: { from: host.sender(), reply: r.reply ?? r.error },
        },
      };
    }
    return { state };
  },
});
`;

const FETCHER = `import { ActorError, defineActor } from "./theater_sdk.ts";

/**
 * Polls an HTTP origin the manifest grants (grants.http) on a timer, keeps
 * the last body in the run's blob store and its hash in the state, and
 * answers "status" — also to its own request after each poll. WIT 0.2.0:
 * timers, http, store, request/response.
 */
interface State {
  url: string;
  timer: string | null;
  polls: number;
  last: { status: number; body: string } | { error: string } | null;
  /** The answer to its own last "status" request. */
  checked: unknown;
}

type Message =
  | "start"
  | "stop"
  | "poll"
  | "status"
  | "body"
  | { response: { id: string; reply?: unknown; error?: string } };

export default defineActor<State, Message, unknown>({
  init: (params) => ({
    url: String((params as { url?: string } | null)?.url ?? ""),
    timer: null,
    polls: 0,
    last: null,
    checked: null,
  }),
  handle(state, msg, host) {
    if (msg === "start") {
      const timer = state.timer ?? host.every(1000, "poll");
      return { state: { ...state, timer }, reply: "started" };
    }
    if (msg === "stop") {
      if (state.timer) host.cancel(state.timer);
      return { state: { ...state, timer: null }, reply: "stopped" };
    }
    if (msg === "poll") {
      let last: State["last"];
      try {
        const r = host.fetch(state.url);
        last = { status: r.status, body: host.put(r.body) };
      } catch (e) {
        if (!(e instanceof ActorError)) throw e;
        last = { error: e.message };
      }
      host.request(host.selfId(), "status", 1000);
      return { state: { ...state, polls: state.polls + 1, last } };
    }
    if (msg === "status") {
      return { state, reply: { polls: state.polls, last: state.last } };
    }
    if (msg === "body") {
      const last = state.last;
      return {
        state,
        reply: last && "body" in last ? host.getText(last.body) : null,
      };
    }
    if (typeof msg === "object" && "response" in msg) {
      return {
        state: {
          ...state,
          checked: msg.response.reply ?? msg.response.error ?? null,
        },
      };
    }
    return { state };
  },
});
`;

/** The `actor.ts` of a template. */
export function templateSource(template: Template): string {
  return {
    basic: BASIC,
    kv: KV,
    supervisor: SUPERVISOR,
    clock: CLOCK,
    fetcher: FETCHER,
  }[template];
}
