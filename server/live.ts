// Copyright the Theater authors. MIT license.
/**
 * Live events for Server-Sent Events: what was recorded is read back from
 * the chains (they are the one record; the server keeps no copy), then
 * what is appended is passed on as it comes. Each event goes out with the
 * id `<actor>:<seq>`.
 *
 * Resuming: an actor's stream resumes after the seq in `Last-Event-ID`
 * (`<actor>:<seq>`, or a bare seq). A run's stream takes a list,
 * `a:5,b:7`, and resumes each actor after its seq; an actor not in the
 * list is sent from its first event at or after the time of the newest
 * event the list names (the list a browser keeps is the last id alone).
 * Delivery is at least once: a client drops ids it has seen.
 *
 * @module
 */
import { basename } from "node:path";
import {
  byTime,
  type ChainEvent,
  ChainFormatError,
  readEvents,
} from "../chain/mod.ts";

/** A subscriber to the live events of one run. */
export type Listener = (actor: string, event: ChainEvent) => void;

/**
 * A chain's events up to the first that is not intact: a stream shows what
 * can be trusted, and verify says where the rest breaks.
 */
async function* intact(path: string): AsyncGenerator<ChainEvent> {
  try {
    yield* readEvents(path);
  } catch (err) {
    if (!(err instanceof ChainFormatError)) throw err;
  }
}

/** Passes appended events to the subscribers of their run. */
export class EventHub {
  #listeners = new Map<string, Set<Listener>>();

  /** Starts passing a run's events to `fn`; returns how to stop. */
  subscribe(run: string, fn: Listener): () => void {
    let set = this.#listeners.get(run);
    if (!set) this.#listeners.set(run, set = new Set());
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(run);
    };
  }

  /** Passes an event of a run on. */
  publish(run: string, actor: string, event: ChainEvent): void {
    for (const fn of this.#listeners.get(run) ?? []) fn(actor, event);
  }

  /** Subscribers of a run. */
  count(run: string): number {
    return this.#listeners.get(run)?.size ?? 0;
  }
}

/** Where a stream resumes: after these seqs, and from this time for others. */
export interface ResumePoint {
  /** The last seq seen, by actor. */
  after: Map<string, number>;
  /** For actors not in `after`: send events from this `ts` on (0: all). */
  since: number;
}

/**
 * Parses `Last-Event-ID` (or `?from=`): `a:5,b:7`, or a bare seq for an
 * actor's stream; null when it is not one of those.
 */
export function parseResume(
  text: string | null,
  actor: string | null,
): ResumePoint | null {
  const point: ResumePoint = { after: new Map(), since: 0 };
  if (text === null || text === "") return point;
  if (actor !== null && /^\d+$/.test(text)) {
    point.after.set(actor, Number(text));
    return point;
  }
  for (const part of text.split(",")) {
    const m = /^(.+):(\d+)$/.exec(part.trim());
    if (!m) return null;
    point.after.set(m[1], Number(m[2]));
  }
  return point;
}

/**
 * Streams a run's (or one actor's) events to `send`: first what the chains
 * hold after the resume point, then live events, without repeats, until
 * `signal` aborts.
 */
export async function streamEvents(
  options: {
    hub: EventHub;
    run: string;
    /** The run's chain files. */
    chains: () => string[];
    /** Only this actor's events; null: the whole run. */
    actor: string | null;
    from: ResumePoint;
    send: (actor: string, event: ChainEvent) => Promise<void>;
    signal: AbortSignal;
  },
): Promise<void> {
  const { hub, run, actor, from, send, signal } = options;
  const sent = new Map(from.after);
  const wanted = (a: string, e: ChainEvent) =>
    (actor === null || a === actor) && e.seq > (sent.get(a) ?? -1);
  // Subscribe first, so nothing appended while the chains are read is lost.
  let backlog: [string, ChainEvent][] | null = [];
  let wake: () => void = () => {};
  const queue: [string, ChainEvent][] = [];
  const stop = hub.subscribe(run, (a, e) => {
    if (backlog) backlog.push([a, e]);
    else {
      queue.push([a, e]);
      wake();
    }
  });
  try {
    // Where resuming by time starts: the newest event the list names.
    let since = from.since;
    for (const path of options.chains()) {
      const a = basename(path, ".jsonl");
      const last = from.after.get(a);
      if (last === undefined) continue;
      for await (const e of intact(path)) {
        if (e.seq === last) since = Math.max(since, e.ts);
        if (e.seq >= last) break;
      }
    }
    const recorded: [string, ChainEvent][] = [];
    for (const path of options.chains()) {
      const a = basename(path, ".jsonl");
      if (actor !== null && a !== actor) continue;
      const after = from.after.get(a);
      for await (const e of intact(path)) {
        if (signal.aborted) return;
        if (after !== undefined ? e.seq > after : e.ts >= since) {
          recorded.push([a, e]);
        }
      }
    }
    // One timeline, as `theater events <run dir>` shows it.
    recorded.sort((x, y) => byTime(x[1], y[1]));
    for (const [a, e] of recorded) {
      if (!wanted(a, e)) continue;
      await send(a, e);
      sent.set(a, e.seq);
    }
    queue.push(...backlog);
    backlog = null;
    while (!signal.aborted) {
      while (queue.length > 0) {
        const [a, e] = queue.shift()!;
        if (!wanted(a, e)) continue;
        await send(a, e);
        sent.set(a, e.seq);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  } finally {
    stop();
  }
}

/** One Server-Sent Event as a client reads it. */
export interface SseMessage {
  /** Its `id:`, or "" when it has none. */
  id: string;
  /** Its `event:`, or "" when it has none. */
  event: string;
  /** Its `data:` lines, joined. */
  data: string;
}

/**
 * The events of an SSE body, as they arrive (comments and messages with
 * no data are skipped).
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseMessage> {
  let buffer = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const lines = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        lines.filter((l) => l.startsWith(`${name}:`))
          .map((l) => l.slice(name.length + 1).trimStart());
      const data = field("data");
      if (data.length === 0) continue;
      yield {
        id: field("id")[0] ?? "",
        event: field("event")[0] ?? "",
        data: data.join("\n"),
      };
    }
  }
}
