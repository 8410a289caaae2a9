// Copyright the Theater authors. MIT license.
/**
 * Streaming reader of chain files.
 *
 * @module
 */
import { readLines } from "./_lines.ts";
import { openRegularSync } from "./files.ts";
import { type ChainEvent, checkShape } from "./event.ts";
import {
  ChainReadError,
  checkLine,
  describeIoError,
  type VerifyError,
} from "./verify.ts";

/** A line that is not a valid event, met while reading. */
export class ChainFormatError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ChainFormatError";
  /** Where and why. */
  readonly problem: VerifyError;
  /** Makes the error for `problem`, with file and line in the message. */
  constructor(problem: VerifyError) {
    super(
      problem.line > 0
        ? `${problem.file}:${problem.line}: ${problem.message}`
        : `${problem.file}: ${problem.message}`,
    );
    this.problem = problem;
  }
}

/**
 * The order of a run's merged timeline (`theater events <run dir>`, live
 * events, `theater logs`): by time, then actor id (code unit order), then
 * seq. Actor ids break ties the same way on every machine.
 */
export function byTime(a: ChainEvent, b: ChainEvent): number {
  return a.ts - b.ts || (a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0) ||
    a.seq - b.seq;
}

/**
 * Yields the events of a chain file one at a time, each checked on its own
 * (JSON, shape, hash, canonical form). Use `verifyChain` to also check the
 * links between lines.
 *
 * @throws {ChainReadError} when the file cannot be read.
 * @throws {ChainFormatError} at the first line that is not a valid event.
 */
export async function* readEvents(path: string): AsyncGenerator<ChainEvent> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw new ChainReadError(`${path}: cannot read: ${describeIoError(err)}`);
  }
  try {
    for await (const batch of readLines(file)) {
      for (const raw of batch) {
        const problem = raw.tooLong
          ? { reason: "line-too-long" as const, message: "line too long" }
          : !raw.terminated
          ? { reason: "truncated" as const, message: "truncated final line" }
          : null;
        const checked = problem ?? checkLine(raw.bytes);
        if ("reason" in checked) {
          throw new ChainFormatError({
            file: path,
            line: raw.number,
            ...checked,
          });
        }
        yield checked.event;
      }
    }
  } finally {
    file.close();
  }
}

/** An event read by {@linkcode readUnproven}, with its line's bytes. */
export interface UnprovenLine {
  /** The event the line holds, shape checked. */
  event: ChainEvent;
  /** The line's bytes, without its `\n`. */
  bytes: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads a whole chain of at most `maxEvents` events, each line parsed and
 * shape checked but not its hash, links or canonical form: for a caller
 * that proves every line another way (replay seals each event again and
 * compares the bytes). Null when the file cannot be read, holds more
 * events or has a line that is not an event: `verifyChain` says why.
 */
export async function readUnproven(
  path: string,
  options: { maxEvents: number },
): Promise<UnprovenLine[] | null> {
  let file: Deno.FsFile;
  try {
    file = openRegularSync(path).file;
  } catch {
    return null;
  }
  const lines: UnprovenLine[] = [];
  try {
    for await (const batch of readLines(file)) {
      if (lines.length + batch.length > options.maxEvents) return null;
      for (const raw of batch) {
        if (raw.tooLong || !raw.terminated) return null;
        let value: unknown;
        try {
          value = JSON.parse(utf8.decode(raw.bytes));
        } catch {
          return null;
        }
        if (checkShape(value)) return null;
        lines.push({ event: value as ChainEvent, bytes: raw.bytes });
      }
    }
  } finally {
    file.close();
  }
  return lines;
}
