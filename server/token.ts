// Copyright the Theater authors. MIT license.
/**
 * The bearer token of `theater serve`: made on first start into a file
 * only the user can read, and read from there by the CLI clients.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { toHex } from "../chain/mod.ts";

/**
 * Where the token lives: `$THEATER_TOKEN_FILE`, else
 * `$XDG_CONFIG_HOME/theater/token`, else `~/.config/theater/token`.
 */
export function defaultTokenFile(): string {
  const given = Deno.env.get("THEATER_TOKEN_FILE");
  if (given) return given;
  const config = Deno.env.get("XDG_CONFIG_HOME") ??
    join(Deno.env.get("HOME") ?? ".", ".config");
  return join(config, "theater", "token");
}

/**
 * The token in `path`, made (32 random bytes, hex, mode 0600, in a folder
 * of mode 0700) when there is none. `created` says whether it is new.
 */
export function ensureToken(path: string): { token: string; created: boolean } {
  try {
    return { token: readToken(path), created: false };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = toHex(crypto.getRandomValues(new Uint8Array(32)));
  Deno.writeTextFileSync(path, token + "\n", { mode: 0o600, createNew: true });
  return { token, created: true };
}

/**
 * The token in `path`.
 *
 * @throws {Deno.errors.NotFound} when there is none.
 */
export function readToken(path: string): string {
  const token = Deno.readTextFileSync(path).trim();
  if (!/^[0-9a-f]{64}$/.test(token)) {
    throw new TypeError(`${path}: not a theater token`);
  }
  return token;
}

/** Whether two tokens are equal, in time that does not depend on where they differ. */
export function sameToken(given: string, token: string): boolean {
  if (given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) {
    diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  }
  return diff === 0;
}
