// Copyright the Theater authors. MIT license.
// One fetch through a real gate worker, in a process of its own so that
// its peak memory is the gate's: `gate_probe.ts <url> <max_response_bytes>`
// prints {"head": <the gate's answer>, "bodyBytes": n, "peakKiB": n}.
import { Gate } from "../gate.ts";
import { GateClient } from "../_gate_client.ts";
import { urlOrigin } from "../http_grant.ts";

const [url, max] = Deno.args;
const o = urlOrigin(url);
if ("err" in o) throw new Error(o.err);
const gate = new Gate("probe", {
  storeDir: null,
  grant: {
    origins: [o.origin],
    methods: ["GET"],
    maxRequestBytes: 0,
    maxResponseBytes: Number(max),
    timeoutMs: 60_000,
    secretHeaders: [],
  },
  secrets: [],
  hmacKey: null,
});
// The guest's side as actors use it: a blocking call.
const answer = new GateClient(gate.connect()).call(
  "fetch",
  { method: "GET", url, headers: [] },
  { timeoutMs: 60_000, waitMs: 120_000 },
);
gate.close();
const status = await Deno.readTextFile("/proc/self/status");
const peakKiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
console.log(JSON.stringify({
  head: answer?.head ?? "no answer",
  bodyBytes: answer?.body.length ?? 0,
  peakKiB,
}));
