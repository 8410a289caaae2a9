// Copyright the Theater authors. MIT license.
import { buildActor, BuildError } from "../sdk/build.ts";
import { type Command, err, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater build [options] [dir]

Builds the TypeScript actor in dir (default .): type-checks actor.ts, bundles
it with theater_sdk.ts, and turns it into a component with componentize-qjs
(QuickJS; no WASI imports), written where manifest.json's "component" says.
Prints the component's size and SHA-256. Unchanged sources are not rebuilt.

Needs the deno CLI (for check and bundle) and the permissions
--allow-read --allow-write --allow-run --allow-ffi --allow-env.

Options:
  --force     rebuild even when nothing changed
  -h, --help  show this help

Exit status: 0 built (or up to date); 1 a type, syntax or build error
(printed as file:line:col: message); 2 bad usage.`;

/** `theater build`. */
export const buildCommand: Command = {
  name: "build",
  summary: "type-check and build a TypeScript actor into a component",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      force: { type: "boolean" },
    });
    if (positionals.length > 1) {
      throw new UsageError("build takes at most one directory");
    }
    const dir = positionals[0] ?? ".";
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
