// Copyright the Theater authors. MIT license.
// A worker for runtime/instance_test.ts, started with no permissions: it
// gets a compiled component by message, instantiates it with
// runtime/instance.ts, makes the calls it is asked for and answers with
// the results, the host calls the guest made, and what it may do.
import {
  type CompiledComponent,
  type HostImports,
  instantiate,
  type Result,
} from "../instance.ts";

/** What the test sends. */
export interface Request {
  component: CompiledComponent;
  calls: [fn: "init" | "handle", args: string[]][];
}

const scope = self as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
};

scope.onmessage = async ({ data }) => {
  const hostCalls: string[] = [];
  const none = (): Result<never> => ({ ok: false, error: "none here" });
  const host: HostImports = {
    runtime: {
      log: (msg) => void hostCalls.push(`log ${msg}`),
      now: () => (hostCalls.push("now"), 1234),
      random: (len) => new Uint8Array(len),
      selfId: () => "in-worker",
    },
    message: { send: none, sender: () => "external", request: none },
    timers: { after: none, every: none, cancel: () => false },
    store: { put: none, get: () => null },
    http: { fetch: none },
    supervisor: {
      spawn: none,
      stop: none,
      restart: none,
      children: () => [],
    },
  };
  const actor = await instantiate(data.component, host);
  const results = data.calls.map(([fn, args]) =>
    fn === "init" ? actor.init(args[0]) : actor.handle(args[0], args[1])
  );
  let read: string;
  try {
    Deno.readTextFileSync("/etc/hostname");
    read = "allowed";
  } catch (err) {
    read = (err as Error).name;
  }
  scope.postMessage({ results, hostCalls, read });
};
