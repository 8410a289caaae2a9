// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import type { ChainEvent, Json } from "../chain/mod.ts";
import { ResumeFold, RUN_STOP } from "./_resume.ts";

let seq = 0;
function ev(type: string, data: { [k: string]: Json }, ts = 1000): ChainEvent {
  return {
    v: 1,
    seq: seq++,
    actor: "a",
    parent: null,
    ts,
    type,
    data,
    hash: String(seq).padStart(64, "0"),
  } as ChainEvent;
}
const T = "theater:actor/timers";
const set = (fn: string, id: string, ms: number, msg: string, ts = 1000) =>
  ev("host.call", {
    interface: T,
    function: fn,
    args: [ms, JSON.stringify(msg)],
    result: { ok: id },
  }, ts);
const cancel = (id: string, result: boolean) =>
  ev("host.call", { interface: T, function: "cancel", args: [id], result });
const ok = () => ev("handle.ok", { state: null, reply: null });
const input = (from: string) =>
  ev("message.in", { from, msg: null, link: null });

Deno.test("resume fold: pending timers are those set by committed steps, not fired, not cancelled", () => {
  const fold = new ResumeFold();
  for (
    const e of [
      ev("actor.start", {}),
      ev("actor.init", { state: null }),
      input("external"),
      set("after", "t-a", 100, "a", 5000),
      set("every", "t-e", 50, "e"),
      set("after", "t-b", 100, "b"),
      ok(),
      // A failed step sets nothing.
      input("external"),
      set("after", "t-x", 100, "x"),
      ev("handle.error", { phase: "handle", error: "no" }),
      // t-b fires; the every timer fires and stays.
      input("timer:t-b"),
      ok(),
      input("timer:t-e"),
      ok(),
      // A cancel counts only when its step commits.
      input("external"),
      cancel("t-a", true),
      ev("handle.error", { phase: "handle", error: "no" }),
      ev("actor.stop", { reason: `${RUN_STOP}end of input` }),
    ]
  ) fold.add(e);
  const timers = fold.point().timers;
  assert.deepEqual([...timers.keys()].sort(), ["t-a", "t-e"]);
  assert.deepEqual(timers.get("t-a"), {
    every: false,
    ms: 100,
    msg: "a",
    at: 5000,
  });
  assert.equal(timers.get("t-e")!.every, true);
});

Deno.test("resume fold: a stop that is not the run's, or a restart, ends every timer", () => {
  for (
    const end of [
      ev("actor.stop", { reason: "stopped by parent" }),
      ev("actor.start", {}),
    ]
  ) {
    const fold = new ResumeFold();
    for (
      const e of [
        ev("actor.start", {}),
        ev("actor.init", { state: null }),
        input("external"),
        set("every", "t-e", 50, "e"),
        ok(),
        end,
      ]
    ) fold.add(e);
    assert.equal(fold.point().timers.size, 0);
  }
});
