// Copyright the Theater authors. MIT license.
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bad command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A CLI command: its help text and what it does with its arguments. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs` in strict mode, with its errors turned into UsageError. */
export function parse<T extends Options>(
  args: string[],
  options: T,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses a non-negative integer flag value, naming the flag when it is not. */
export function intFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (
    typeof value !== "string" || !/^\d+$/.test(value) ||
    !Number.isSafeInteger(n)
  ) {
    throw new UsageError(
      `--${name} must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

const useColor = Deno.stdout.isTerminal() && !Deno.noColor;

/** Wraps text in an ANSI colour when stdout is a terminal and NO_COLOR is unset. */
export function color(code: number, text: string): string {
  return useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** Writes one line to stdout. */
export function out(line: string): void {
  console.log(line);
}

/** Writes one line to stderr. */
export function err(line: string): void {
  console.error(line);
}

/**
 * The transpile cache the `--cache-dir` / `--no-cache` flags ask for:
 * `false` for none, a directory, or undefined for the default.
 */
export function cacheOption(
  values: { [key: string]: unknown },
): string | false | undefined {
  if (values["no-cache"] === true) {
    if (values["cache-dir"] !== undefined) {
      throw new UsageError("--no-cache and --cache-dir exclude each other");
    }
    return false;
  }
  return values["cache-dir"] as string | undefined;
}
