// Copyright the Theater authors. MIT license.
import { type ChainEvent, type Json, readEvents } from "../chain/mod.ts";
import {
  color,
  type Command,
  intFlag,
  out,
  parse,
  UsageError,
} from "./_common.ts";

const HELP = `Usage: theater events [options] <chain.jsonl>

Shows a chain as a timeline: seq, time, type, short hash and a summary of
each event. Each line is checked on its own as it is read (use
\`theater verify\` for the links between lines).

Options:
  --type T    only events of type T, or of every type under T ("message")
  --from N    only events with seq >= N
  --to N      only events with seq <= N
  --json      print the events as JSON lines, unchanged
  -h, --help  show this help`;

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

/** A one-line human summary of an event's data. */
export function summarize(event: ChainEvent): string {
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
      return `${d.interface}.${d.function}(${
        (d.args as Json[]).map((a) => brief(a, 30)).join(", ")
      }) -> ${brief(d.result, 40)}`;
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
  summary: "show a chain as a readable timeline (or JSON lines)",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      type: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new UsageError("events takes exactly one chain file");
    }
    const from = intFlag("from", values.from) ?? 0;
    const to = intFlag("to", values.to) ?? Infinity;
    const type = values.type as string | undefined;
    for await (const event of readEvents(positionals[0])) {
      if (event.seq < from) continue;
      if (event.seq > to) break;
      if (type && event.type !== type && !event.type.startsWith(`${type}.`)) {
        continue;
      }
      if (values.json) {
        out(JSON.stringify(event));
        continue;
      }
      const time = new Date(event.ts).toISOString().replace("T", " ").slice(
        0,
        23,
      );
      const c = TYPE_COLORS[event.type.split(".")[0]] ?? 0;
      out(
        `${String(event.seq).padStart(6)}  ${color(2, time)}  ${
          color(c, event.type.padEnd(12))
        }  ${color(2, event.hash.slice(0, 8))}  ${summarize(event)}`,
      );
    }
    return 0;
  },
};
