import {
  type ChildEvent,
  defineActor,
  type Handled,
  type Json,
} from "../../sdk/mod.ts";

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
    host.log(`${event.child} ${event.event}`);
    return { ...state, events: [...state.events, event].slice(-20) };
  },
});
