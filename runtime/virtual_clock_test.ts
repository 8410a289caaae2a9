// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { VirtualClock } from "./virtual_clock.ts";

Deno.test("virtual clock: stands still until advanced; wall and monotonic move together", () => {
  const clock = new VirtualClock({ now: 1_700_000_000_000 });
  assert.equal(clock.now(), 1_700_000_000_000);
  assert.equal(clock.monotonic(), 0);
  assert.equal(clock.advance(250), 0);
  assert.equal(clock.now(), 1_700_000_000_250);
  assert.equal(clock.monotonic(), 250);
  assert.equal(new VirtualClock().now(), 0);
});

Deno.test("virtual clock: timers fire in time order, ties in the order set, each at its due time", () => {
  const clock = new VirtualClock();
  const fired: [string, number][] = [];
  const at = (name: string) => () => fired.push([name, clock.monotonic()]);
  clock.setTimer(at("c"), 30);
  clock.setTimer(at("a"), 10);
  clock.setTimer(at("b1"), 20);
  clock.setTimer(at("b2"), 20);
  clock.setTimer(at("zero"), 0);
  clock.setTimer(at("negative"), -5);
  assert.equal(clock.pending, 6);
  assert.equal(clock.nextDue(), 0);
  assert.equal(clock.advance(19), 3);
  assert.deepEqual(fired, [["zero", 0], ["negative", 0], ["a", 10]]);
  assert.equal(clock.monotonic(), 19);
  assert.equal(clock.nextDue(), 1);
  assert.equal(clock.advance(100), 3);
  assert.deepEqual(fired.slice(3), [["b1", 20], ["b2", 20], ["c", 30]]);
  assert.equal(clock.monotonic(), 119);
  assert.equal(clock.pending, 0);
  assert.equal(clock.nextDue(), null);
});

Deno.test("virtual clock: a timer set while firing fires in the same advance when due by its end", () => {
  const clock = new VirtualClock();
  const fired: number[] = [];
  const every = (ms: number) => {
    const tick = () => {
      fired.push(clock.monotonic());
      clock.setTimer(tick, ms);
    };
    clock.setTimer(tick, ms);
  };
  every(100);
  clock.setTimer(() => fired.push(-clock.monotonic()), 250);
  assert.equal(clock.advance(1000), 11);
  assert.deepEqual(
    fired,
    [100, 200, -250, 300, 400, 500, 600, 700, 800, 900, 1000],
  );
  assert.equal(clock.pending, 1, "the interval is set again");
});

Deno.test("virtual clock: a cleared timer never fires; clearing twice, a fired one or none is nothing", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  const a = clock.setTimer(() => fired.push("a"), 10);
  const b = clock.setTimer(() => fired.push("b"), 10);
  clock.clearTimer(a);
  clock.clearTimer(a);
  clock.clearTimer(undefined);
  clock.clearTimer(12345);
  clock.advance(10);
  clock.clearTimer(b);
  assert.deepEqual(fired, ["b"]);
  // A timer that clears a later one before it is due.
  const later = clock.setTimer(() => fired.push("later"), 20);
  clock.setTimer(() => clock.clearTimer(later), 10);
  clock.advance(50);
  assert.deepEqual(fired, ["b"]);
});

Deno.test("virtual clock: runUntilIdle goes from due timer to due timer, and refuses an endless interval", () => {
  const clock = new VirtualClock();
  const fired: number[] = [];
  clock.setTimer(() => {
    fired.push(clock.monotonic());
    clock.setTimer(() => fired.push(clock.monotonic()), 5_000);
  }, 60_000);
  assert.equal(clock.runUntilIdle(), 2);
  assert.deepEqual(fired, [60_000, 65_000]);
  assert.equal(clock.monotonic(), 65_000);
  const tick = () => clock.setTimer(tick, 10);
  tick();
  assert.throws(
    () => clock.runUntilIdle({ limit: 50 }),
    /1 timers still pending after 50 firings/,
  );
  assert.equal(clock.monotonic(), 65_000 + 500);
});

Deno.test("virtual clock: a throwing timer stops the advance at its due time; the rest fire on the next", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.setTimer(() => fired.push("a"), 10);
  clock.setTimer(() => {
    throw new Error("boom");
  }, 20);
  clock.setTimer(() => fired.push("c"), 30);
  assert.throws(() => clock.advance(100), /boom/);
  assert.deepEqual(fired, ["a"]);
  assert.equal(clock.monotonic(), 20);
  assert.equal(clock.advance(10), 1);
  assert.deepEqual(fired, ["a", "c"]);
});

Deno.test("virtual clock: refuses a negative advance and one from inside its own timer", () => {
  const clock = new VirtualClock();
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advance(NaN), RangeError);
  let inner: unknown = null;
  clock.setTimer(() => {
    try {
      clock.advance(1);
    } catch (err) {
      inner = err;
    }
  }, 1);
  clock.advance(1);
  assert.ok(inner instanceof RangeError);
  assert.equal(clock.monotonic(), 1);
});
