// Copyright the Theater authors. MIT license.
// Entry of the gate workers (gate.ts). A gate runs with the permissions of
// its grant and nothing more: read of the run's blob store, and net to the
// granted hosts only, so Deno itself refuses any other host. It answers
// the guests' synchronous calls over the ports the host hands it.
import { createHmac } from "node:crypto";
import { sha256Hex } from "../chain/canonical.ts";
import { concatBytes, toHex } from "../chain/bytes.ts";
import type { Json } from "../chain/event.ts";
import { answer, type GateRequest } from "./_gate_client.ts";
import { type HttpGrant, MAX_REDIRECTS, refusal } from "./http_grant.ts";

/** How a gate is set up: sent once, before any port. */
export interface GateConfig {
  /** The run's blob store, or null when there is none. */
  storeDir: string | null;
  /** The HTTP grant, or null: every fetch is refused. */
  grant: HttpGrant | null;
  /** The values of the grant's secret headers, in its order. */
  secrets: string[];
  /** Key of the recorded HMAC of each secret value. */
  hmacKey: Uint8Array | null;
}

/** Messages the host sends to a gate worker. */
export type ToGate =
  | { type: "config"; config: GateConfig }
  | { type: "port"; port: MessagePort };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ToGate>) => void) | null;
};

let config: GateConfig = {
  storeDir: null,
  grant: null,
  secrets: [],
  hmacKey: null,
};

scope.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "config") {
    config = msg.config;
    return;
  }
  // Each guest's calls are answered one after another, in order.
  let queue = Promise.resolve();
  msg.port.onmessage = (e: MessageEvent<GateRequest>) => {
    queue = queue.then(() => serve(e.data)).catch(() => {});
  };
};

async function serve(request: GateRequest): Promise<void> {
  try {
    if (request.op === "get") {
      const { head, body } = await getBlob(String(request.head));
      answer(request, head, body);
    } else {
      const { head, body } = await fetchGranted(request);
      answer(request, head, body);
    }
  } catch (err) {
    answer(request, { err: `gate failed: ${(err as Error).message}` });
  }
}

async function getBlob(
  hash: string,
): Promise<{ head: Json; body?: Uint8Array }> {
  if (!config.storeDir || !/^[0-9a-f]{64}$/.test(hash)) return { head: null };
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${config.storeDir}/${hash}`);
  } catch {
    return { head: null };
  }
  // A blob that does not match its name is as good as missing; `verify`
  // reports it.
  if (sha256Hex(bytes) !== hash) return { head: null };
  return { head: { size: bytes.length }, body: bytes };
}

interface FetchHead {
  method: string;
  url: string;
  headers: [string, string][];
}

async function fetchGranted(
  request: GateRequest,
): Promise<{ head: Json; body?: Uint8Array }> {
  const grant = config.grant;
  if (!grant) return { head: { err: "this actor has no HTTP grant" } };
  const want = request.head as unknown as FetchHead;
  let method = want.method.toUpperCase();
  let url = want.url;
  let body: Uint8Array | null = request.body;
  const refused = refusal(grant, {
    method,
    url,
    bodyBytes: body?.length ?? 0,
  });
  if (refused) return { head: { err: refused } };
  const headers = new Headers();
  try {
    for (const [name, value] of want.headers) headers.append(name, value);
  } catch (err) {
    return { head: { err: `bad header: ${(err as Error).message}` } };
  }
  const secrets: { header: string; hmac: string }[] = [];
  grant.secretHeaders.forEach((s, i) => {
    const value = config.secrets[i] ?? "";
    headers.set(s.header, s.prefix + value);
    const mac = createHmac("sha256", config.hmacKey ?? new Uint8Array(32))
      .update(new TextEncoder().encode(value)).digest();
    secrets.push({ header: s.header, hmac: toHex(new Uint8Array(mac)) });
  });
  // The grant's time, or what is left of the guest's call if less.
  const timeoutMs = Math.max(1, Math.min(request.timeoutMs, grant.timeoutMs));
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  for (let hop = 0;; hop++) {
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body && method !== "GET" && method !== "HEAD"
          ? body as Uint8Array<ArrayBuffer>
          : undefined,
        redirect: "manual",
        signal,
      });
    } catch (err) {
      return { head: { err: fetchError(err, url, timeoutMs) } };
    }
    const location = response.headers.get("location");
    if (
      ![301, 302, 303, 307, 308].includes(response.status) || !location
    ) break;
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) {
      return { head: { err: `more than ${MAX_REDIRECTS} redirects` } };
    }
    const next = new URL(location, url).href;
    if (
      response.status === 303 ||
      ((response.status === 301 || response.status === 302) &&
        method === "POST")
    ) {
      method = "GET";
      body = null;
    }
    const off = refusal(grant, { method, url: next, bodyBytes: 0 });
    if (off) return { head: { err: `redirect to ${next} refused: ${off}` } };
    url = next;
  }
  const max = grant.maxResponseBytes;
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > max) {
    await response.body?.cancel();
    return { head: { err: oversize(max) } };
  }
  let out: Uint8Array;
  try {
    const read = await readCapped(response, max);
    if (!read) return { head: { err: oversize(max) } };
    out = read;
  } catch (err) {
    return { head: { err: fetchError(err, url, timeoutMs) } };
  }
  let responseHeaders = [...response.headers];
  // A server that echoes a secret (an error page, a debug endpoint) must
  // not hand it to the actor, nor to the chain.
  for (const value of config.secrets) {
    if (value.length < 4) continue;
    out = redact(out, new TextEncoder().encode(value));
    responseHeaders = responseHeaders.map(([k, v]) => [
      k,
      v.replaceAll(value, REDACTED),
    ]);
  }
  return {
    head: {
      ok: {
        status: response.status,
        headers: responseHeaders,
        ...(secrets.length ? { secrets } : {}),
      },
    },
    body: out,
  };
}

/**
 * The body of `response`, or null when it is over `max` bytes. Counted as
 * it is read, always: `fetch` decodes a `Content-Encoding` itself, so a
 * declared length is the size on the wire, and a small brotli or gzip
 * body can decode to gigabytes.
 */
async function readCapped(
  response: Response,
  max: number,
): Promise<Uint8Array | null> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

const REDACTED = "[secret]";

/** `bytes` with every occurrence of `needle` replaced by `[secret]`. */
function redact(bytes: Uint8Array, needle: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const mark = new TextEncoder().encode(REDACTED);
  let from = 0;
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let k = 0; k < needle.length; k++) {
      if (bytes[i + k] !== needle[k]) continue outer;
    }
    parts.push(bytes.subarray(from, i), mark);
    i += needle.length - 1;
    from = i + 1;
  }
  if (parts.length === 0) return bytes;
  parts.push(bytes.subarray(from));
  return concatBytes(parts);
}

function oversize(max: number): string {
  return `response body over the grant's ${max} bytes (max_response_bytes)`;
}

function fetchError(err: unknown, url: string, timeoutMs: number): string {
  const e = err as Error;
  if (e?.name === "TimeoutError" || e?.name === "AbortError") {
    return `timed out after ${timeoutMs} ms`;
  }
  if (e?.name === "NotCapable" || e?.name === "PermissionDenied") {
    return `refused by the gate's network permission: ${e.message}`;
  }
  const origin = new URL(url).origin;
  return `cannot reach ${origin}: ${
    (e?.message ?? String(err)).replace(/^error sending request[^:]*: /, "")
  }`;
}
