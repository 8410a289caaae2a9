// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { waitFor, WaitTimeout, watchLines } from "./wait.ts";

function streamOf(): {
  stream: ReadableStream<Uint8Array>;
  push: (text: string) => void;
  end: () => void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
  });
  return {
    stream,
    push: (text) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

Deno.test("waitFor: resolves with the probe's first truthy value", async () => {
  let calls = 0;
  const value = await waitFor("the third call", () => ++calls >= 3 && calls);
  assert.equal(value, 3);
});

Deno.test("waitFor: a wait past its deadline names what it waited for and what it saw", async () => {
  const err = await assertRejectsWith(
    waitFor("a file", () => false, { timeoutMs: 20, seen: () => "no file" }),
  );
  assert.ok(err instanceof WaitTimeout);
  assert.match(err.message, /for a file; saw: no file/);
});

Deno.test("watchLines: waits for a line written later, split across chunks", async () => {
  const { stream, push, end } = streamOf();
  const lines = watchLines(stream);
  const found = lines.until((l) => l.startsWith("ready"), "ready");
  push("one\nrea");
  push("dy now\ntwo");
  assert.equal(await found, "ready now");
  end();
  await lines.closed;
  assert.deepEqual(lines.lines, ["one", "ready now", "two"]);
});

Deno.test("watchLines: counts matching lines, and fails when the stream ends short", async () => {
  const { stream, push, end } = streamOf();
  const lines = watchLines(stream);
  push("ok\nok\nno\n");
  assert.deepEqual(await lines.count((l) => l === "ok", 2, "two oks"), [
    "ok",
    "ok",
  ]);
  const three = lines.count((l) => l === "ok", 3, "three oks");
  end();
  const err = await assertRejectsWith(three);
  assert.match(err.message, /ended before three oks \(2 of 3\)/);
});

Deno.test("waitFor: fails at once, after one last probe, when what it waits on has ended", async () => {
  let ended!: () => void;
  const over = new Promise<void>((r) => ended = r);
  let probes = 0;
  const waiting = waitFor("a line that never comes", () => {
    probes++;
    return false;
  }, { ended: over, seen: () => `${probes} probes` });
  ended();
  const err = await assertRejectsWith(waiting);
  assert.ok(!(err instanceof WaitTimeout), err.message);
  assert.match(
    err.message,
    /ended before a line that never comes; saw: \d+ probes/,
  );
  // A value that is there by the last probe still counts.
  let ready = false;
  const late = waitFor("the flag", () => ready, { ended: over });
  ready = true;
  assert.equal(await late, true);
});

Deno.test("watchLines: a count that times out says how many it had", async () => {
  const { stream, push, end } = streamOf();
  const lines = watchLines(stream);
  push("ok\n");
  const err = await assertRejectsWith(
    lines.count((l) => l === "ok", 2, "two oks", { timeoutMs: 20 }),
  );
  assert.ok(err instanceof WaitTimeout);
  assert.match(err.message, /for two oks \(1 of 2\); saw: ok/);
  end();
  await lines.closed;
});

Deno.test("watchLines: many waiters over a long output each scan it once", async () => {
  const { stream, push, end } = streamOf();
  const lines = watchLines(stream);
  let calls = 0;
  const match = (l: string) => (calls++, l.endsWith("0"));
  const waits = Array.from(
    { length: 10 },
    (_, i) => lines.count(match, 100 * (i + 1), `${100 * (i + 1)} tens`),
  );
  for (let i = 1; i <= 10_000; i++) push(`${i}\n`);
  end();
  const got = await Promise.all(waits);
  assert.equal(got[9].length, 1000);
  assert.equal(got[9].at(-1), "10000");
  // A rescan per chunk would be ~10 x 10,000 x 10,000 / 2 calls.
  assert.ok(calls <= 10 * 10_000, `${calls} calls of match`);
  await lines.closed;
});

async function assertRejectsWith(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}
