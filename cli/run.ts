// Copyright the Theater authors. MIT license.
import type { FsyncPolicy, Json } from "../chain/mod.ts";
import { FSYNC_POLICIES } from "../chain/mod.ts";
import { MAX_DOCUMENT_BYTES, parseDocument } from "../runtime/mod.ts";
import {
  ActorSystem,
  DeliveryError,
  grantsInTree,
  loadManifest,
} from "../supervisor/mod.ts";
import { netHosts } from "../runtime/mod.ts";
import { Cluster } from "../cluster/mod.ts";
import {
  batchedOut,
  cacheOption,
  type Command,
  err,
  escapeControl,
  intFlag,
  parse,
  terminalJson,
  unlessAborted,
  UsageError,
} from "./_common.ts";

const HELP = `Usage: theater run [options] <manifest.json>

Starts the actor a manifest describes (and its children), then delivers JSON
messages to it, one per line, from --send and from stdin. Each reply is
printed on stdout as a JSON line once the events that led to it are on disk.
On end of input, Ctrl-C or SIGTERM — while the actors start, restart or run —
the run stops taking new messages (also those actors send each other),
starts and restarts nothing more, lets calls under way finish or time out
(limits.handle_timeout_ms), and records actor.stop for every actor, so
\`theater verify <chain dir>\` passes afterwards (docs/supervision.md).
A child that cannot start while its parent starts fails the parent's start.
What actors log is shown on stderr with control characters escaped.

When the run directory already holds chains, the run resumes them: each
actor continues from its last committed state (a torn last line left by a
crash is cut and recorded), and children that were running start again. A
chain that does not verify is refused. To start afresh, use another run
directory (--chain-dir) or remove the old one. Only one theater process may
use a run directory at a time.

A message line is any JSON value, sent to the root actor, or an envelope
{"to": "<actor>", "msg": <JSON>, "id": <string or number>} with "msg" and
"to", "id" or both: "to" addresses another actor, and "id" comes back in the
answer so a script can match answers to lines. (To send an object with just
those keys as a message, put it in an envelope's "msg".)
Replies: {"actor": "<id>", "reply": <JSON>} or {"actor": "<id>", "error": "..."},
with "id" when the line had one. A line that cannot be delivered (not JSON,
not canonical JSON, too big, no such actor, a full mailbox) is answered
{"input": "stdin:<n>", "error": "..."} (with "actor" and "id" when it named
them), said on stderr too, and the run goes on.

Options:
  --send JSON        deliver this message first (repeatable); with --send,
                     stdin is read only when it is not a terminal
  --chain-dir DIR    the run directory (default: the manifest's chain.dir)
  --fsync POLICY     every-event | batch | none (default: the manifest's)
  --cache-dir DIR    keep transpiled components here, by SHA-256
                     (default: $THEATER_CACHE_DIR, else ~/.cache/theater)
  --no-cache         transpile every component afresh; use no disk cache
  --window N         deliver up to N stdin lines to one actor at once
                     (default 1: each line waits for the answer before it).
                     Faster for a stream of messages; a line may then reach
                     its actor before what the lines before it caused (a
                     child spawned, an actor stopped) has happened. Lines
                     to another actor still wait; answers stay in order.
  --nats URL         also publish every event to NATS JetStream (one subject
                     per actor, one writer per actor: a second is refused);
                     an event is acknowledged only once it is in the stream.
                     Components go to its object store (docs/cluster.md)
  --run-id ID        the run's name in the stream (default: the root
                     manifest's name)
  --quiet            do not show actor logs and status on stderr
  -h, --help         show this help

Exit status: 0 when every message was delivered, 1 when a message line was
not JSON or was not delivered (no such actor, a full mailbox, the run was
stopping), or the root actor failed to start or was stopped before it had
started, 2 when the manifest or component cannot be used.`;

interface Addressed {
  to: string | null;
  msg: Json;
  /** Echoed in the answer, when the line gave one. */
  id?: string | number;
}

/**
 * An input line's target, message and id: an object with `msg` and `to`,
 * `id` or both (and no other key) is an envelope; anything else is a
 * message to the root.
 */
function address(value: Json): Addressed {
  if (
    value !== null && typeof value === "object" && !Array.isArray(value) &&
    "msg" in value && ("to" in value || "id" in value) &&
    Object.keys(value).every((k) => k === "to" || k === "msg" || k === "id") &&
    (!("to" in value) || typeof value.to === "string") &&
    (!("id" in value) || typeof value.id === "string" ||
      typeof value.id === "number")
  ) {
    return {
      to: typeof value.to === "string" ? value.to : null,
      msg: value.msg,
      id: "id" in value ? value.id as string | number : undefined,
    };
  }
  return { to: null, msg: value };
}

/** A line too long to hold: only its length is kept. */
interface Overlong {
  overlong: number;
}

/**
 * Lines of stdin. A line longer than a message may be is not held in
 * memory: it is skipped up to its newline and reported by its length.
 */
async function* stdinLines(): AsyncGenerator<string | Overlong> {
  let buffer = "";
  let skipping = 0;
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) !== -1) {
      if (skipping > 0) yield { overlong: skipping + nl };
      else yield buffer.slice(0, nl).replace(/\r$/, "");
      skipping = 0;
      buffer = buffer.slice(nl + 1);
    }
    if (buffer.length > MAX_DOCUMENT_BYTES) {
      skipping += buffer.length;
      buffer = "";
    }
  }
  if (skipping > 0) yield { overlong: skipping + buffer.length };
  else if (buffer.length > 0) yield buffer;
}

/**
 * The outer wall follows the grants: a run none of whose manifests grants
 * HTTP gives up the network permission before any actor starts. Says what
 * the run may reach, or null when it had no network permission anyway.
 */
export function narrowNetwork(hosts: string[]): string | null {
  if (hosts.length > 0) {
    return `network: ${
      hosts.join(", ")
    } only (grants.http; each actor reaches only its own grant's origins)`;
  }
  if (Deno.permissions.querySync({ name: "net" }).state !== "granted") {
    return null;
  }
  Deno.permissions.revokeSync({ name: "net" });
  return "network: none (no manifest grants HTTP; the permission is dropped)";
}

/** `theater run`. */
export const runCommand: Command = {
  name: "run",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      send: { type: "string", multiple: true },
      "chain-dir": { type: "string" },
      fsync: { type: "string" },
      "cache-dir": { type: "string" },
      "no-cache": { type: "boolean" },
      quiet: { type: "boolean" },
      window: { type: "string" },
      nats: { type: "string" },
      "run-id": { type: "string" },
    });
    const window = intFlag("window", values.window) ?? 1;
    if (window < 1 || window > 1000) {
      throw new UsageError(`--window must be 1 to 1000, got ${window}`);
    }
    if (positionals.length !== 1) {
      throw new UsageError("run takes exactly one manifest");
    }
    const fsync = values.fsync as string | undefined;
    if (fsync !== undefined && !FSYNC_POLICIES.includes(fsync as FsyncPolicy)) {
      throw new UsageError(
        `--fsync must be one of ${FSYNC_POLICIES.join(", ")}, got ${fsync}`,
      );
    }
    const quiet = values.quiet === true;
    const sends = (values.send ?? []) as string[];
    const manifest = await loadManifest(positionals[0]);
    const nats = values.nats as string | undefined;
    const runId = (values["run-id"] as string | undefined) ?? manifest.name;
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(runId)) {
      throw new UsageError(
        `--run-id must be 1-64 letters, digits, '_' or '-', got ${runId}`,
      );
    }
    const network = nats
      ? `network: NATS at ${nats}, and the origins manifests grant`
      : narrowNetwork(netHosts(grantsInTree(manifest)));
    if (network && !quiet) err(`theater run: ${network}`);
    const cluster = nats ? await Cluster.connect(nats) : null;
    // Why the run stops, once it must: a signal, the root's own stop, or a
    // supervisor that gave up. Every wait below gives way to it.
    const stop = new AbortController();
    let interrupted = false;
    let rootStopped = false;
    const onInterrupt = () => {
      interrupted = true;
      stop.abort("interrupted");
    };
    // Guest text (log lines, actor ids, errors) reaches the terminal
    // escaped: an actor cannot move the cursor or fake a status line.
    const say = (line: string) => err(escapeControl(line));
    const system = new ActorSystem({
      replication: cluster?.run(runId),
      chainDir: values["chain-dir"] as string | undefined,
      fsync: fsync as FsyncPolicy | undefined,
      cacheDir: cacheOption(values),
      onLog: quiet ? undefined : (actor, line) => say(`[${actor}] ${line}`),
      onWarning: (message) => say(`theater run: ${message}`),
      onRootStopped: (reason) => {
        if (!quiet) say(`theater run: ${manifest.name} ${reason}`);
        rootStopped = true;
        stop.abort("the root stopped itself");
      },
      onFatal: (message) => {
        say(`theater run: ${message}; stopping the run`);
        stop.abort("supervisor gave up");
      },
    });
    let failed = false;
    // Check every --send before anything starts, so a typo does not append
    // a start/stop session to the chains for nothing.
    for (const [i, line] of sends.entries()) {
      try {
        parseDocument(line, "message");
      } catch (e) {
        // A bare word is the usual slip: the shell ate the quotes.
        const hint = /^[A-Za-z_][\w-]*$/.test(line)
          ? ` (a JSON string needs its quotes: --send '"${line}"')`
          : "";
        throw new UsageError(
          `--send #${i + 1}: ${(e as Error).message}${hint}`,
        );
      }
    }
    Deno.addSignalListener("SIGINT", onInterrupt);
    Deno.addSignalListener("SIGTERM", onInterrupt);
    // Replies go out once per turn of the event loop, in input order.
    const print = batchedOut();
    const reason = () =>
      system.failure
        ? "supervisor gave up"
        : interrupted
        ? "interrupted"
        : rootStopped
        ? "the root stopped itself"
        : "end of input";
    try {
      // A signal during the start stops it: the call under way finishes or
      // times out, nothing more starts, and every actor started is stopped.
      const starting = await unlessAborted(system.start(manifest), stop.signal);
      if (starting === null) {
        await system.shutdown(reason());
        say(
          `theater run: ${manifest.name} stopped before it had started (${reason()}); chains in ${system.chainDir}`,
        );
        return 1;
      }
      const init = starting.value;
      if (!init.ok) {
        say(`theater run: ${manifest.name} failed to start: ${init.error}`);
        await system.shutdown("init failed");
        return 1;
      }
      if (!quiet) {
        say(
          `theater run: ${manifest.name} ${
            system.resumed ? "resumed" : "started"
          }; chains in ${system.chainDir}`,
        );
      }
      /** The actor a line is for, or null when it is not a message. */
      const targetOf = (line: string | Overlong): string | null => {
        if (typeof line !== "string") return null;
        try {
          return address(JSON.parse(line)).to ?? manifest.name;
        } catch {
          return null;
        }
      };
      /**
       * Delivers one input line; resolves with what to print for it, so
       * that lines can be in flight together and still answered in order.
       */
      const deliver = async (
        line: string | Overlong,
        where: string,
      ): Promise<() => void> => {
        if (typeof line === "string" && line.trim() === "") return () => {};
        let value: Json;
        try {
          if (typeof line !== "string") {
            throw new SyntaxError(
              `message is at least ${line.overlong} characters, over the limit of ${MAX_DOCUMENT_BYTES} bytes`,
            );
          }
          value = parseDocument(line, "message");
        } catch (e) {
          const message = (e as Error).message;
          failed = true;
          return () => {
            say(`theater run: ${where}: ${message}`);
            print.line(terminalJson({ input: where, error: message }));
          };
        }
        const { to, msg, id } = address(value);
        const target = to ?? manifest.name;
        const echo = id === undefined ? {} : { id };
        try {
          const d = await system.send(target, msg);
          return () =>
            print.line(terminalJson(
              d.ok
                ? { actor: target, reply: d.reply, ...echo }
                : { actor: target, error: d.error, ...echo },
            ));
        } catch (e) {
          if (!(e instanceof DeliveryError)) throw e;
          failed = true;
          return () => {
            say(`theater run: ${where}: ${e.message}`);
            print.line(
              terminalJson({
                input: where,
                actor: target,
                error: e.message,
                ...echo,
              }),
            );
          };
        }
      };
      // Answers waiting to be printed, in input order.
      const inFlight: Promise<() => void>[] = [];
      /** Prints the oldest answer; false when the run must stop first. */
      const answer = async (): Promise<boolean> => {
        const next = await unlessAborted(inFlight[0], stop.signal);
        if (next === null) return false;
        inFlight.shift();
        next.value();
        return true;
      };
      reading: {
        for (const [i, line] of sends.entries()) {
          if (stop.signal.aborted) break reading;
          inFlight.push(deliver(line, `--send #${i + 1}`));
          if (!await answer()) break reading;
        }
        if (sends.length > 0 && Deno.stdin.isTerminal()) break reading;
        // With --window N, up to N lines to one actor are delivered at once
        // (the actor still takes them one at a time, in order); a line to
        // another actor waits for the answers before it. Answers are
        // printed in input order.
        const lines = stdinLines();
        let inFlightTo: string | null = null;
        let n = 0;
        while (!stop.signal.aborted) {
          const next = await unlessAborted(lines.next(), stop.signal);
          if (next === null || next.value.done) break;
          const line = next.value.value;
          const target = targetOf(line);
          if (target === null || target !== inFlightTo) {
            while (inFlight.length > 0) {
              if (!await answer()) break reading;
            }
            if (stop.signal.aborted) break reading;
          }
          inFlightTo = target;
          inFlight.push(deliver(line, `stdin:${++n}`));
          while (inFlight.length >= window) {
            if (!await answer()) break reading;
          }
        }
        while (inFlight.length > 0) {
          if (!await answer()) break reading;
        }
      }
      print.flush();
      await system.shutdown(reason());
      // What was under way when the run began to stop has its answer now
      // (a reply, or why it was not delivered).
      for (const pending of inFlight.splice(0)) (await pending)();
      print.flush();
      if (!quiet) say(`theater run: stopped; chains in ${system.chainDir}`);
      return failed || system.failure ? 1 : 0;
    } catch (e) {
      await system.shutdown("error").catch(() => {});
      throw e;
    } finally {
      print.flush();
      Deno.removeSignalListener("SIGINT", onInterrupt);
      Deno.removeSignalListener("SIGTERM", onInterrupt);
      await cluster?.close();
    }
  },
};
