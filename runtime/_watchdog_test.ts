// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { Watchdog } from "./_watchdog.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("watchdog: a deadline that passes expires once, with its reason", async () => {
  const expired: string[] = [];
  const dog = new Watchdog((why) => expired.push(why));
  const started = performance.now();
  dog.arm(60, "too slow");
  while (expired.length === 0 && performance.now() - started < 2000) {
    await sleep(5);
  }
  assert.deepEqual(expired, ["too slow"]);
  assert.ok(performance.now() - started >= 59);
  await sleep(100);
  assert.deepEqual(expired, ["too slow"]);
  dog.close();
});

Deno.test("watchdog: calls that end in time never expire, however many", async () => {
  const expired: string[] = [];
  const dog = new Watchdog((why) => expired.push(why));
  for (let i = 0; i < 20; i++) {
    dog.arm(40, `call ${i}`);
    await sleep(5);
    dog.disarm();
  }
  await sleep(120);
  assert.deepEqual(expired, []);
  dog.close();
});

Deno.test("watchdog: a later deadline replaces an earlier one, and a nearer one is kept", async () => {
  const expired: string[] = [];
  const dog = new Watchdog((why) => expired.push(why));
  const started = performance.now();
  dog.arm(30, "first");
  dog.arm(150, "second");
  await sleep(90);
  assert.deepEqual(expired, [], "the first deadline no longer holds");
  while (expired.length === 0 && performance.now() - started < 2000) {
    await sleep(5);
  }
  assert.deepEqual(expired, ["second"]);
  assert.ok(performance.now() - started >= 149);
  dog.arm(500, "far");
  dog.arm(40, "near");
  await sleep(150);
  assert.deepEqual(expired, ["second", "near"]);
  dog.close();
});
