// Copyright the Theater authors. MIT license.
import { resolve } from "node:path";
import { Cluster } from "../cluster/mod.ts";
import { type Command, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater pull --nats URL RUN DIR

Copies a run's chains from NATS JetStream (one subject per actor) and the
components they ran (from the object store, by SHA-256) into DIR, as
<actor>.jsonl and components/<sha256>.wasm. Every offline command works on
the copy: theater verify DIR, theater replay DIR, events, state.

Options:
  --nats URL   the NATS server (nats://HOST:PORT)
  -h, --help   show this help

Exit status: 0 copied, 1 the run has no chains in the stream, 2 usage or the
server cannot be reached.`;

/** `theater pull`. */
export const pullCommand: Command = {
  name: "pull",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, { nats: { type: "string" } });
    if (typeof values.nats !== "string") {
      throw new UsageError("--nats URL is required");
    }
    if (positionals.length !== 2) {
      throw new UsageError("pull takes a run and a directory");
    }
    const [run, dir] = positionals;
    const cluster = await Cluster.connect(values.nats);
    try {
      const actors = await cluster.pull(run, resolve(dir));
      if (actors.length === 0) {
        out(`no chains of run ${run} in the stream`);
        return 1;
      }
      out(
        `${dir}: ${actors.length} chains of run ${run}: ${actors.join(", ")}`,
      );
      return 0;
    } finally {
      await cluster.close();
    }
  },
};
