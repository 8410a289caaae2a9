// Copyright the Theater authors. MIT license.
import { basename } from "node:path";
import { runChains, summarize } from "./events.ts";
import { replayChain, type ReplayReport, WorkerPool } from "../runtime/mod.ts";
import {
  cacheOption,
  type Command,
  err,
  out,
  parse,
  UsageError,
} from "./_common.ts";

const HELP = `Usage: theater replay [options] <chain.jsonl | run-dir>

Re-runs a recorded chain against its component: every message, host call
result and timestamp comes from the record, and every event the component
computes (host call arguments, states, replies, outgoing messages) must be
the same, byte for byte. The chain must verify first. A run directory replays
every actor's chain; each chain holds its actor's inputs in recorded order,
cross-actor messages included.

The component is found by the SHA-256 recorded in actor.start, among the
.wasm files kept in the run directory's components/ folder (every run keeps a
copy of each component it ran there), near the chain, or under --search,
which adds places; --component runs another
build instead, to check it against the record.

Options:
  --component FILE  run this component instead of the recorded one
  --search DIR      also look here for components by SHA-256 (repeatable)
  --cache-dir DIR   keep transpiled components here (default: as run)
  --no-cache        transpile afresh; use no disk cache
  --json            print the report(s) as JSON
  -h, --help        show this help

Exit status: 0 same head hash; 1 the replay diverged (the first divergent
event is shown) or the chain does not verify; 2 bad usage or no component.`;

/** `theater replay`. */
export const replayCommand: Command = {
  name: "replay",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      component: { type: "string" },
      search: { type: "string", multiple: true },
      "cache-dir": { type: "string" },
      "no-cache": { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("replay takes exactly one chain file or directory");
    }
    const target = positionals[0];
    const info = await Deno.stat(target).catch(() => null);
    if (!info) throw new UsageError(`${target}: no such file or directory`);
    const files = info.isDirectory ? await runChains(target) : [target];
    if (files.length === 0) {
      throw new UsageError(`${target}: no chains (*.jsonl) in directory`);
    }
    if (values.component && files.length > 1) {
      throw new UsageError("--component needs a single chain, not a directory");
    }
    const progress = Deno.stderr.isTerminal() && !values.json;
    const encoder = new TextEncoder();
    const reports: ReplayReport[] = [];
    // One worker for all the chains: each would otherwise start its own
    // (about 15 ms, most of a small chain's replay).
    const pool = new WorkerPool({ size: 1 });
    pool.warm();
    using _ = { [Symbol.dispose]: () => pool.close() };
    for (const file of files) {
      const report = await replayChain(file, {
        executor: pool,
        component: values.component as string | undefined,
        search: values.search as string[] | undefined,
        cacheDir: cacheOption(values),
        onProgress: progress
          ? (done, total) =>
            Deno.stderr.writeSync(
              encoder.encode(`\r${basename(file)}: ${done}/${total} events`),
            )
          : undefined,
      });
      if (progress) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
      reports.push(report);
      if (values.json) continue;
      if (report.ok) {
        out(
          `${file}: replayed ${report.events} events, same head ${report.head}`,
        );
      } else {
        const d = report.divergence!;
        const lines = [
          `${file}:${d.seq + 1}: replay diverges at seq ${d.seq}: ${d.detail}`,
        ];
        if (d.input) {
          lines.push(
            `  in the step of seq ${d.input.seq}, ${d.input.type}: ${
              summarize(d.input)
            }`,
          );
        }
        if (d.state.length) {
          lines.push("  state (recorded -> replayed):");
          lines.push(...d.state.map((l) => `    ${l}`));
        }
        if (d.reply.length) {
          lines.push("  reply (recorded -> replayed):");
          lines.push(...d.reply.map((l) => `    ${l}`));
        }
        err(lines.join("\n"));
      }
    }
    if (values.json) {
      out(JSON.stringify(info.isDirectory ? reports : reports[0], null, 2));
    }
    return reports.every((r) => r.ok) ? 0 : 1;
  },
};
