// Copyright the Theater authors. MIT license.
import { resolve } from "node:path";
import { parseSignerKey } from "../chain/mod.ts";
import { Cluster, type Finding, Witness } from "../cluster/mod.ts";
import {
  type Command,
  err,
  intFlag,
  out,
  parse,
  sleep,
  stopOnSignals,
  UsageError,
} from "./_common.ts";

const HELP =
  `Usage: theater witness --nats URL --key KEY --dir DIR [--run RUN]... [--follow]

Follows the runs in NATS JetStream: reads each into DIR/<run>, checks every
event as it reads it (line, hash, seq, parent), replays every actor against
its component (from the object store, by SHA-256), and co-signs an actor's checkpoint (tree size and Merkle root,
signed with KEY) only when its replay reaches the same head. Cosignatures are
published on theater.witness.<run>.<actor> (theater pull copies them as
<actor>.cosignature; theater verify DIR --cosigned-by KEY.pub requires them).
A broken chain or a divergence is published on theater.alerts with run,
actor, seq and reason, and printed.

Options:
  --nats URL          the NATS server (nats://HOST:PORT)
  --key FILE          the witness's private key (theater keygen)
  --dir DIR           where runs are pulled to
  --run RUN           witness only this run (repeatable; default: every run)
  --follow            keep witnessing until SIGINT or SIGTERM: every
                      --interval-ms (default 5000) read only what is new in
                      the stream, and replay and co-sign the actors whose
                      chains grew; a broken or diverged chain is reported
                      once and no longer followed
  -h, --help          show this help

Exit status: 0 every actor co-signed (or --follow stopped), 1 something was
broken or diverged, 2 usage or the server cannot be reached.`;

function line(f: Finding): string {
  return f.status === "cosigned"
    ? `${f.run}/${f.actor}: cosigned (${f.reason})`
    : `${f.run}/${f.actor}${
      f.seq === null ? "" : `#${f.seq}`
    }: ${f.status}: ${f.reason}`;
}

/** `theater witness`. */
export const witnessCommand: Command = {
  name: "witness",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      nats: { type: "string" },
      key: { type: "string" },
      dir: { type: "string" },
      run: { type: "string", multiple: true },
      follow: { type: "boolean" },
      "interval-ms": { type: "string" },
    });
    if (positionals.length) throw new UsageError("witness takes no arguments");
    for (const name of ["nats", "key", "dir"]) {
      if (typeof values[name] !== "string") {
        throw new UsageError(`--${name} is required`);
      }
    }
    let key;
    try {
      key = await parseSignerKey(await Deno.readTextFile(values.key as string));
    } catch (e) {
      throw new UsageError(`--key ${values.key}: ${(e as Error).message}`);
    }
    const interval = intFlag("interval-ms", values["interval-ms"]) ?? 5000;
    const cluster = await Cluster.connect(values.nats as string);
    const stop = stopOnSignals();
    // One witness for every round: each reads only what is new.
    const witness = new Witness(cluster, {
      key,
      dir: resolve(values.dir as string),
    });
    try {
      let bad = 0;
      do {
        const findings = await witness.round({
          runs: values.run as string[] | undefined,
          onFinding: (f) => (f.status === "cosigned" ? out : err)(line(f)),
        });
        bad = findings.filter((f) => f.status !== "cosigned").length;
        if (!values.follow) break;
        await sleep(interval, stop.signal);
      } while (!stop.signal.aborted);
      return values.follow ? 0 : bad ? 1 : 0;
    } finally {
      stop.dispose();
      await cluster.close();
    }
  },
};
