// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import type { HostCallData } from "../chain/mod.ts";
import { callEvents } from "./_host_calls.ts";
import { RUNTIME, STORE, SUPERVISOR, TIMERS } from "./wit.ts";

const log = (text: string): HostCallData => ({
  interface: RUNTIME,
  function: "log",
  args: [text],
  result: null,
});
const now: HostCallData = {
  interface: RUNTIME,
  function: "now",
  args: [],
  result: 7,
};
const spawn: HostCallData = {
  interface: SUPERVISOR,
  function: "spawn",
  args: ["./w.json", null],
  result: { ok: "w-1" },
};
const after: HostCallData = {
  interface: TIMERS,
  function: "after",
  args: [10, '"tick"'],
  result: { ok: "t1" },
};
const get: HostCallData = {
  interface: STORE,
  function: "get",
  args: ["ab".repeat(32)],
  result: null,
};

Deno.test("host calls: a run of calls to one interface is one host.calls event", () => {
  const { events, at } = callEvents([log("a"), now, log("b")], "grouped");
  assert.deepEqual(events, [{
    type: "host.calls",
    data: {
      interface: RUNTIME,
      calls: [
        { function: "log", args: ["a"], result: null },
        { function: "now", args: [], result: 7 },
        { function: "log", args: ["b"], result: null },
      ],
    },
  }]);
  assert.deepEqual(at, [0, 0, 0]);
});

Deno.test("host calls: supervisor and timer calls stay alone, where links name them", () => {
  const calls = [log("a"), now, spawn, after, log("b"), get, get];
  const { events, at } = callEvents(calls, "grouped");
  assert.deepEqual(events.map((e) => e.type), [
    "host.calls",
    "host.call",
    "host.call",
    "host.call",
    "host.calls",
  ]);
  assert.deepEqual(at, [0, 0, 1, 2, 3, 4, 4]);
  assert.deepEqual(events[1].data, { ...spawn });
  assert.equal(events[4].data.interface, STORE);
});

Deno.test("host calls: a large call is alone, and a group stays under 1 MiB", () => {
  const big = log("x".repeat(70 * 1024));
  assert.deepEqual(
    callEvents([now, big, now], "grouped").events.map((e) => e.type),
    ["host.call", "host.call", "host.call"],
  );
  const half = log("y".repeat(60 * 1024));
  const { events } = callEvents(Array(20).fill(half), "grouped");
  // 20 calls of about 60 KiB: 17 in the first group, 3 in the second.
  assert.deepEqual(
    events.map((e) => (e.data.calls as unknown[]).length),
    [17, 3],
  );
});

Deno.test("host calls: the single form writes each as it was before format 4", () => {
  const { events, at } = callEvents([log("a"), now], "single");
  assert.deepEqual(events.map((e) => e.data), [log("a"), now]);
  assert.deepEqual(at, [0, 1]);
  assert.deepEqual(callEvents([], "grouped"), { events: [], at: [] });
});
