// Copyright the Theater authors. MIT license.
/**
 * The `theater` command line.
 *
 * @module
 */
import {
  ChainFormatError,
  ChainReadError,
  ChainWriteError,
  CheckpointError,
  NoSuchEvent,
  ProofError,
  StateError,
} from "./chain/mod.ts";
import {
  type Command,
  describeOsError,
  err,
  out,
  UsageError,
} from "./cli/_common.ts";
import { buildCommand } from "./cli/build.ts";
import { checkpointCommand } from "./cli/checkpoint.ts";
import { eventsCommand } from "./cli/events.ts";
import { inspectCommand } from "./cli/inspect.ts";
import { keygenCommand } from "./cli/keygen.ts";
import { newCommand } from "./cli/new.ts";
import { proveCommand } from "./cli/prove.ts";
import { replayCommand } from "./cli/replay.ts";
import { runCommand } from "./cli/run.ts";
import { serveCommand } from "./cli/serve.ts";
import { pullCommand } from "./cli/pull.ts";
import { witnessCommand } from "./cli/witness.ts";
import { StreamError } from "./cluster/mod.ts";
import {
  ClientError,
  logsCommand,
  psCommand,
  sendCommand,
} from "./cli/client.ts";
import { stateCommand } from "./cli/state.ts";
import { verifyCommand } from "./cli/verify.ts";
import { ComponentError, ReplayError } from "./runtime/mod.ts";
import { ManifestError } from "./supervisor/mod.ts";

/** The version printed by `theater --version`. */
export const VERSION = "0.1.0";

const COMMANDS: Command[] = [
  runCommand,
  verifyCommand,
  replayCommand,
  eventsCommand,
  stateCommand,
  inspectCommand,
  newCommand,
  buildCommand,
  keygenCommand,
  checkpointCommand,
  proveCommand,
  serveCommand,
  psCommand,
  sendCommand,
  logsCommand,
  pullCommand,
  witnessCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `theater ${VERSION}: run WebAssembly actors with a verifiable record

Usage: theater <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run 'theater <command> --help' for a command's options.`;
}

/**
 * Runs the CLI on `args` and returns the exit status. Errors a user can
 * cause are printed as one line; none end in a stack trace.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (
    name === undefined || name === "--help" || name === "-h" || name === "help"
  ) {
    const topic = COMMANDS.find((c) => c.name === rest[0]);
    out(topic ? topic.help : help());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    out(`theater ${VERSION}`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`theater: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  // Every command answers --help (or -h), whatever else is on the line.
  if (rest.includes("--help") || rest.includes("-h")) {
    out(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(
        `theater ${name}: ${e.message}\nRun 'theater ${name} --help' for usage.`,
      );
      return 2;
    }
    if (
      e instanceof ChainFormatError || e instanceof ProofError ||
      e instanceof CheckpointError
    ) {
      err(e.message);
      return 1;
    }
    if (
      e instanceof NoSuchEvent || e instanceof StateError ||
      e instanceof ClientError
    ) {
      err(`theater ${name}: ${e.message}`);
      return 1;
    }
    if (e instanceof ReplayError) {
      err(`theater ${name}: ${e.message}`);
      return e.reason === "not-intact" ? 1 : 2;
    }
    if (
      e instanceof ChainReadError || e instanceof ChainWriteError ||
      e instanceof ManifestError || e instanceof ComponentError ||
      e instanceof StreamError
    ) {
      err(`theater ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof Deno.errors.BrokenPipe) return 0;
    const os = describeOsError(e);
    if (os !== null) {
      err(`theater ${name}: ${os}`);
      return 2;
    }
    err(`theater ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
