// Copyright the Theater authors. MIT license.
/**
 * Load on `theater serve` (a separate process, as a user runs it), printed
 * when the file loads:
 *
 * 1. 100 concurrent SSE subscribers to a run whose counter is sent 250
 *    messages/s (1,000 events/s) for 10 s: every subscriber must receive
 *    every event, in seq order, none missed;
 * 2. 1,000 API `send` requests/s for 10 s: every one must be accepted;
 *
 * with the server's peak RSS. Baseline, in the same run: a bare Deno HTTP
 * server's round trip from the same client, against which the API
 * request's latency is a ratio.
 *
 * @module
 */
import { join } from "node:path";
import { serveProcess } from "../tools/serve_process.ts";

const COUNTER = new URL("../examples/counter/manifest.json", import.meta.url)
  .pathname;
const SUBSCRIBERS = 100;
const SECONDS = 10;

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
const tokenFile = join(dir, "token");
const serve = await serveProcess(dir, tokenFile, { cache: true });
const server = serve.child;
const url = serve.url;
const token = (await Deno.readTextFile(tokenFile)).trim();
const headers = { authorization: `Bearer ${token}` };

let peakRss = 0;
const sampler = setInterval(async () => {
  const ps = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(server.pid)],
    stdout: "piped",
  }).output();
  const kb = Number(new TextDecoder().decode(ps.stdout).trim());
  if (kb * 1024 > peakRss) peakRss = kb * 1024;
}, 100);

async function post(path: string, body: unknown): Promise<number> {
  const res = await fetch(url + path, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

/** Fires `perSecond` calls of `fn` for `seconds`, paced every 10 ms. */
async function paced(
  perSecond: number,
  seconds: number,
  fn: () => Promise<boolean>,
): Promise<{ sent: number; failed: number; ms: number }> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  let failed = 0;
  const total = perSecond * seconds;
  while (sent < total) {
    const due = Math.min(
      total,
      Math.floor((performance.now() - started) / 1000 * perSecond) + 1,
    );
    while (sent < due) {
      sent++;
      pending.push(
        fn().then((ok) => {
          if (!ok) failed++;
        }, () => {
          failed++;
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
  return { sent, failed, ms: performance.now() - started };
}

// 1. Subscribers.
await post("/api/runs", { manifest: COUNTER, id: "load" });
const abort = new AbortController();
const counts: number[] = [];
const gaps: number[] = [];
const subscribers = Array.from({ length: SUBSCRIBERS }, async (_, i) => {
  counts[i] = 0;
  gaps[i] = 0;
  let last = -1;
  const res = await fetch(`${url}/api/runs/load/actors/counter/events`, {
    headers,
    signal: abort.signal,
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  abort.signal.addEventListener(
    "abort",
    () => void reader.cancel().catch(() => {}),
  );
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const id = /^id: counter:(\d+)$/m.exec(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (!id) continue;
        const seq = Number(id[1]);
        if (seq !== last + 1) gaps[i]++;
        last = seq;
        counts[i]++;
      }
    }
  } catch {
    // Cancelled at the end.
  }
});
await new Promise((r) => setTimeout(r, 1000));
const phase1 = await paced(
  250,
  SECONDS,
  async () =>
    (await post("/api/runs/load/actors/counter/send", { msg: "inc" })) === 202,
);
// Then wait (up to 60 s) for every subscriber to have every event.
const info = await (await fetch(`${url}/api/runs/load`, { headers })).json();
const events: number = info.actors[0].events;
const waitStart = performance.now();
while (
  Math.min(...counts) < events && performance.now() - waitStart < 60_000
) await new Promise((r) => setTimeout(r, 50));
const lagMs = performance.now() - waitStart;
abort.abort();
await Promise.all(subscribers);
const complete = counts.filter((c, i) => c === events && gaps[i] === 0).length;

// 2. 1,000 sends a second.
await post("/api/runs", { manifest: COUNTER, id: "sends" });
const latencies: number[] = [];
const phase2 = await paced(1000, SECONDS, async () => {
  const t = performance.now();
  const status = await post("/api/runs/sends/actors/counter/send", {
    msg: "inc",
  });
  latencies.push(performance.now() - t);
  return status === 202;
});

// Baseline: a bare HTTP round trip from this client to a Deno server.
const bare = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response(null, { status: 202 }),
);
const bareLatencies: number[] = [];
await paced(1000, 3, async () => {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${bare.addr.port}/`, {
    method: "POST",
    body: "{}",
  });
  await res.body?.cancel();
  bareLatencies.push(performance.now() - t);
  return res.status === 202;
});
await bare.shutdown();
clearInterval(sampler);
server.kill("SIGTERM");
await server.status;
await Deno.remove(dir, { recursive: true });

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
const api = median(latencies);
const base = median(bareLatencies);
console.log(`serve load (${SECONDS} s each):
  1. ${SUBSCRIBERS} SSE subscribers, ${phase1.sent} sends at 250/s (${
  failed(phase1)
}): chain has ${events} events; ${complete}/${SUBSCRIBERS} subscribers got all of them in order (min ${
  Math.min(...counts)
}, gaps ${gaps.reduce((a, b) => a + b, 0)}), the last ${
  (lagMs / 1000).toFixed(1)
} s after the last send
  2. ${phase2.sent} sends at 1000/s in ${
  (phase2.ms / 1000).toFixed(1)
} s: ${phase2.failed} failed; median latency ${api.toFixed(2)} ms
  baseline: bare Deno HTTP round trip ${base.toFixed(2)} ms; API send / bare: ${
  (api / base).toFixed(1)
}x
  server peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);

function failed(p: { failed: number }): string {
  return `${p.failed} failed`;
}
