// Copyright the Theater authors. MIT license.
/**
 * `theater` of this checkout as a child process, for tests and benches:
 * `deno run --quiet <flags> main.ts <args>`.
 *
 * @module
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * The permissions `theater` runs with. Env access is needed only because
 * jco's bundled WASI shim reads the whole environment when it is first
 * loaded (on a transpile cache miss); actor workers never get it.
 */
export const THEATER_FLAGS = ["--allow-read", "--allow-write", "--allow-env"];

/**
 * The command that runs `theater <args>` with the permission `flags`
 * (default: {@linkcode THEATER_FLAGS}) and the other options as given.
 */
export function theaterCommand(
  args: string[],
  options: Omit<Deno.CommandOptions, "args"> & { flags?: string[] } = {},
): Deno.Command {
  const { flags = THEATER_FLAGS, ...rest } = options;
  return new Deno.Command(Deno.execPath(), {
    ...rest,
    args: ["run", "--quiet", ...flags, MAIN, ...args],
  });
}
