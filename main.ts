// Copyright the Theater authors. MIT license.
/**
 * The `theater` command line.
 *
 * @module
 */
import { COMMANDS } from "./cli/_commands.ts";

// Not cli/_common.ts's out and err (console.log and console.error there
// too): that module loads the chain package, which `theater --help` and
// an unknown command do not need.
const out = (line: string) => console.log(line);
const err = (line: string) => console.error(line);

/** The version printed by `theater --version`. */
export const VERSION = "0.1.0";

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
 * cause are printed as one line; none end in a stack trace. A command's
 * module is loaded only when that command is run or its help is asked for.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (
    name === undefined || name === "--help" || name === "-h" || name === "help"
  ) {
    const topic = COMMANDS.find((c) => c.name === rest[0]);
    out(topic ? (await topic.load()).help : help());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    out(`theater ${VERSION}`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    err(`theater: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  const command = await entry.load();
  // Every command answers --help (or -h), whatever else is on the line.
  if (rest.includes("--help") || rest.includes("-h")) {
    out(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const { reportError } = await import("./cli/_errors.ts");
    return await reportError(name, e);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
