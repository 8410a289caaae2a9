// Copyright the Theater authors. MIT license.
/**
 * Writes the sample run directory `examples/sample/`: two linked chains in
 * the format of docs/chain-format.md, with fixed timestamps so the files are
 * byte-for-byte reproducible. Run: `deno run -A examples/sample/make.ts`.
 *
 * @module
 */
import { ChainWriter } from "../../chain/mod.ts";

const dir = new URL(".", import.meta.url).pathname;
let now = 1764028800000;
const clock = () => now += 5;

for (const name of ["counter", "logger"]) {
  await Deno.remove(`${dir}${name}.jsonl`).catch(() => {});
}
const counter = await ChainWriter.open(`${dir}counter.jsonl`, {
  actor: "counter",
  clock,
});
const logger = await ChainWriter.open(`${dir}logger.jsonl`, {
  actor: "logger",
  clock,
});
const component = "5f".repeat(32);
const start = await counter.append("actor.start", {
  component,
  manifest: { name: "counter", component: "./counter.wasm" },
  params: { start: 0 },
  link: null,
});
await counter.append("actor.init", { state: { count: 0 } });
await logger.append("actor.start", {
  component: "7a".repeat(32),
  manifest: { name: "logger", component: "./logger.wasm" },
  params: null,
  link: { actor: "counter", hash: start.hash },
});
await logger.append("actor.init", { state: { lines: 0 } });
let count = 0;
for (const op of ["inc", "inc", "get"]) {
  await counter.append("message.in", {
    from: "external",
    msg: { op },
    link: null,
  });
  const t = now + 1;
  await counter.append("host.call", {
    interface: "theater:actor/runtime",
    function: "now",
    args: [],
    result: t,
  });
  if (op === "inc") count++;
  await counter.append("handle.ok", {
    state: { count },
    reply: { count },
  });
  const out = await counter.append("message.out", {
    to: "logger",
    msg: { op, count, at: t },
  });
  await logger.append("message.in", {
    from: "counter",
    msg: { op, count, at: t },
    link: { actor: "counter", hash: out.hash },
  });
  await logger.append("handle.ok", { state: { lines: count }, reply: null });
}
await counter.append("actor.stop", { reason: "end of input" });
await logger.append("actor.stop", { reason: "end of input" });
await counter.close();
await logger.close();
