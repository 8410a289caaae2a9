// Copyright the Theater authors. MIT license.
import { resolve } from "node:path";
import { parseVerifierKey } from "../chain/mod.ts";
import { Cluster, ClusterNode } from "../cluster/mod.ts";
import { defaultTokenFile, ensureToken, startServer } from "../server/mod.ts";
import { inspectorPage } from "../server/inspector.ts";
import {
  cacheOption,
  type Command,
  err,
  out,
  parse,
  stopOnSignals,
  UsageError,
} from "./_common.ts";

const HELP =
  `Usage: theater serve [--dir RUNS] [--listen HOST:PORT] [--token-file FILE]
                     [--nats URL [--node NAME]]

A long-running host: it owns runs of actors (each a run directory under
RUNS, with the same recorder, supervision, limits and resume as theater
run), serves the management API (docs/api.md; OpenAPI at
/api/openapi.json), live events as Server-Sent Events, and the inspector
at /. Stops cleanly on SIGINT or SIGTERM: every actor's actor.stop is
recorded.

Every API call needs Authorization: Bearer <token>. The token is made on
first start into FILE (readable by you only) and printed once; theater ps,
send and logs read it from there.

Options:
  --dir RUNS          where runs live (default: ./runs)
  --listen HOST:PORT  where to listen (default: 127.0.0.1:7070; port 0: any)
  --token-file FILE   the token (default: $THEATER_TOKEN_FILE, else
                      ~/.config/theater/token)
  --nats URL          also publish every run's events to NATS JetStream, one
                      writer per actor (as theater run --nats; the run id is
                      the stream's run name; docs/cluster.md)
  --node NAME         with --nats: join the cluster as node NAME. Runs
                      started here place each root actor on a node (the
                      API's "node", the manifest's "node", else the least
                      loaded); actors reach the run's actors on any node;
                      when a node stops beating (3 s), another resumes its
                      actors from the stream
  --pubkey KEY.pub    a key the chains' checkpoints are checked against in
                      the API and the inspector (repeatable)
  --cache-dir DIR     transpile cache, as for run; --no-cache for none
  -h, --help          show this help

Exit status: 0 stopped cleanly, 2 usage or cannot listen.`;

/** Parses `HOST:PORT` (IPv6 in brackets). */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `--listen must be HOST:PORT, got ${JSON.stringify(text)}`,
    );
  }
  return { hostname: m[1].replace(/^\[|\]$/g, ""), port };
}

/** `theater serve`. */
export const serveCommand: Command = {
  name: "serve",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      dir: { type: "string" },
      listen: { type: "string" },
      "token-file": { type: "string" },
      "cache-dir": { type: "string" },
      "no-cache": { type: "boolean" },
      pubkey: { type: "string", multiple: true },
      nats: { type: "string" },
      node: { type: "string" },
    });
    if (positionals.length > 0) {
      throw new UsageError("serve takes no positional arguments");
    }
    const { hostname, port } = parseListen(
      (values.listen as string | undefined) ?? "127.0.0.1:7070",
    );
    const tokenFile = (values["token-file"] as string | undefined) ??
      defaultTokenFile();
    const { token, created } = ensureToken(tokenFile);
    const verifiers = [];
    for (const path of (values.pubkey ?? []) as string[]) {
      try {
        verifiers.push(await parseVerifierKey(await Deno.readTextFile(path)));
      } catch (e) {
        throw new UsageError(`--pubkey ${path}: ${(e as Error).message}`);
      }
    }
    if (values.node !== undefined && values.nats === undefined) {
      throw new UsageError("--node needs --nats URL (the cluster to join)");
    }
    const cluster = typeof values.nats === "string"
      ? await Cluster.connect(values.nats)
      : null;
    let node: ClusterNode | undefined;
    if (cluster && typeof values.node === "string") {
      try {
        node = await ClusterNode.join(cluster, {
          name: values.node,
          onNotice: (line) => err(`theater serve: ${line}`),
        });
      } catch (e) {
        await cluster.close();
        err(`theater serve: --node ${values.node}: ${(e as Error).message}`);
        return 2;
      }
    }
    let server;
    try {
      server = await startServer({
        dir: resolve((values.dir as string | undefined) ?? "runs"),
        token,
        hostname,
        port,
        cacheDir: cacheOption(values),
        inspector: inspectorPage,
        verifiers,
        replication: cluster ? (run) => cluster.run(run) : undefined,
        node,
      });
    } catch (e) {
      await cluster?.close();
      err(
        `theater serve: cannot listen on ${hostname}:${port}: ${
          (e as Error).message
        }`,
      );
      return 2;
    }
    // Before the line that says it listens: a signal sent as soon as a
    // caller reads that line must stop it cleanly.
    const stop = stopOnSignals();
    if (created) {
      err(`theater serve: a new token was written to ${tokenFile}: ${token}`);
    }
    out(`theater serve: listening on ${server.url} (token in ${tokenFile})`);
    if (node) {
      out(`theater serve: node ${node.name} of the cluster at ${values.nats}`);
    }
    out(`theater serve: inspector at ${server.url}/#token=<token>`);
    if (!stop.signal.aborted) {
      await new Promise((resolve) =>
        stop.signal.addEventListener("abort", resolve, { once: true })
      );
    }
    stop.dispose();
    const signal = stop.signal.reason as string;
    err(`theater serve: ${signal}: stopping every run`);
    await server.close(`the server got ${signal}`);
    await cluster?.close();
    err("theater serve: stopped");
    return 0;
  },
};
