// Copyright the Theater authors. MIT license.
/**
 * A `theater serve` process for tests and benches, started from this
 * checkout with the permissions the installed launcher gives `serve`.
 *
 * @module
 */
import { join } from "node:path";

import { THEATER_FLAGS, theaterCommand } from "./theater_command.ts";

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
) {
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
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let url = "";
  while (!url) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`serve ended: ${text}`);
    text += value;
    url = /listening on (http:\/\/\S+)/.exec(text)?.[1] ?? "";
  }
  const stderr = new Response(child.stderr).text();
  const rest = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return text;
      text += value;
    }
  })();
  return { child, url, stderr, stdout: rest };
}
