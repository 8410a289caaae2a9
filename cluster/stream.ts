// Copyright the Theater authors. MIT license.
/**
 * Chains in NATS JetStream (docs/cluster.md): every event of a run is also
 * published to the stream `THEATER`, one subject per actor
 * (`theater.chain.<run>.<actor>`), each with JetStream's
 * expected-last-subject-sequence, so that the stream itself refuses a
 * second writer of an actor (a split brain, a zombie copy). An event is
 * acknowledged only once it is in the stream. Components go into the
 * object store `theater-components`, named by SHA-256.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { connections } from "./_connection.ts";
import { publishStep } from "./_publish.ts";
import { type ChainEvent, eventLine, readEvents } from "../chain/mod.ts";
import type { Replication } from "../supervisor/mod.ts";

/** The stream every chain is published to. */
export const STREAM = "THEATER";
/** The first tokens of every chain's subject. */
export const SUBJECT_PREFIX = "theater.chain";
/** The object store of components, by SHA-256. */
export const COMPONENT_BUCKET = "theater-components";
/** The stream of witness cosignatures and alerts. */
export const WITNESS_STREAM = "THEATER_WITNESS";
/** The first tokens of a cosignature's subject (then run and actor). */
export const COSIGN_PREFIX = "theater.witness";
/** Where witnesses publish what they found wrong. */
export const ALERTS_SUBJECT = "theater.alerts";
/**
 * The file `pull` writes a run's witness alerts to (one JSON object per
 * line; not `.jsonl`, which names chains), which `theater verify` shows.
 */
export const ALERTS_FILE = "witness-alerts.ndjson";

/** The subject of an actor's chain in a run. */
export function subjectOf(run: string, actor: string): string {
  return `${SUBJECT_PREFIX}.${run}.${actor}`;
}

/** The actor a chain subject of `run` names. */
export function actorOf(run: string, subject: string): string {
  return subject.slice(`${SUBJECT_PREFIX}.${run}.`.length);
}

/**
 * Most bytes of chain lines a catch-up message carries (NATS' default
 * max_payload is 1 MiB); a step appended live is always one message.
 */
export const STEP_BYTES = 512 * 1024;

/** Lines (with or without their newline) as one message body. */
function joinLines(lines: Uint8Array[]): Uint8Array {
  const bare = lines.map((l) => l.at(-1) === 10 ? l.subarray(0, -1) : l);
  let size = bare.length - 1;
  for (const l of bare) size += l.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const l of bare) {
    if (at > 0) out[at++] = 10;
    out.set(l, at);
    at += l.length;
  }
  return out;
}

/** A chain copy the stream refuses, or that the stream contradicts. */
export class StreamError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "StreamError";
}

/** A connection to a NATS server with JetStream. */
export class Cluster {
  #nc: NatsConnection;
  #js: JetStreamClient;
  #jsm: JetStreamManager;

  private constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
  ) {
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    connections.set(this, nc);
  }

  /** The stream sequence of the last event of an actor's chain, or null. */
  async lastSequence(run: string, actor: string): Promise<number | null> {
    return (await this.#lastOf(subjectOf(run, actor)))?.seq ?? null;
  }

  /** Connects and makes sure the stream exists. */
  static async connect(url: string): Promise<Cluster> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: url.replace(/^nats:\/\//, ""),
        name: "theater",
      });
    } catch (err) {
      throw new StreamError(
        `cannot reach NATS at ${url}: ${(err as Error).message}`,
      );
    }
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(STREAM);
    } catch {
      await jsm.streams.add({
        name: STREAM,
        subjects: [`${SUBJECT_PREFIX}.>`],
      });
    }
    try {
      await jsm.streams.info(WITNESS_STREAM);
    } catch {
      await jsm.streams.add({
        name: WITNESS_STREAM,
        subjects: [`${COSIGN_PREFIX}.>`, ALERTS_SUBJECT],
      });
    }
    return new Cluster(nc, jetstream(nc), jsm);
  }

  /** The runs that have chains in the stream. */
  async runs(): Promise<string[]> {
    const info = await this.#jsm.streams.info(STREAM, {
      subjects_filter: `${SUBJECT_PREFIX}.>`,
    });
    const runs = new Set<string>();
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      runs.add(subject.split(".")[2]);
    }
    return [...runs].sort();
  }

  /** Publishes a witness's cosignature of an actor's chain. */
  async publishCosignature(
    run: string,
    actor: string,
    text: string,
  ): Promise<void> {
    await this.#js.publish(`${COSIGN_PREFIX}.${run}.${actor}`, text);
  }

  /** Publishes an alert (a JSON object) on the alerts subject. */
  async publishAlert(alert: Record<string, unknown>): Promise<void> {
    await this.#js.publish(ALERTS_SUBJECT, JSON.stringify(alert));
  }

  /** The alerts published so far, oldest first. */
  async alerts(): Promise<Record<string, unknown>[]> {
    const info = await this.#jsm.streams.info(WITNESS_STREAM, {
      subjects_filter: ALERTS_SUBJECT,
    });
    const total = info.state.subjects?.[ALERTS_SUBJECT] ?? 0;
    return (await this.#read(WITNESS_STREAM, ALERTS_SUBJECT, total))
      .map((text) => JSON.parse(text));
  }

  /** The first `total` messages of a subject, as text, in order. */
  async #read(
    stream: string,
    subject: string,
    total: number,
  ): Promise<string[]> {
    const out: string[] = [];
    if (total === 0) return out;
    const consumer = await this.#js.consumers.get(stream, {
      filter_subjects: subject,
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      out.push(m.string());
      if (out.length === total) break;
    }
    await messages.close();
    return out;
  }

  /** How many stream messages each actor of a run has, by actor. */
  async subjects(run: string): Promise<Map<string, number>> {
    const prefix = `${SUBJECT_PREFIX}.${run}.`;
    const info = await this.#jsm.streams.info(STREAM, {
      subjects_filter: `${prefix}>`,
    });
    const out = new Map<string, number>();
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      out.set(actorOf(run, subject), n);
    }
    return out;
  }

  /**
   * The next `count` messages of an actor's subject after stream sequence
   * `after`, each with its stream sequence: what a follower has not read.
   */
  async messagesAfter(
    run: string,
    actor: string,
    after: number,
    count: number,
  ): Promise<{ seq: number; text: string }[]> {
    const out: { seq: number; text: string }[] = [];
    if (count <= 0) return out;
    const consumer = await this.#js.consumers.get(STREAM, {
      filter_subjects: subjectOf(run, actor),
      deliver_policy: "by_start_sequence" as DeliverPolicy,
      opt_start_seq: after + 1,
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      out.push({ seq: m.seq, text: m.string() });
      if (out.length === count) break;
    }
    await messages.close();
    return out;
  }

  /** A component's bytes from the object store, or null. */
  async component(sha256: string): Promise<Uint8Array | null> {
    const os = await new Objm(this.#nc).create(COMPONENT_BUCKET);
    return await os.getBlob(sha256);
  }

  /** The latest cosignature of an actor's chain, or null. */
  async cosignature(run: string, actor: string): Promise<string | null> {
    try {
      const m = await this.#jsm.streams.getMessage(WITNESS_STREAM, {
        last_by_subj: `${COSIGN_PREFIX}.${run}.${actor}`,
      });
      return m ? m.string() : null;
    } catch {
      return null;
    }
  }

  /** The replication of one run's chains. */
  run(run: string): Replication {
    return {
      attach: (actor, chainPath) => this.#attach(run, actor, chainPath),
      keepComponent: (sha256, bytes) => this.#keepComponent(sha256, bytes),
    };
  }

  async #lastOf(
    subject: string,
  ): Promise<{ seq: number; event: ChainEvent } | null> {
    try {
      const m = await this.#jsm.streams.getMessage(STREAM, {
        last_by_subj: subject,
      });
      if (!m) return null;
      // A message is one step: its last line is the subject's last event.
      const text = m.string();
      const last = text.slice(text.lastIndexOf("\n") + 1);
      return { seq: m.seq, event: JSON.parse(last) as ChainEvent };
    } catch (err) {
      if (/no message found|not found/i.test((err as Error).message)) {
        return null;
      }
      throw err;
    }
  }

  async #attach(
    run: string,
    actor: string,
    chainPath: string,
  ): Promise<
    (sealed: { event: ChainEvent; line: Uint8Array }[]) => Promise<void>
  > {
    const subject = subjectOf(run, actor);
    const last = await this.#lastOf(subject);
    let expected = last?.seq ?? 0;
    // The stream's last event: the next step must follow it (seq and
    // parent), whatever the local chain says.
    let head = last ? { seq: last.event.seq, hash: last.event.hash } : null;
    const local: { event: ChainEvent; line: Uint8Array }[] = [];
    let localLast = -1;
    const exists = await Deno.stat(chainPath).then(() => true, () => false);
    const encoder = new TextEncoder();
    if (exists) {
      for await (const event of readEvents(chainPath)) {
        localLast = event.seq;
        if (last && event.seq <= last.event.seq) {
          if (event.seq === last.event.seq && event.hash !== last.event.hash) {
            throw new StreamError(
              `${subject}: the stream's event ${event.seq} is not this chain's (a fork): refusing to write`,
            );
          }
          continue;
        }
        local.push({ event, line: encoder.encode(eventLine(event)) });
      }
    }
    // A copy that ends before the stream does (pulled before another
    // writer's last step landed, or left from an earlier tenure) would
    // write its next step at a seq the stream already holds: a fork.
    if (last && last.event.seq > localLast) {
      throw new StreamError(
        `${subject}: the stream holds events up to ${last.event.seq}, this copy only up to ${localLast}: another node writes this actor (pull the run first)`,
      );
    }
    const send = async (
      lines: Uint8Array[],
      first: ChainEvent,
      end: ChainEvent,
    ) => {
      const follows = (head?.seq ?? -1) + 1;
      if (first.seq !== follows || first.parent !== (head?.hash ?? null)) {
        throw new StreamError(
          `${subject}: event ${first.seq} does not follow the stream's last event ${
            head?.seq ?? "(none)"
          }: another writer has this actor`,
        );
      }
      expected = await this.#publish(subject, joinLines(lines), {
        expected,
        msgID: end.hash,
      });
      head = { seq: end.seq, hash: end.hash };
    };
    // What the stream lacks (written here, not acknowledged before a
    // crash), in messages of at most STEP_BYTES.
    let batch: { event: ChainEvent; line: Uint8Array }[] = [];
    let size = 0;
    const flush = async () => {
      await send(batch.map((b) => b.line), batch[0].event, batch.at(-1)!.event);
      batch = [];
      size = 0;
    };
    for (const entry of local) {
      if (batch.length > 0 && size + entry.line.length > STEP_BYTES) {
        await flush();
      }
      batch.push(entry);
      size += entry.line.length;
    }
    if (batch.length > 0) await flush();
    let tail: Promise<unknown> = Promise.resolve();
    return (sealed) => {
      const done = tail.then(() =>
        send(
          sealed.map((s) => s.line),
          sealed[0].event,
          sealed.at(-1)!.event,
        )
      );
      tail = done.catch(() => {});
      return done;
    };
  }

  async #publish(
    subject: string,
    body: Uint8Array,
    step: { expected: number; msgID: string },
  ): Promise<number> {
    try {
      return await publishStep(
        (options) => this.#js.publish(subject, body, options),
        step,
      );
    } catch (err) {
      throw new StreamError(
        `${subject}: refused by JetStream (${
          (err as Error).message
        }): another writer has this actor`,
      );
    }
  }

  async #keepComponent(sha256: string, bytes: Uint8Array): Promise<void> {
    const os = await new Objm(this.#nc).create(COMPONENT_BUCKET);
    if (await os.info(sha256)) return;
    await os.putBlob({ name: sha256 }, bytes);
  }

  /**
   * Copies a run's chains and components from the stream into `dir`
   * (`<actor>.jsonl`, `components/<sha256>.wasm`), where every offline
   * command works on them. Returns the actors copied.
   *
   * @param options.skip actors to leave alone (a node's own live ones).
   */
  async pull(
    run: string,
    dir: string,
    options: { skip?: (actor: string) => boolean } = {},
  ): Promise<string[]> {
    await Deno.mkdir(dir, { recursive: true });
    const prefix = `${SUBJECT_PREFIX}.${run}.`;
    const info = await this.#jsm.streams.info(STREAM, {
      subjects_filter: `${prefix}>`,
    });
    const subjects = Object.keys(info.state.subjects ?? {}).sort();
    const components = new Set<string>();
    const actors: string[] = [];
    for (const subject of subjects) {
      const actor = actorOf(run, subject);
      if (options.skip?.(actor)) continue;
      // A message is a step: one or more lines.
      const lines = (await this.#read(
        STREAM,
        subject,
        info.state.subjects![subject],
      )).flatMap((text) => text.split("\n"));
      for (const text of lines) {
        const event = JSON.parse(text) as ChainEvent;
        if (event.type === "actor.start" || event.type === "actor.resume") {
          components.add(String(event.data.component));
        }
      }
      await Deno.writeTextFile(
        `${dir}/${actor}.jsonl`,
        lines.join("\n") + "\n",
      );
      const cosigned = await this.cosignature(run, actor);
      if (cosigned) {
        await Deno.writeTextFile(`${dir}/${actor}.cosignature`, cosigned);
      }
      actors.push(actor);
    }
    const alerts = (await this.alerts()).filter((a) => a.run === run);
    if (alerts.length > 0) {
      await Deno.writeTextFile(
        `${dir}/${ALERTS_FILE}`,
        alerts.map((a) => JSON.stringify(a) + "\n").join(""),
      );
    } else {
      await Deno.remove(`${dir}/${ALERTS_FILE}`).catch(() => {});
    }
    const os = await new Objm(this.#nc).create(COMPONENT_BUCKET);
    await Deno.mkdir(`${dir}/components`, { recursive: true });
    for (const sha256 of components) {
      const bytes = await os.getBlob(sha256);
      if (bytes) {
        await Deno.writeFile(`${dir}/components/${sha256}.wasm`, bytes);
      }
    }
    return actors;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#nc.drain().catch(() => {});
  }
}
