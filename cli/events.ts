// Copyright the Theater authors. MIT license.
import { lineTooLong, readLines } from "../chain/_lines.ts";
import {
  byTime,
  type ChainEvent,
  chainFilesIn,
  ChainFormatError,
  type ChainLink,
  ChainReadError,
  checkLine,
  describeIoError,
  EVENT_DATA,
  FileRefused,
  hostCallsOf,
  type Json,
  openRegularSync,
} from "../chain/mod.ts";
import {
  color,
  type Command,
  err,
  escapeControl,
  intFlag,
  out,
  parse,
  sleep,
  stopOnSignals,
  terminalJson,
  UsageError,
} from "./_common.ts";

const HELP = `Usage: theater events [options] <chain.jsonl | run-dir>

Shows a chain as a timeline: seq, time, type, short hash and a summary of
each event. Given a run directory, shows one timeline of every actor's chain,
interleaved by time, each line naming its actor; a cross-actor link shows as
"<- actor#seq" (the event it answers). Each line is checked on its own as it
is read (use \`theater verify\` for the links between lines).

Options:
  --type T      only events of type T, or of every type under T ("message")
  --from N      only events with seq >= N
  --to N        only events with seq <= N
  --follow, -f  keep watching for new events (and new chains in a run
                directory) until interrupted
  --json        print the events as JSON lines, unchanged
  -h, --help    show this help

Exit status: 0 shown; 1 a line is not a valid event, or --from is past the
end of the chain; 2 bad usage or an unreadable path.`;

const TYPE_COLORS: Record<string, number> = {
  actor: 35,
  message: 36,
  host: 33,
  handle: 32,
  child: 34,
};

function brief(value: Json, max = 60): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A one-line human summary of an event's data, safe on a terminal: what a
 * guest wrote (a reason, an error, a sender's name) has its control
 * characters escaped, so it cannot move the cursor or fake a line.
 */
export function summarize(event: ChainEvent): string {
  return escapeControl(_summary(event));
}

function _summary(event: ChainEvent): string {
  const d = event.data;
  switch (event.type) {
    case "actor.start":
      return `component ${String(d.component).slice(0, 12)} params ${
        brief(d.params)
      }` +
        (d.link ? ` spawned by ${(d.link as { actor: string }).actor}` : "");
    case "actor.init":
      return `state ${brief(d.state)}`;
    case "message.in":
      return `from ${d.from}: ${brief(d.msg)}`;
    case "host.call":
    case "host.calls":
      return hostCallsOf(event).map((call) =>
        `${call.interface}.${call.function}(${
          call.args.map((a) => brief(a, 30)).join(", ")
        }) -> ${brief(call.result, 40)}`
      ).join("; ");
    case "handle.ok":
      return `state ${brief(d.state, 40)} reply ${brief(d.reply, 40)}`;
    case "handle.patch":
      return `patch ${brief(d.patch, 40)} reply ${brief(d.reply, 40)}`;
    case "handle.error":
      return `${d.phase}: ${d.error}`;
    case "message.out":
      return `to ${d.to}: ${brief(d.msg)}`;
    case "child.event":
      return `${d.child} ${d.event}${d.reason ? `: ${d.reason}` : ""}`;
    case "actor.stop":
      return `${d.reason}`;
    case "actor.resume": {
      const cut = d.cut as { bytes: number } | null;
      return `resumed in a new run, component ${
        String(d.component).slice(0, 12)
      }` + (cut ? `; cut a torn last line of ${cut.bytes} bytes` : "");
    }
  }
}

/** `theater events`. */
export const eventsCommand: Command = {
  name: "events",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      type: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      follow: { type: "boolean", short: "f" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("events takes exactly one chain file or run dir");
    }
    const from = intFlag("from", values.from) ?? 0;
    const to = intFlag("to", values.to) ?? Infinity;
    const type = values.type as string | undefined;
    if (type !== undefined && !knownType(type)) {
      throw new UsageError(
        `--type: no event type ${JSON.stringify(type)} (types: ${
          Object.keys(EVENT_DATA).join(", ")
        }, or a family such as "message")`,
      );
    }
    const target = positionals[0];
    const info = await Deno.stat(target).catch((err) => {
      throw new ChainReadError(`${target}: ${describeIoError(err)}`);
    });
    const dir = info.isDirectory;
    const tails = new Map<string, ChainTail>();
    const chains = async () => {
      if (!dir) return [target];
      const files = await runChains(target);
      // A follower waits for the first chain; a look shows what is there.
      if (files.length === 0 && !values.follow) {
        throw new ChainReadError(`${target}: no chains (*.jsonl) in directory`);
      }
      return files;
    };
    let shown = 0;
    let last = -1;
    const show = (event: ChainEvent) => {
      last = Math.max(last, event.seq);
      if (event.seq < from || event.seq > to) return;
      if (type && event.type !== type && !event.type.startsWith(`${type}.`)) {
        return;
      }
      shown++;
      if (values.json) {
        out(terminalJson(event));
        return;
      }
      const time = new Date(event.ts).toISOString().replace("T", " ").slice(
        0,
        23,
      );
      const c = TYPE_COLORS[event.type.split(".")[0]] ?? 0;
      const who = dir ? `${color(1, event.actor.padEnd(12))}  ` : "";
      const link = event.data.link as ChainLink | null | undefined;
      const linked = dir && link
        ? `  <- ${link.actor}#${seqOf.get(link.hash) ?? link.hash.slice(0, 8)}`
        : "";
      out(
        `${who}${String(event.seq).padStart(6)}  ${color(2, time)}  ${
          color(c, event.type.padEnd(12))
        }  ${color(2, event.hash.slice(0, 8))}  ${summarize(event)}${linked}`,
      );
    };
    // Where each event shown so far sits, to name a link's target by seq.
    const seqOf = new Map<string, number>();
    // A streaming merge: an event is shown once every chain that may still
    // have an earlier one has one read ahead.
    const poll = async () => {
      for (const path of await chains()) {
        if (!tails.has(path)) tails.set(path, new ChainTail(path));
      }
      for (const t of tails.values()) t.eof = false;
      while (true) {
        for (const t of tails.values()) {
          if (t.queue.length === 0 && !t.eof) await t.read();
        }
        let next: ChainTail | null = null;
        for (const t of tails.values()) {
          if (t.queue.length === 0) continue;
          if (!next || byTime(t.queue[0], next.queue[0]) < 0) next = t;
        }
        if (!next) return;
        const event = next.queue.shift()!;
        if (
          dir && (event.type === "message.out" || event.type === "host.call" ||
            event.type === "host.calls")
        ) {
          seqOf.set(event.hash, event.seq);
        }
        show(event);
      }
    };
    // A follower listens before the first poll: a signal while the events
    // so far are shown ends it as cleanly as one later does.
    const stop = values.follow ? stopOnSignals() : undefined;
    try {
      await poll();
    } catch (e) {
      stop?.dispose();
      throw e;
    }
    if (!stop) {
      if (shown === 0 && from > last && last >= 0) {
        err(
          `theater events: no events from seq ${from}: the chain${
            dir ? "s have" : " has"
          } events 0 to ${last}`,
        );
        return 1;
      }
      return 0;
    }
    // Follow until interrupted: a stopped follower is a normal end.
    try {
      while (!stop.signal.aborted) {
        await sleep(FOLLOW_POLL_MS, stop.signal);
        await poll();
      }
    } finally {
      stop.dispose();
    }
    return 0;
  },
};

/**
 * The chain files of the run directory `dir` ({@linkcode chainFilesIn}):
 * a `*.jsonl` that is not a regular file, or a directory that cannot be
 * read, is a {@linkcode ChainReadError} naming the path (exit 2).
 */
export async function runChains(dir: string): Promise<string[]> {
  try {
    return await chainFilesIn(dir);
  } catch (err) {
    throw new ChainReadError(
      err instanceof FileRefused
        ? err.message
        : `${dir}: cannot read: ${describeIoError(err)}`,
    );
  }
}

/** How often `--follow` looks for new lines. */
const FOLLOW_POLL_MS = 200;

function knownType(type: string): boolean {
  return Object.keys(EVENT_DATA).some((t) =>
    t === type || t.startsWith(`${type}.`)
  );
}

/**
 * Reads a chain file's complete lines from where the last read stopped, so
 * a file being written can be read again and again (a torn last line waits
 * for its end).
 */
class ChainTail {
  #path: string;
  #offset = 0;
  #line = 0;

  constructor(path: string) {
    this.#path = path;
  }

  /** Events read and not yet shown. */
  queue: ChainEvent[] = [];
  /** True when the last read found nothing more in the file. */
  eof = false;

  /**
   * Reads on from where the last read stopped and queues the events of
   * the complete lines there, up to about a chunk of them; a line still
   * being written waits for its newline.
   */
  async read(): Promise<void> {
    let file: Deno.FsFile;
    try {
      ({ file } = openRegularSync(this.#path));
    } catch (err) {
      throw new ChainReadError(
        `${this.#path}: cannot read: ${
          err instanceof FileRefused ? err.message : describeIoError(err)
        }`,
      );
    }
    using _ = file;
    let bytes = 0;
    for await (const batch of readLines(file, { start: this.#offset })) {
      for (const raw of batch) {
        if (!raw.terminated) break;
        this.#line++;
        this.#offset += raw.length + 1;
        bytes += raw.length + 1;
        const checked = raw.tooLong
          ? {
            reason: "line-too-long" as const,
            message: lineTooLong(raw.length),
          }
          : checkLine(raw.bytes);
        if ("reason" in checked) {
          throw new ChainFormatError({
            file: this.#path,
            line: this.#line,
            ...checked,
          });
        }
        this.queue.push(checked.event);
      }
      if (bytes >= TAIL_CHUNK) return;
    }
    if (this.queue.length === 0) this.eof = true;
  }
}

const TAIL_CHUNK = 1024 * 1024;
