// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { Watchdog } from "./_watchdog.ts";
import { VirtualClock } from "./virtual_clock.ts";

/** A virtual clock that counts the timers set on it. */
class CountingClock extends VirtualClock {
  set = 0;
  override setTimer(fn: () => void, ms: number): number {
    this.set++;
    return super.setTimer(fn, ms);
  }
}

function watch() {
  const clock = new CountingClock();
  const expired: [string, number][] = [];
  const dog = new Watchdog(
    (why) => expired.push([why, clock.monotonic()]),
    { clock },
  );
  return { clock, expired, dog };
}

Deno.test("watchdog: a deadline that passes expires once, with its reason, at its deadline", () => {
  const { clock, expired, dog } = watch();
  dog.arm(60, "too slow");
  clock.advance(59);
  assert.deepEqual(expired, []);
  clock.advance(1);
  assert.deepEqual(expired, [["too slow", 60]]);
  clock.advance(10_000);
  assert.deepEqual(expired, [["too slow", 60]]);
  dog.close();
});

Deno.test("watchdog: calls that end in time never expire, however many, without a timer per call", () => {
  const { clock, expired, dog } = watch();
  for (let i = 0; i < 20; i++) {
    dog.arm(40, `call ${i}`);
    clock.advance(5);
    dog.disarm();
  }
  // Not one timer per call: the first (due at 40) is kept by every later
  // deadline; it is set again only when it fires during a call (at 40 the
  // call armed at 35 runs until 75; at 75 the one armed at 70 until 110; at 110 none is under way).
  assert.equal(clock.set, 3);
  clock.advance(10_000);
  assert.deepEqual(expired, []);
  assert.equal(clock.set, 3);
  assert.equal(clock.pending, 0);
  dog.close();
});

Deno.test("watchdog: a later deadline replaces an earlier one, and a nearer one is kept", () => {
  const { clock, expired, dog } = watch();
  dog.arm(30, "first");
  dog.arm(150, "second");
  clock.advance(149);
  assert.deepEqual(expired, [], "the first deadline no longer holds");
  clock.advance(1);
  assert.deepEqual(expired, [["second", 150]]);
  dog.arm(500, "far");
  dog.arm(40, "near");
  clock.advance(39);
  assert.deepEqual(expired, [["second", 150]]);
  clock.advance(1);
  assert.deepEqual(expired, [["second", 150], ["near", 190]]);
  clock.advance(10_000);
  assert.equal(expired.length, 2, "the replaced deadline never expires");
  dog.close();
});

Deno.test("watchdog: closed, it expires nothing and leaves no timer", () => {
  const { clock, expired, dog } = watch();
  dog.arm(10, "never");
  dog.close();
  assert.equal(clock.pending, 0);
  clock.advance(1000);
  assert.deepEqual(expired, []);
});
