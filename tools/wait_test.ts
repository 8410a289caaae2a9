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

async function assertRejectsWith(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}
