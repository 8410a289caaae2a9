// Copyright the Theater authors. MIT license.
// The one test of the machine's clock itself: everything that decides by
// time is tested on the virtual clock (virtual_clock_test.ts and the
// tests of what takes a clock).
import assert from "node:assert/strict";
import { systemClock } from "./clock.ts";

Deno.test("system clock: wall time is Date.now, monotonic is performance.now, timers fire and clear", async () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= Date.now());
  const mono = systemClock.monotonic();
  assert.ok(mono <= performance.now());
  const cleared = systemClock.setTimer(() => assert.fail("cleared"), 0);
  systemClock.clearTimer(cleared);
  systemClock.clearTimer(undefined);
  const fired = await new Promise<number>((resolve) => {
    systemClock.setTimer(() => resolve(systemClock.monotonic()), 1);
  });
  assert.ok(fired >= mono);
});

Deno.test("system clock: an unref'd timer keeps no process alive", async () => {
  // A child that only sets an unref'd hour-long timer exits at once.
  const code = `import { systemClock } from ${
    JSON.stringify(new URL("./clock.ts", import.meta.url).href)
  };
systemClock.setTimer(() => console.log("fired"), 3_600_000, { unref: true });
console.log("set");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
    // Only bounds a hang: without unref the child would wait the hour.
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout), "set\n");
});
