// Copyright the Theater authors. MIT license.
/**
 * The commands of `theater`: each one's name and one-line summary, and
 * how to load it. A command's module (and through it the runtime, jco,
 * hono, NATS…) is imported only when that command is run or asked for its
 * help, so `theater --help` and a short command start without them.
 *
 * The imports are string literals, so `deno compile` bundles every
 * command, and loading one needs no permission (as static imports). The
 * price: `deno run` still prepares the graph of every module they name
 * at start, without running them (about 45 ms here; bench/README.md,
 * "Starting theater"). A computed specifier would avoid that, but needs
 * `--allow-read` of the program's own files.
 *
 * @module
 */
import type { Command } from "./_common.ts";

/** A command as the top-level help lists it, and its module on demand. */
export interface CommandEntry {
  /** What the user types: `theater <name>`. */
  name: string;
  /** The line `theater --help` shows for it. */
  summary: string;
  /** Imports the command's module and returns the command. */
  load(): Promise<Command>;
}

/** Every command, in the order `theater --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "run",
    summary: "start an actor from a manifest and talk to it with JSON messages",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "verify",
    summary: "check that a chain (or a run directory of chains) is intact",
    load: async () => (await import("./verify.ts")).verifyCommand,
  },
  {
    name: "replay",
    summary: "re-run a chain against its component and compare every event",
    load: async () => (await import("./replay.ts")).replayCommand,
  },
  {
    name: "events",
    summary: "show a chain or a run as a readable timeline (or JSON lines)",
    load: async () => (await import("./events.ts")).eventsCommand,
  },
  {
    name: "state",
    summary: "show an actor's recorded state at any event, or diff two points",
    load: async () => (await import("./state.ts")).stateCommand,
  },
  {
    name: "inspect",
    summary: "summarise a component (imports, exports, hash) or a chain",
    load: async () => (await import("./inspect.ts")).inspectCommand,
  },
  {
    name: "new",
    summary: "create a TypeScript actor project from a template",
    load: async () => (await import("./new.ts")).newCommand,
  },
  {
    name: "build",
    summary: "type-check and build a TypeScript actor into a component",
    load: async () => (await import("./build.ts")).buildCommand,
  },
  {
    name: "keygen",
    summary: "create an Ed25519 key pair for signing checkpoints",
    load: async () => (await import("./keygen.ts")).keygenCommand,
  },
  {
    name: "checkpoint",
    summary: "sign a checkpoint (tree size and Merkle root) of a chain",
    load: async () => (await import("./checkpoint.ts")).checkpointCommand,
  },
  {
    name: "prove",
    summary: "make an inclusion or consistency proof over a chain",
    load: async () => (await import("./prove.ts")).proveCommand,
  },
  {
    name: "serve",
    summary: "run a long-lived host with a management API and the inspector",
    load: async () => (await import("./serve.ts")).serveCommand,
  },
  {
    name: "ps",
    summary: "list a server's runs and actors",
    load: async () => (await import("./client.ts")).psCommand,
  },
  {
    name: "send",
    summary: "send a message to an actor of a server and print its reply",
    load: async () => (await import("./client.ts")).sendCommand,
  },
  {
    name: "logs",
    summary: "show (and follow) the events of a server's run",
    load: async () => (await import("./client.ts")).logsCommand,
  },
  {
    name: "pull",
    summary: "copy a run's chains and components from NATS JetStream",
    load: async () => (await import("./pull.ts")).pullCommand,
  },
  {
    name: "witness",
    summary: "verify and replay every run in NATS JetStream, co-sign or alert",
    load: async () => (await import("./witness.ts")).witnessCommand,
  },
];
