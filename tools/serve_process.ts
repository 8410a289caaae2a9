// Copyright the Theater authors. MIT license.
/**
 * A `theater serve` process for tests and benches, started from this
 * checkout with the permissions the installed launcher gives `serve`.
 *
 * @module
 */
import { join } from "node:path";

import { THEATER_FLAGS, theaterCommand } from "./theater_command.ts";
import { type Lines, watchLines } from "./wait.ts";

/** A `theater serve` process started by {@linkcode serveProcess}. */
export interface ServeProcess {
  /** The process. */
  child: Deno.ChildProcess;
  /** The URL it listens on. */
  url: string;
  /** Its stdout lines as they come, to wait for one. */
  out: Lines;
  /** Its stderr lines as they come, to wait for one. */
  err: Lines;
  /** All it printed on stdout, once it has exited. */
  stdout: Promise<string>;
  /** All it printed on stderr, once it has exited. */
  stderr: Promise<string>;
}

/**
 * Starts `theater serve` (runs under `<dir>/runs`, any free port) and waits
 * for the line with its URL.
 *
 * @param options.args more arguments for `serve`.
 * @param options.cache use the default transpile cache (default: none,
 * `--no-cache`).
 */
export async function serveProcess(
  dir: string,
  tokenFile: string,
  options: { args?: string[]; cache?: boolean } = {},
): Promise<ServeProcess> {
  const child = theaterCommand([
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--dir",
    join(dir, "runs"),
    "--token-file",
    tokenFile,
    ...(options.cache ? [] : ["--no-cache"]),
    ...(options.args ?? []),
  ], {
    flags: [...THEATER_FLAGS, "--allow-net"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const out = watchLines(child.stdout);
  const err = watchLines(child.stderr);
  const all = (lines: Lines) => lines.closed.then(() => lines.text);
  let line: string;
  try {
    line = await out.until(
      (l) => /listening on http:\/\/\S+/.test(l),
      "serve's line with its URL",
    );
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited.
    }
    await child.status;
    throw new Error(`${(e as Error).message}\nstderr: ${await all(err)}`);
  }
  const url = /listening on (http:\/\/\S+)/.exec(line)![1];
  return { child, url, out, err, stdout: all(out), stderr: all(err) };
}
