// Copyright the Theater authors. MIT license.
/**
 * `deno task install`: writes a `theater` command into a bin directory
 * (default `~/.local/bin`; `--dir DIR` or `$THEATER_BIN_DIR` to choose).
 * It is a small shell launcher that runs this checkout's `main.ts` with the
 * `deno` that ran the install, with only the permissions each command
 * needs: `build` adds `--allow-run` (it runs `deno check` and `deno bundle`)
 * and `--allow-ffi` (the componentize-qjs addon); every other command gets
 * read, write and env only, as the compiled binary does.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HELP = `Usage: deno task install [--dir DIR]

Installs the theater command into DIR (default: $THEATER_BIN_DIR, else
~/.local/bin), running this checkout with this deno. Run it again after
moving the checkout or deno.`;

/** Quotes a string for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** The launcher script for a checkout at `root`, run by `deno`. */
export function launcher(root: string, deno: string): string {
  const base = [
    "run",
    "--quiet",
    "--config",
    join(root, "deno.json"),
    "--allow-read",
    "--allow-write",
    "--allow-env",
  ].map(shellQuote).join(" ");
  const main = shellQuote(join(root, "main.ts"));
  return `#!/bin/sh
# theater: written by 'deno task install' in ${root}
# build runs deno check/bundle (--allow-run) and loads componentize-qjs
# (--allow-ffi); no other command gets those permissions. run may reach
# the origins its manifests grant (--allow-net; it gives the permission up
# when none grants HTTP, and only its gate workers hold the granted hosts);
# serve listens, and ps, send and logs talk to it.
DENO=${shellQuote(deno)}
case "$1" in
  build) exec "$DENO" ${base} --allow-run --allow-ffi ${main} "$@" ;;
  run|serve|ps|send|logs) exec "$DENO" ${base} --allow-net ${main} "$@" ;;
  *) exec "$DENO" ${base} ${main} "$@" ;;
esac
`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      dir: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const home = Deno.env.get("HOME");
  const dir = values.dir ?? Deno.env.get("THEATER_BIN_DIR") ??
    (home ? join(home, ".local", "bin") : null);
  if (!dir) {
    console.error("install: no --dir, THEATER_BIN_DIR or HOME to install into");
    Deno.exit(2);
  }
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const target = join(resolve(dir), "theater");
  try {
    await Deno.mkdir(dirname(target), { recursive: true });
    // Written aside and renamed: an install cut short leaves the old
    // launcher (or none), never half of one.
    const temp = `${target}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temp, launcher(root, Deno.execPath()), {
      mode: 0o755,
    });
    await Deno.chmod(temp, 0o755);
    await Deno.rename(temp, target);
  } catch (err) {
    console.error(`install: cannot write ${target}: ${(err as Error).message}`);
    Deno.exit(2);
  }
  console.log(`installed ${target} (runs ${join(root, "main.ts")})`);
  const path = (Deno.env.get("PATH") ?? "").split(":");
  if (!path.includes(dirname(target))) {
    console.log(
      `${dirname(target)} is not on your PATH; add it, e.g.\n  export PATH="${
        dirname(target)
      }:$PATH"`,
    );
  }
}
