// Copyright the Theater authors. MIT license.
/**
 * The append-only chain writer (docs/chain-format.md §5).
 *
 * @module
 */
import { dirname } from "node:path";
import { concatBytes } from "./bytes.ts";
import { openRegularSync } from "./files.ts";
import { sealLine, sha256Hex } from "./canonical.ts";
import {
  type ChainEvent,
  checkData,
  type EventType,
  isActorId,
  type Json,
  MAX_LINE_BYTES,
  TYPE_VERSION,
} from "./event.ts";
import { checkLine, describeIoError, verifyChain } from "./verify.ts";

/**
 * When appended events reach the disk:
 * - `every-event`: each event is written and fsynced on its own before its
 *   append resolves.
 * - `batch`: group commit; events appended while a write+fsync is under way
 *   go to disk together in the next one, and each append resolves after the
 *   fsync that covers it.
 * - `none`: each append resolves once the OS has the bytes; never fsynced.
 */
export type FsyncPolicy = "every-event" | "batch" | "none";

/** The fsync policies, for validation of user input. */
export const FSYNC_POLICIES: readonly FsyncPolicy[] = [
  "every-event",
  "batch",
  "none",
];

/** Options for {@linkcode ChainWriter.open}. */
export interface OpenChainOptions {
  /** The actor whose chain this is; an existing chain must belong to it. */
  actor: string;
  /** Default `every-event`. */
  fsync?: FsyncPolicy;
  /**
   * How much of an existing chain to check before appending: `tail` (the
   * last line, the default) or `full` (the whole file).
   */
  check?: "tail" | "full";
  /** Source of `ts` for events appended without one. */
  clock?: () => number;
  /**
   * Called with each event once it is durable per the policy, in order,
   * with its line as written (`\n` included).
   */
  onAppend?: (event: ChainEvent, line: Uint8Array) => void;
  /**
   * Under `batch`, the group whose commit rounds sync this chain; writers
   * that share one are synced together (default: a group of its own).
   */
  group?: CommitGroup;
  /**
   * Copies appended lines somewhere else as well (a stream another host
   * reads, say): called once per {@linkcode ChainWriter.appendAll}, in
   * chain order, with all of its events, so that a step reaches the copy
   * whole or not at all. An event counts as durable only once its copy's
   * promise resolves too. A rejection fails the writer, like a failed
   * write.
   */
  replicate?: (
    sealed: { event: ChainEvent; line: Uint8Array }[],
  ) => Promise<void>;
}

/**
 * Group commit across chains (fsync `batch`): a round syncs every chain
 * with events waiting, all at once; chains written to during a round wait
 * for the next. The longer a round takes, the more steps the next one
 * covers, so the number of fsyncs stays bounded by the disk, not the load.
 */
export class CommitGroup {
  #waiting = new Set<() => Promise<void>>();
  #round: Promise<void> | null = null;

  /** Asks for `commit` to run in the next round. */
  request(commit: () => Promise<void>): void {
    this.#waiting.add(commit);
    this.#round ??= this.#rounds();
  }

  async #rounds(): Promise<void> {
    while (this.#waiting.size > 0) {
      const round = [...this.#waiting];
      this.#waiting.clear();
      await Promise.all(round.map((commit) => commit()));
    }
    this.#round = null;
  }
}

/** A chain that cannot be opened for appending, or a failed write. */
export class ChainWriteError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ChainWriteError";
}

interface Pending {
  bytes: Uint8Array;
  event: ChainEvent;
  resolve: (event: ChainEvent) => void;
  reject: (err: unknown) => void;
}

const TAIL_BLOCK = 64 * 1024;

/**
 * Appends events to one actor's chain file, opened with `O_APPEND`. Each
 * event gets its `seq`, `parent` and `hash` at the moment `append` is
 * called, so the order of calls is the order on disk.
 */
export class ChainWriter {
  /** The chain file appended to. */
  readonly path: string;
  /** The actor whose chain this is. */
  readonly actor: string;
  /** When appended events are flushed to disk. */
  readonly fsync: FsyncPolicy;
  /** Null for a chain kept in memory only ({@linkcode ChainWriter.inMemory}). */
  #file: Deno.FsFile | null;
  #clock: () => number;
  #onAppend?: (event: ChainEvent, line: Uint8Array) => void;
  #seq: number;
  #head: string | null;
  #bytes: number;
  #queue: Pending[] = [];
  #pumping: Promise<void> | null = null;
  /** Written, waiting for an fdatasync (`batch`). */
  #synced: Pending[] = [];
  #requested = false;
  #lastSync: Promise<unknown> = Promise.resolve();
  #group: CommitGroup;
  #failed: Error | null = null;
  #closed = false;
  #replicate?: OpenChainOptions["replicate"];

  private constructor(
    path: string,
    file: Deno.FsFile | null,
    options:
      & Required<
        Omit<OpenChainOptions, "check" | "onAppend" | "group" | "replicate">
      >
      & {
        onAppend?: OpenChainOptions["onAppend"];
        group?: CommitGroup;
        replicate?: OpenChainOptions["replicate"];
      },
    tail: ChainEvent | null,
    bytes = 0,
  ) {
    this.path = path;
    this.actor = options.actor;
    this.fsync = options.fsync;
    this.#file = file;
    this.#clock = options.clock;
    this.#onAppend = options.onAppend;
    this.#group = options.group ?? new CommitGroup();
    this.#replicate = options.replicate;
    this.#seq = tail ? tail.seq + 1 : 0;
    this.#head = tail?.hash ?? null;
    this.#bytes = bytes;
  }

  /**
   * A new, empty chain that is written nowhere: each event is sealed,
   * checked and handed to `onAppend` as it is appended. What replay uses
   * to compare what it computes with the record.
   */
  static inMemory(
    options: Pick<OpenChainOptions, "actor" | "clock" | "onAppend">,
  ): ChainWriter {
    checkActor(options.actor);
    return new ChainWriter("(memory)", null, {
      actor: options.actor,
      fsync: "none",
      clock: options.clock ?? Date.now,
      onAppend: options.onAppend,
    }, null);
  }

  /**
   * Opens (creating if needed) the chain at `path` for appending. Refuses a
   * symlink, a chain of another actor, and a chain whose last line is torn
   * or invalid, saying why.
   *
   * @throws {ChainWriteError}
   */
  static async open(
    path: string,
    options: OpenChainOptions,
  ): Promise<ChainWriter> {
    checkActor(options.actor);
    const fsync = options.fsync ?? "every-event";
    if (!FSYNC_POLICIES.includes(fsync)) {
      throw new ChainWriteError(`unknown fsync policy ${fsync}`);
    }
    const checkLink = (info: Deno.FileInfo) => {
      if (info.isSymlink) {
        throw new ChainWriteError(`${path}: refusing to append to a symlink`);
      }
      if (!info.isFile) {
        throw new ChainWriteError(`${path}: not a regular file`);
      }
    };
    let before: Deno.FileInfo | null = null;
    let file: Deno.FsFile | null = null;
    // Synchronous file-system calls here and below: each is a few µs,
    // where an async one is a thread-pool round trip (spawning actors
    // opens a chain each). A new chain is created exclusively (O_EXCL,
    // which follows no link), without a look that fails first.
    try {
      file = Deno.openSync(path, { append: true, createNew: true, read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw wrap(path, err);
    }
    if (!file) {
      try {
        before = Deno.lstatSync(path);
        checkLink(before);
        // A FIFO would block the open itself: only a regular file gets
        // this far.
        file = Deno.openSync(path, { append: true, read: true });
      } catch (err) {
        throw wrap(path, err);
      }
    }
    try {
      // Deno cannot open without following links: check after the open
      // that the path is still the file we hold (no link swapped in).
      const held = file.statSync();
      const now = Deno.lstatSync(path);
      checkLink(now);
      if (
        held.ino !== now.ino || held.dev !== now.dev ||
        (before && before.ino !== held.ino)
      ) {
        throw new ChainWriteError(
          `${path}: the file changed while it was being opened`,
        );
      }
      // One writer per chain, across processes (flock; released when the
      // process dies, so a crash leaves no stale lock).
      if (!file.tryLockSync(true)) {
        throw new ChainWriteError(
          `${path}: in use by another writer (another theater process?)`,
        );
      }
      // A new chain survives a crash only if its directory entry does.
      if (!before && fsync !== "none") await syncDirectory(dirname(path));
      // A chain this call created is empty: nothing to read back.
      const tail = !before
        ? null
        : options.check === "full"
        ? await fullTail(path, options.actor)
        : readTail(path, file, options.actor);
      return new ChainWriter(
        path,
        file,
        {
          actor: options.actor,
          fsync,
          clock: options.clock ?? Date.now,
          onAppend: options.onAppend,
          group: options.group,
          replicate: options.replicate,
        },
        tail,
        before ? file.statSync().size : 0,
      );
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Bytes in the chain file, counting every event appended so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The `seq` the next event will get. */
  get seq(): number {
    return this.#seq;
  }

  /** The hash of the last appended event, or null for an empty chain. */
  get head(): string | null {
    return this.#head;
  }

  /**
   * A timestamp from the writer's clock, for an event appended later (see
   * {@linkcode ChainWriter.appendAll}): in replay the clock hands out the
   * recorded timestamps in order.
   */
  tick(): number {
    return this.#clock();
  }

  /**
   * Appends one event. Its place in the chain is fixed now; the promise
   * resolves with the sealed event once it is durable per the fsync policy.
   *
   * @throws {TypeError} synchronously when the data does not fit the type.
   */
  append(
    type: EventType,
    data: { [key: string]: Json },
    options: { ts?: number } = {},
  ): Promise<ChainEvent> {
    return this.appendAll([{ type, data, ts: options.ts }])[0];
  }

  /**
   * Appends several events as one step: every event is sealed, checked and
   * canonicalised before any is committed, so either all of them take
   * their places in the chain or, when one cannot be recorded, none does.
   * Each promise resolves with its sealed event once it is durable.
   *
   * @throws {TypeError} synchronously, appending nothing, when an event's
   * data does not fit its type, has no canonical form, or is too long.
   */
  appendAll(
    events: { type: EventType; data: { [key: string]: Json }; ts?: number }[],
  ): Promise<ChainEvent>[] {
    if (!this.#replicate) return this.#append(events);
    const replicate = this.#replicate;
    const local = this.#append(
      events,
      (sealed) => {
        const copied = replicate(
          sealed.map(({ event, bytes }) => ({ event, line: bytes })),
        ).catch((err) => {
          this.#failed ??= new ChainWriteError(
            `${this.path}: events ${sealed[0].event.seq} to ${
              sealed.at(-1)!.event.seq
            } were not replicated: ${(err as Error).message}`,
          );
          throw this.#failed;
        });
        return sealed.map(() => copied);
      },
    );
    return local;
  }

  #append(
    events: { type: EventType; data: { [key: string]: Json }; ts?: number }[],
    copy?: (
      sealed: { event: ChainEvent; bytes: Uint8Array }[],
    ) => Promise<void>[],
  ): Promise<ChainEvent>[] {
    let copies: Promise<void>[] | null = null;
    const out = this.#appendLocal(events, (sealed) => {
      copies = copy?.(sealed) ?? null;
    });
    if (!copies) return out;
    const replicated: Promise<void>[] = copies;
    return out.map((p, i) => {
      const both = Promise.all([p, replicated[i]]).then(([event]) => event);
      // A caller may wait for a step's last event only; a refused copy is
      // sticky (#failed) and said by every later append, so the promises
      // it does not wait for must not end the process as unhandled.
      both.catch(() => {});
      return both;
    });
  }

  #appendLocal(
    events: { type: EventType; data: { [key: string]: Json }; ts?: number }[],
    onSealed: (sealed: { event: ChainEvent; bytes: Uint8Array }[]) => void,
  ): Promise<ChainEvent>[] {
    if (this.#closed) {
      const closed = new ChainWriteError(`${this.path}: closed`);
      return events.map(() => Promise.reject(closed));
    }
    if (this.#failed) {
      const failed = this.#failed;
      return events.map(() => Promise.reject(failed));
    }
    let seq = this.#seq;
    let head = this.#head;
    const sealed = events.map(({ type, data, ts }) => {
      // The writer makes the envelope (seq, actor, parent, hash) itself:
      // what it takes from the caller is checked here, the type, the time
      // and the data's members, before anything is sealed.
      if (!Object.hasOwn(TYPE_VERSION, type)) {
        throw new TypeError(
          `cannot append: unknown event type ${JSON.stringify(type)}`,
        );
      }
      const at = ts ?? this.#clock();
      if (!Number.isSafeInteger(at) || at < 0) {
        throw new TypeError(
          `cannot append ${type}: ts must be a non-negative integer (ms since the Unix epoch), got ${at}`,
        );
      }
      const problem = checkData(type, data);
      if (problem) throw new TypeError(`cannot append: ${problem.message}`);
      let event: ChainEvent;
      let bytes: Uint8Array;
      try {
        // One canonicalisation and one encoding: the hashed bytes and the
        // line come from them.
        ({ event, bytes } = sealLine({
          v: TYPE_VERSION[type],
          seq,
          actor: this.actor,
          parent: head,
          ts: at,
          type,
          data,
        }));
      } catch (err) {
        throw new TypeError(
          `cannot append ${type}: ${(err as Error).message}`,
        );
      }
      if (bytes.length - 1 > MAX_LINE_BYTES) {
        throw new TypeError(
          `cannot append: event is ${
            bytes.length - 1
          } bytes, over the limit of ${MAX_LINE_BYTES}`,
        );
      }
      seq++;
      head = event.hash;
      return { event, bytes };
    });
    for (const { bytes } of sealed) this.#bytes += bytes.length;
    onSealed(sealed);
    if (this.fsync !== "every-event" && this.#pumping === null) {
      // A synchronous write (about 1 µs) instead of a thread-pool round trip
      // per event; under `batch` only the fsync is waited for, and one
      // covers everything written before it started.
      try {
        if (this.#file) {
          writeAllSync(this.#file, concatBytes(sealed.map((e) => e.bytes)));
        }
      } catch (err) {
        this.#failed = wrap(this.path, err);
        const failed = this.#failed;
        return sealed.map(() => Promise.reject(failed));
      }
      const last = sealed.at(-1);
      if (last) {
        this.#seq = last.event.seq + 1;
        this.#head = last.event.hash;
      }
      if (this.fsync === "none") {
        for (const { event, bytes } of sealed) this.#onAppend?.(event, bytes);
        return sealed.map(({ event }) => Promise.resolve(event));
      }
      const promises = sealed.map(({ event, bytes }) =>
        new Promise<ChainEvent>((resolve, reject) => {
          this.#synced.push({ event, bytes, resolve, reject });
        })
      );
      this.#lastSync = Promise.allSettled(promises);
      if (!this.#requested) {
        this.#requested = true;
        this.#group.request(this.#commit);
      }
      return promises;
    }
    const promises = sealed.map(({ event, bytes }) => {
      this.#seq = event.seq + 1;
      this.#head = event.hash;
      return new Promise<ChainEvent>((resolve, reject) => {
        this.#queue.push({ bytes, event, resolve, reject });
      });
    });
    this.#pumping ??= this.#pump();
    return promises;
  }

  /** Resolves when everything appended so far is durable. */
  async flush(): Promise<void> {
    while (this.#pumping) await this.#pumping;
    await this.#lastSync;
    if (this.#failed) throw this.#failed;
  }

  /** Flushes, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#file?.close();
    }
  }

  /** Syncs what was written before this call; run by the commit group. */
  #commit = async (): Promise<void> => {
    this.#requested = false;
    const group = this.#synced.splice(0);
    try {
      if (this.#failed) throw this.#failed;
      await this.#file!.syncData();
    } catch (err) {
      this.#failed ??= wrap(this.path, err);
      for (const p of [...group, ...this.#synced.splice(0)]) {
        p.reject(this.#failed);
      }
      return;
    }
    for (const p of group) {
      this.#onAppend?.(p.event, p.bytes);
      p.resolve(p.event);
    }
  };

  async #pump(): Promise<void> {
    while (true) {
      if (this.#queue.length === 0) {
        // Cleared in the same turn as the check, so an append made after
        // this point always starts a new pump.
        this.#pumping = null;
        return;
      }
      const group = this.fsync === "every-event"
        ? this.#queue.splice(0, 1)
        : this.#queue.splice(0);
      try {
        await writeAll(this.#file!, concatBytes(group.map((p) => p.bytes)));
        if (this.fsync !== "none") await this.#file!.syncData();
      } catch (err) {
        this.#failed = wrap(this.path, err);
        for (const p of [...group, ...this.#queue.splice(0)]) {
          p.reject(this.#failed);
        }
        this.#pumping = null;
        return;
      }
      for (const p of group) {
        // Only what is on disk (per the policy) is reported as appended.
        this.#onAppend?.(p.event, p.bytes);
        p.resolve(p.event);
      }
    }
  }
}

/** @throws {ChainWriteError} for a string that is not an actor id. */
function checkActor(actor: string): void {
  if (!isActorId(actor)) {
    throw new ChainWriteError(`invalid actor id ${JSON.stringify(actor)}`);
  }
}

function wrap(path: string, err: unknown): ChainWriteError {
  if (err instanceof ChainWriteError) return err;
  return new ChainWriteError(`${path}: ${describeIoError(err)}`);
}

/** Makes a new directory entry durable (fsync of the directory). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    using d = await Deno.open(dir, { read: true });
    await d.syncData();
  } catch {
    // Not every file system lets a directory be synced; the entry is then
    // as durable as the system makes it.
  }
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

async function fullTail(
  path: string,
  actor: string,
): Promise<ChainEvent | null> {
  const info = await Deno.stat(path);
  if (info.size === 0) return null;
  // Appending needs the lines sound (checks 1-13), not the states rebuilt:
  // resume has folded them already.
  const report = await verifyChain(path, { actor, state: false });
  if (report.error) {
    const e = report.error;
    throw new ChainWriteError(
      `${path}:${e.line}: refusing to append: ${e.message}`,
    );
  }
  return readTail(path, await Deno.open(path), actor, true);
}

/**
 * Reads and checks the last line of a chain: it must end in `\n`, be a
 * valid event of this actor with a correct hash.
 */
function readTail(
  path: string,
  file: Deno.FsFile,
  actor: string,
  closeAfter = false,
): ChainEvent | null {
  try {
    const line = lastLine(file);
    if (line === null) return null;
    if (line === "torn") {
      throw new ChainWriteError(
        `${path}: refusing to append: torn tail (the last line has no newline; was a write interrupted?)`,
      );
    }
    if (line === "long") {
      throw new ChainWriteError(
        `${path}: refusing to append: last line is over ${MAX_LINE_BYTES} bytes`,
      );
    }
    const checked = checkLine(line);
    if ("reason" in checked) {
      throw new ChainWriteError(
        `${path}: refusing to append: last line is invalid: ${checked.message}`,
      );
    }
    if (checked.event.actor !== actor) {
      throw new ChainWriteError(
        `${path}: refusing to append: chain belongs to actor ${checked.event.actor}, not ${actor}`,
      );
    }
    return checked.event;
  } finally {
    if (closeAfter) file.close();
  }
}

/**
 * The bytes of a file's last line, without its newline; null when the file
 * is empty, `"torn"` when it does not end in a newline, `"long"` when the
 * line is longer than a line may be.
 */
function lastLine(file: Deno.FsFile): Uint8Array | "torn" | "long" | null {
  const size = file.statSync().size;
  if (size === 0) return null;
  const last = new Uint8Array(1);
  file.seekSync(size - 1, Deno.SeekMode.Start);
  file.readSync(last);
  if (last[0] !== 10) return "torn";
  return lineBefore(file, size - 1)?.bytes ?? "long";
}

/**
 * The bytes from the last newline before `end` up to `end`, read back
 * block by block, and where they start; null when that is longer than a
 * line may be.
 */
function lineBefore(
  file: Deno.FsFile,
  end: number,
): { start: number; bytes: Uint8Array } | null {
  let start = end;
  const blocks: Uint8Array[] = [];
  while (start > 0) {
    const from = Math.max(0, start - TAIL_BLOCK);
    const block = new Uint8Array(start - from);
    file.seekSync(from, Deno.SeekMode.Start);
    let got = 0;
    while (got < block.length) {
      const n = file.readSync(block.subarray(got));
      if (n === null) break;
      got += n;
    }
    const nl = block.lastIndexOf(10);
    blocks.unshift(nl === -1 ? block : block.subarray(nl + 1));
    if (nl !== -1) {
      start = from + nl + 1;
      break;
    }
    start = from;
    if (end - start > MAX_LINE_BYTES) return null;
  }
  return { start, bytes: concatBytes(blocks) };
}

/**
 * The last event of a chain file, checked (a complete line, valid, its
 * hash right), read from the end; null when the file is empty, missing,
 * or its last line is torn or invalid.
 */
export function lastEvent(path: string): ChainEvent | null {
  let file: Deno.FsFile;
  try {
    file = openRegularSync(path).file;
  } catch {
    return null;
  }
  try {
    const line = lastLine(file);
    if (typeof line === "string" || line === null) return null;
    const checked = checkLine(line);
    return "reason" in checked ? null : checked.event;
  } catch {
    return null;
  } finally {
    file.close();
  }
}

/** What {@linkcode cutTornTail} removed: its length and SHA-256. */
export interface Cut {
  /** How many bytes were cut. */
  bytes: number;
  /** Their SHA-256. */
  sha256: string;
}

/**
 * Cuts a torn final line (bytes after the last newline: a write that a
 * crash interrupted, never acknowledged) from a chain file, and says what
 * was cut; null when the file ends cleanly. Only regular files are
 * touched. Run it before opening the chain for appending, holding no
 * writer on it.
 *
 * @throws {ChainWriteError}
 */
export async function cutTornTail(path: string): Promise<Cut | null> {
  let file: Deno.FsFile;
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) throw new ChainWriteError(`${path}: not a regular file`);
    file = await Deno.open(path, { read: true, write: true });
  } catch (err) {
    throw wrap(path, err);
  }
  try {
    const size = (await file.stat()).size;
    if (size === 0) return null;
    const tail = lineBefore(file, size);
    if (!tail) {
      throw new ChainWriteError(
        `${path}: the last line is over ${MAX_LINE_BYTES} bytes and has no newline`,
      );
    }
    const torn = tail.bytes;
    if (torn.length === 0) return null;
    await file.truncate(tail.start);
    await file.syncData();
    return { bytes: torn.length, sha256: sha256Hex(torn) };
  } finally {
    file.close();
  }
}
