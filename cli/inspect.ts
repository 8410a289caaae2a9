// Copyright the Theater authors. MIT license.
import { readEvents, verifyChain } from "../chain/mod.ts";
import { loadComponent } from "../runtime/mod.ts";
import { type Command, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater inspect [--json] <component.wasm | chain.jsonl>

For a component: its SHA-256, size, imports and exports, and whether
Theater would run it. For a chain: its actor, whether it verifies, its head,
how many events of each type it holds, the components it ran and its time
span.

Options:
  --json      print the summary as JSON
  -h, --help  show this help

Exit status: 0 shown; 1 the chain has a line that is not a valid event;
2 bad usage or an unreadable file.`;

async function inspectChain(path: string) {
  const report = await verifyChain(path);
  const types: Record<string, number> = {};
  const components = new Set<string>();
  let first: number | null = null;
  let last: number | null = null;
  let read = 0;
  try {
    for await (const e of readEvents(path)) {
      if (read++ >= report.events) break;
      types[e.type] = (types[e.type] ?? 0) + 1;
      if (e.type === "actor.start") components.add(String(e.data.component));
      first ??= e.ts;
      last = e.ts;
    }
  } catch {
    // Events past the first bad line are not summarised.
  }
  return {
    chain: path,
    actor: report.actor,
    intact: report.ok,
    error: report.error?.message ?? null,
    events: report.events,
    head: report.head,
    types,
    components: [...components],
    from: first === null ? null : new Date(first).toISOString(),
    to: last === null ? null : new Date(last).toISOString(),
  };
}

/** `theater inspect`. */
export const inspectCommand: Command = {
  name: "inspect",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new UsageError("inspect takes one component or chain");
    }
    const path = positionals[0];
    const summary = path.endsWith(".wasm")
      ? await loadComponent(path).then((c) => ({
        component: c.path,
        sha256: c.sha256,
        size: c.size,
        imports: c.imports,
        exports: c.exports,
        supervised: c.supervised,
        runnable: true,
      }))
      : await inspectChain(path);
    if (values.json) {
      out(JSON.stringify(summary, null, 2));
    } else {
      for (const [key, value] of Object.entries(summary)) {
        out(
          `${key.padEnd(11)} ${
            typeof value === "object" && value !== null
              ? JSON.stringify(value)
              : value
          }`,
        );
      }
    }
    return "intact" in summary && !summary.intact ? 1 : 0;
  },
};
