// Copyright the Theater authors. MIT license.
/**
 * Chain benchmarks: verify throughput against bare `node:crypto` SHA-256 over
 * the same lines (the floor verify cannot beat), and append throughput under
 * each fsync policy. Run: `deno task bench bench/chain_bench.ts`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ChainWriter, type FsyncPolicy, verifyChain } from "../chain/mod.ts";

const EVENTS = 20_000;
const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
const path = join(dir, "bench.jsonl");
{
  const writer = await ChainWriter.open(path, {
    actor: "bench",
    fsync: "none",
  });
  for (let i = 0; i < EVENTS; i++) {
    writer.append("handle.ok", {
      state: { count: i, history: [i, i + 1, i + 2] },
      reply: { ok: true, count: i },
    });
  }
  await writer.close();
}
const bytes = await Deno.readFile(path);
const lines: Uint8Array[] = [];
for (let start = 0; start < bytes.length;) {
  const end = bytes.indexOf(10, start);
  lines.push(bytes.subarray(start, end));
  start = end + 1;
}
console.log(
  `verify group: ${EVENTS} events, ${(bytes.length / 1e6).toFixed(1)} MB`,
);

Deno.bench("node:crypto sha256 of every line", {
  group: "verify",
  baseline: true,
}, () => {
  for (const line of lines) createHash("sha256").update(line).digest("hex");
});

Deno.bench("verifyChain (read, parse, canonicalize, hash, link)", {
  group: "verify",
}, async () => {
  const report = await verifyChain(path);
  if (!report.ok) throw new Error(report.error?.message);
});

const BATCH = 10;
for (const fsync of ["none", "batch", "every-event"] as FsyncPolicy[]) {
  const writer = await ChainWriter.open(join(dir, `append_${fsync}.jsonl`), {
    actor: "bench",
    fsync,
  });
  Deno.bench(`append ${BATCH} events, fsync ${fsync}`, {
    group: "append",
    baseline: fsync === "none",
  }, async () => {
    const pending = [];
    for (let i = 0; i < BATCH; i++) {
      pending.push(
        writer.append("message.in", {
          from: "external",
          msg: { op: "add", n: i },
          link: null,
        }),
      );
    }
    await Promise.all(pending);
  });
}
