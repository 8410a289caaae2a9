// Copyright the Theater authors. MIT license.
// The gate worker against a hostile origin: a small compressed body that
// decodes to far more than the grant allows.
import assert from "node:assert/strict";
import { constants, createBrotliCompress, createGzip } from "node:zlib";
import type { Transform } from "node:stream";

const PROBE = new URL("./testdata/gate_probe.ts", import.meta.url).pathname;
const MAX = 1024 * 1024;
const MiB = 1024 * 1024;

/** `mib` MiB of zeros through a node:zlib compressor, fed in 1 MiB pieces. */
async function compressZeros(c: Transform, mib: number): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  c.on("data", (d: Uint8Array) => out.push(d));
  const ended = new Promise((resolve) => c.on("end", resolve));
  const zeros = new Uint8Array(MiB);
  for (let i = 0; i < mib; i++) {
    if (!c.write(zeros)) await new Promise((r) => c.once("drain", r));
  }
  c.end();
  await ended;
  const whole = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of out) whole.set(b, at), at += b.length;
  return whole;
}

interface ProbeResult {
  head: { err?: string; ok?: unknown };
  bodyBytes: number;
  peakKiB: number;
}

async function probe(url: string): Promise<ProbeResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      // Reading /proc/self/status needs every permission in Deno; the
      // gate worker still runs with only its grant's.
      "--allow-all",
      PROBE,
      url,
      String(MAX),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `gate probe exited ${out.code}: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("gate: a compressed body is counted as it is decoded and stopped at max_response_bytes, whatever its Content-Length", async () => {
  // Both well under the limit on the wire, 512 MiB and more decoded.
  const bodies: Record<string, { bytes: Uint8Array; decoded: number }> = {
    br: {
      bytes: await compressZeros(
        createBrotliCompress({
          params: { [constants.BROTLI_PARAM_QUALITY]: 1 },
        }),
        1024,
      ),
      decoded: 1024 * MiB,
    },
    gzip: {
      bytes: await compressZeros(createGzip({ level: 9 }), 512),
      decoded: 512 * MiB,
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const encoding = new URL(req.url).pathname.slice(1);
      const body = bodies[encoding];
      if (!body) return new Response("no such bomb", { status: 404 });
      return new Response(body.bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-encoding": encoding,
          "content-length": String(body.bytes.length),
          "content-type": "application/octet-stream",
        },
      });
    },
  );
  try {
    for (const [encoding, body] of Object.entries(bodies)) {
      assert.ok(body.bytes.length < MAX, `${encoding} bomb fits the grant`);
      const url = `http://127.0.0.1:${server.addr.port}/${encoding}`;
      const result = await probe(url);
      assert.equal(
        result.head.err,
        `response body over the grant's ${MAX} bytes (max_response_bytes)`,
        `${encoding}: ${JSON.stringify(result.head)}`,
      );
      assert.equal(result.bodyBytes, 0);
      // Read whole, the decoded body alone would take the process past
      // its decoded size; counted, the gate holds about one limit's worth.
      const peak = result.peakKiB * 1024;
      assert.ok(
        peak < body.decoded / 2,
        `${encoding}: the gate's process peaked at ${
          (peak / MiB).toFixed(0)
        } MiB for a body of ${body.bytes.length} bytes that decodes to ${
          body.decoded / MiB
        } MiB`,
      );
    }
  } finally {
    await server.shutdown();
  }
});
