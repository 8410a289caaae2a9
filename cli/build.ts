// Copyright the Theater authors. MIT license.
import { join } from "node:path";
import { buildActor, BuildError } from "../sdk/build.ts";
import { type Command, err, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater build [options] [dir]

Builds the TypeScript actor in dir (default .): type-checks actor.ts, bundles
it with theater_sdk.ts, and turns it into a component with componentize-qjs
(QuickJS; no WASI imports), written where manifest.json's "component" says.
Prints the component's size and SHA-256. Unchanged sources are not rebuilt.

Needs the deno CLI (for check and bundle) and the permissions
--allow-read --allow-write --allow-run --allow-ffi --allow-env, which the
installed theater command has (deno task install).

Options:
  --force     rebuild even when nothing changed
  -h, --help  show this help

Exit status: 0 built (or up to date); 1 a type, syntax or build error
(printed as file:line:col: message, with TypeScript's explanation); 2 bad
usage, no actor directory, or a missing permission.`;

/** `theater build`. */
export const buildCommand: Command = {
  name: "build",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      force: { type: "boolean" },
    });
    if (positionals.length > 1) {
      throw new UsageError("build takes at most one directory");
    }
    const dir = positionals[0] ?? ".";
    const info = await Deno.stat(dir).catch(() => null);
    if (!info?.isDirectory) {
      throw new UsageError(
        `${dir}: no such directory (build takes an actor directory, as made by 'theater new NAME')`,
      );
    }
    if (!(await Deno.stat(join(dir, "manifest.json")).catch(() => null))) {
      throw new UsageError(
        `${dir}: no manifest.json here (is it an actor directory? 'theater new NAME' makes one)`,
      );
    }
    // Building runs \`deno check\` and \`deno bundle\` and loads the native
    // componentize-qjs addon: say which permission is missing before
    // anything fails halfway with a message about something else.
    const missing = (["run", "ffi"] as const).filter((name) =>
      Deno.permissions.querySync({ name }).state !== "granted"
    );
    if (missing.length > 0) {
      throw new UsageError(
        `build needs ${
          missing.map((m) => `--allow-${m}`).join(" and ")
        } (the installed theater command has them; with deno run, add them)`,
      );
    }
    try {
      const r = await buildActor(dir, { force: values.force === true });
      out(
        `${r.path}: ${
          r.cached ? "up to date" : "built"
        }, ${r.size} bytes, sha256 ${r.sha256}${
          r.cached ? "" : ` (${r.world}, ${(r.ms / 1000).toFixed(1)} s)`
        }`,
      );
      return 0;
    } catch (e) {
      if (!(e instanceof BuildError)) throw e;
      err(e.message);
      return 1;
    }
  },
};
