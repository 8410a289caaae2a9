// Copyright the Theater authors. MIT license.
// The guest's side of a gate (gate.ts): a synchronous call from a guest's
// host function into the gate worker. The guest thread posts the request
// and blocks in Atomics.wait on a shared buffer the gate writes the answer
// into; it touches no Deno API (the actor workers have none).
import type { Json } from "../chain/event.ts";

/** Bytes before the answer: seq, head length, body length (Int32 each). */
export const GATE_HEADER = 16;
/** Largest answer: a head of 1 MiB and a body of 256 MiB (a blob). */
export const GATE_MAX_ANSWER = GATE_HEADER + (1 << 20) + (256 << 20);

/** What the guest posts to the gate. */
export interface GateRequest {
  /** Answers carry it, so a late answer is never taken for the next. */
  seq: number;
  /** `get`: a blob (head: its hash); `fetch`: an HTTP request. */
  op: "get" | "fetch";
  /** The operation's arguments. */
  head: Json;
  /** A request body, if any. */
  body: Uint8Array | null;
  /** How long the gate may take, in ms. */
  timeoutMs: number;
  /** Where the answer goes (growable; shared with the gate). */
  buffer: SharedArrayBuffer;
}

/** What a gate answered: a JSON head and a body. */
export interface GateAnswer {
  /** The operation's result. */
  head: Json;
  /** The bytes (a blob, a response body); empty when none. */
  body: Uint8Array;
}

/** One guest thread's connection to one gate. */
export class GateClient {
  #port: MessagePort;
  #buffer: SharedArrayBuffer | null = null;
  #seq = 0;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  /**
   * Asks the gate and blocks until it answers or `waitMs` pass; null when
   * it did not answer in time.
   */
  call(
    op: GateRequest["op"],
    head: Json,
    options: { body?: Uint8Array | null; timeoutMs: number; waitMs: number },
  ): GateAnswer | null {
    // Made on first use: most actors never use a gate.
    this.#buffer ??= new (SharedArrayBuffer as unknown as {
      new (n: number, o: { maxByteLength: number }): SharedArrayBuffer;
    })(64 * 1024, { maxByteLength: GATE_MAX_ANSWER });
    const buffer = this.#buffer;
    const flags = new Int32Array(buffer, 0, 4);
    const seq = ++this.#seq;
    const request: GateRequest = {
      seq,
      op,
      head,
      body: options.body ?? null,
      timeoutMs: options.timeoutMs,
      buffer,
    };
    this.#port.postMessage(request);
    const until = performance.now() + options.waitMs;
    for (;;) {
      const seen = Atomics.load(flags, 0);
      if (seen === seq) break;
      const left = until - performance.now();
      if (left <= 0) return null;
      Atomics.wait(flags, 0, seen, left);
    }
    const headBytes = new Uint8Array(buffer, GATE_HEADER, flags[1]).slice();
    const body = new Uint8Array(buffer, GATE_HEADER + flags[1], flags[2])
      .slice();
    return { head: JSON.parse(new TextDecoder().decode(headBytes)), body };
  }
}

/**
 * Writes an answer into a request's buffer and wakes the guest: the gate
 * worker's side of {@linkcode GateClient.call}.
 */
export function answer(
  request: GateRequest,
  head: Json,
  body: Uint8Array = new Uint8Array(0),
): void {
  const buffer = request.buffer as SharedArrayBuffer & {
    grow(n: number): void;
  };
  let headBytes = new TextEncoder().encode(JSON.stringify(head));
  let size = GATE_HEADER + headBytes.length + body.length;
  if (size > GATE_MAX_ANSWER) {
    headBytes = new TextEncoder().encode(
      JSON.stringify({ err: `answer of ${size} bytes is too large` }),
    );
    body = new Uint8Array(0);
    size = GATE_HEADER + headBytes.length;
  }
  if (buffer.byteLength < size) buffer.grow(size);
  new Uint8Array(buffer, GATE_HEADER, headBytes.length).set(headBytes);
  new Uint8Array(buffer, GATE_HEADER + headBytes.length, body.length).set(body);
  const flags = new Int32Array(buffer, 0, 4);
  flags[1] = headBytes.length;
  flags[2] = body.length;
  Atomics.store(flags, 0, request.seq);
  Atomics.notify(flags, 0);
}
