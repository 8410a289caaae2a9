// Copyright the Theater authors. MIT license.
/**
 * The cluster's central promise, as a check (docs/cluster.md): one writer
 * per actor. Given what the stream holds for one actor (its messages, in
 * stream order), the chain pulled from it and the replies clients were
 * given, {@linkcode checkOneWriter} says everything that contradicts "one
 * linear chain, every acknowledged reply in it at its seq, every message a
 * whole step". Pure: the stress test and the soak bench run it after every
 * round of kills and pauses.
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { type ChainEvent, checkLine, type Json } from "../chain/mod.ts";

/** A reply a client was given: the seq of its outcome event, and the reply. */
export interface AckedReply {
  /** The `seq` of the step's outcome (`handle.ok`/`handle.patch`). */
  seq: number;
  /** The reply the client got. */
  reply: Json;
}

/** What a one-writer check found wrong. */
export interface WriterProblem {
  /**
   * - `bad-line`: a line that is not a valid event of this actor;
   * - `fork`: a second event at a seq already taken (or one further back);
   * - `duplicate`: the same event twice;
   * - `gap`: a seq skipped;
   * - `parent`: an event whose parent is not the event before;
   * - `half-step`: a stream message that is not whole steps;
   * - `differs`: the pulled chain is not what the stream holds;
   * - `reply-missing`: an acknowledged reply whose seq holds no outcome;
   * - `reply-differs`: an acknowledged reply that is not the one recorded;
   * - `reply-twice`: two acknowledged replies claim one seq.
   */
  kind:
    | "bad-line"
    | "fork"
    | "duplicate"
    | "gap"
    | "parent"
    | "half-step"
    | "differs"
    | "reply-missing"
    | "reply-differs"
    | "reply-twice";
  /** The seq (or, for `half-step`, the message's index) it is about. */
  at: number | null;
  /** What is wrong, for a person. */
  message: string;
}

/** What {@linkcode checkOneWriter} checks. */
export interface OneWriterInput {
  /** The actor whose chain it is. */
  actor: string;
  /** The actor's stream messages in stream order: lines joined by `\n`. */
  messages?: string[];
  /** The pulled chain file's text (lines ending in `\n`). */
  chain?: string;
  /** Replies clients were given. */
  acked?: AckedReply[];
}

/** Events that open a step: an input, or a lone lifecycle event. */
const OPENS = new Set([
  "message.in",
  "actor.start",
  "actor.resume",
  "child.event",
  "actor.stop",
]);
/** Events after which a step is still waiting for its outcome. */
const UNFINISHED = new Set(["message.in", "host.call", "host.calls"]);
/** Event types whose data carries the step's reply. */
const OUTCOMES = new Set(["handle.ok", "handle.patch"]);

const encoder = new TextEncoder();

/**
 * Everything in an actor's stream messages, pulled chain and acknowledged
 * replies that breaks "one writer": the chain is one linear chain (seq
 * strictly one more, parent the hash before, every line a valid event of
 * the actor, nothing twice), every message is whole steps (it opens with
 * an input or a lone lifecycle event, and does not end waiting for an
 * outcome), the pulled chain is the stream's lines, and every
 * acknowledged reply is the reply recorded at its seq. An empty list
 * means none of these was found.
 */
export function checkOneWriter(input: OneWriterInput): WriterProblem[] {
  const problems: WriterProblem[] = [];
  let events: ChainEvent[] | null = null;
  let streamLines: string[] | null = null;
  if (input.messages) {
    streamLines = [];
    input.messages.forEach((text, i) => {
      const lines = text.split("\n");
      streamLines!.push(...lines);
      const first = _typeOf(lines[0]);
      const last = _typeOf(lines.at(-1)!);
      if (first !== null && !OPENS.has(first)) {
        problems.push({
          kind: "half-step",
          at: i,
          message: `stream message ${
            i + 1
          } begins with ${first}, in the middle of a step`,
        });
      }
      if (last !== null && UNFINISHED.has(last)) {
        problems.push({
          kind: "half-step",
          at: i,
          message: `stream message ${
            i + 1
          } ends with ${last}, before the step's outcome`,
        });
      }
    });
    events = _linear(input.actor, streamLines, problems, "stream");
  }
  if (input.chain !== undefined) {
    const lines = input.chain.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (streamLines) {
      const n = Math.max(lines.length, streamLines.length);
      for (let i = 0; i < n; i++) {
        if (lines[i] !== streamLines[i]) {
          problems.push({
            kind: "differs",
            at: i,
            message: lines[i] === undefined
              ? `the pulled chain ends at line ${i}, the stream has ${streamLines.length} lines`
              : streamLines[i] === undefined
              ? `the pulled chain has ${lines.length} lines, the stream ${streamLines.length}`
              : `line ${i + 1} of the pulled chain is not the stream's`,
          });
          break;
        }
      }
    } else {
      events = _linear(input.actor, lines, problems, "chain");
    }
  }
  _replies(input.acked ?? [], events ?? [], problems);
  return problems;
}

/** The `type` of a line, or null when it is not an event. */
function _typeOf(line: string): string | null {
  try {
    const type = JSON.parse(line)?.type;
    return typeof type === "string" ? type : null;
  } catch {
    return null;
  }
}

/**
 * Checks that `lines` are one linear chain of `actor`; returns its events
 * by seq (the first event seen at each seq).
 */
function _linear(
  actor: string,
  lines: string[],
  problems: WriterProblem[],
  where: "stream" | "chain",
): ChainEvent[] {
  const bySeq: ChainEvent[] = [];
  const seen = new Map<string, number>();
  let head: ChainEvent | null = null;
  lines.forEach((text, i) => {
    const checked = checkLine(encoder.encode(text));
    if (!("event" in checked)) {
      problems.push({
        kind: "bad-line",
        at: i,
        message: `${where} line ${i + 1}: ${checked.message}`,
      });
      return;
    }
    const event = checked.event;
    if (event.actor !== actor) {
      problems.push({
        kind: "bad-line",
        at: event.seq,
        message: `${where} line ${
          i + 1
        }: an event of ${event.actor} in the chain of ${actor}`,
      });
      return;
    }
    const expected = head === null ? 0 : head.seq + 1;
    const before = seen.get(event.hash);
    if (before !== undefined) {
      problems.push({
        kind: "duplicate",
        at: event.seq,
        message: `${where} line ${
          i + 1
        }: event ${event.seq} again (first on line ${before + 1})`,
      });
    } else if (event.seq < expected) {
      problems.push({
        kind: "fork",
        at: event.seq,
        message: `${where} line ${
          i + 1
        }: a second event ${event.seq} after event ${head!.seq} (two writers)`,
      });
    } else if (event.seq > expected) {
      problems.push({
        kind: "gap",
        at: expected,
        message: `${where} line ${i + 1}: event ${event.seq} follows event ${
          head?.seq ?? "none"
        }`,
      });
    } else if (event.parent !== (head?.hash ?? null)) {
      problems.push({
        kind: "parent",
        at: event.seq,
        message: `${where} line ${
          i + 1
        }: the parent of event ${event.seq} is not event ${expected - 1}`,
      });
    }
    if (before === undefined) seen.set(event.hash, i);
    bySeq[event.seq] ??= event;
    head = event;
  });
  return bySeq;
}

function _replies(
  acked: AckedReply[],
  events: ChainEvent[],
  problems: WriterProblem[],
): void {
  const claimed = new Map<number, Json>();
  for (const { seq, reply } of acked) {
    if (claimed.has(seq)) {
      problems.push({
        kind: "reply-twice",
        at: seq,
        message: `two acknowledged replies at seq ${seq}: ${
          JSON.stringify(claimed.get(seq))
        } and ${JSON.stringify(reply)}`,
      });
      continue;
    }
    claimed.set(seq, reply);
    const event = events[seq];
    if (!event || !OUTCOMES.has(event.type)) {
      problems.push({
        kind: "reply-missing",
        at: seq,
        message: `the acknowledged reply ${
          JSON.stringify(reply)
        } at seq ${seq} is not in the chain (${
          event ? `event ${seq} is ${event.type}` : "no such event"
        })`,
      });
    } else if (!isDeepStrictEqual(event.data.reply, reply)) {
      problems.push({
        kind: "reply-differs",
        at: seq,
        message: `the acknowledged reply at seq ${seq} was ${
          JSON.stringify(reply)
        }, the chain records ${JSON.stringify(event.data.reply)}`,
      });
    }
  }
}
