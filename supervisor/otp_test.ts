// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { chargeRestart, restartPlan, shouldRestart } from "./otp.ts";

Deno.test("shouldRestart: permanent always, transient after a crash, temporary never", () => {
  assert.equal(shouldRestart("permanent", "crash"), true);
  assert.equal(shouldRestart("permanent", "normal"), true);
  assert.equal(shouldRestart("transient", "crash"), true);
  assert.equal(shouldRestart("transient", "normal"), false);
  assert.equal(shouldRestart("temporary", "crash"), false);
  assert.equal(shouldRestart("temporary", "normal"), false);
});

Deno.test("chargeRestart: more than max within the period gives up", () => {
  const i = { maxRestarts: 2, periodMs: 1000 };
  let h: number[] = [];
  for (const [now, giveUp] of [[0, false], [10, false], [20, true]] as const) {
    const r = chargeRestart(h, now, i);
    assert.equal(r.giveUp, giveUp, `at ${now}`);
    h = r.history;
  }
});

Deno.test("chargeRestart: the window is inclusive, as in OTP", () => {
  const i = { maxRestarts: 1, periodMs: 1000 };
  // A restart exactly periodMs ago still counts.
  assert.equal(chargeRestart([0], 1000, i).giveUp, true);
  // One just older does not, and is dropped from the history.
  const r = chargeRestart([0], 1001, i);
  assert.equal(r.giveUp, false);
  assert.deepEqual(r.history, [1001]);
});

Deno.test("chargeRestart: max_restarts 0 gives up on the first failure", () => {
  assert.equal(
    chargeRestart([], 5, { maxRestarts: 0, periodMs: 10 }).giveUp,
    true,
  );
});

Deno.test("restartPlan: each strategy stops in reverse and starts in order", () => {
  const kids = ["a", "b", "c", "d"];
  assert.deepEqual(restartPlan("one-for-one", kids, "b"), {
    stop: ["b"],
    start: ["b"],
  });
  assert.deepEqual(restartPlan("one-for-all", kids, "b"), {
    stop: ["d", "c", "b", "a"],
    start: ["a", "b", "c", "d"],
  });
  assert.deepEqual(restartPlan("rest-for-one", kids, "b"), {
    stop: ["d", "c", "b"],
    start: ["b", "c", "d"],
  });
  assert.deepEqual(restartPlan("rest-for-one", kids, "x"), {
    stop: [],
    start: [],
  });
});
