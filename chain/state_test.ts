// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  applyStatePatch,
  diffStates,
  StateError,
  stateHash,
  StateTracker,
} from "./state.ts";
import type { ChainEvent, Json } from "./event.ts";

Deno.test("diffStates and applyStatePatch round-trip, whatever the key order", () => {
  const cases: [Json, Json][] = [
    [{ a: 1, b: [1, 2] }, { b: [1, 2, 3], a: 2, c: { d: null } }],
    [{ z: 1, y: 2 }, { y: 2, z: 1 }],
    [[1, 2, 3], [3]],
    [null, { a: 1 }],
    [5, 6],
    [{ a: 1 }, [1]],
    [{ entries: { k: "v" } }, { entries: {} }],
    ["x", null],
  ];
  for (const [from, to] of cases) {
    const patch = diffStates(from, to);
    assert.deepEqual(applyStatePatch(from, patch), to, JSON.stringify(patch));
    // The same states give the same patch, in any key order.
    const reordered = JSON.parse(JSON.stringify(from));
    assert.deepEqual(diffStates(reordered, to), patch);
  }
  assert.deepEqual(diffStates({ a: 1, b: 2 }, { b: 2, a: 1 }), []);
  // Applying does not change the state it was given.
  const state = { n: [1] };
  applyStatePatch(state, [{ op: "add", path: "/n/1", value: 2 }]);
  assert.deepEqual(state, { n: [1] });
});

Deno.test("a patch that does not apply, or a wrong state_hash, is an error", () => {
  assert.throws(
    () => applyStatePatch({}, [{ op: "remove", path: "/missing" }]),
    StateError,
  );
  const tracker = new StateTracker();
  const event = (type: string, data: Record<string, Json>, seq: number) =>
    ({ type, data, seq }) as unknown as ChainEvent;
  tracker.add(event("actor.init", { state: { n: 1 } }, 1));
  const patch = diffStates({ n: 1 }, { n: 2 });
  tracker.add(
    event("handle.patch", {
      patch,
      reply: null,
      state_hash: stateHash({ n: 2 }),
    }, 2),
  );
  assert.deepEqual(tracker.state, { n: 2 });
  tracker.add(
    event("handle.patch", {
      patch: diffStates({ n: 2 }, { n: 3 }),
      reply: null,
      state_hash: stateHash({ n: 4 }),
    }, 3),
  );
  assert.throws(
    () => tracker.state,
    /seq 3: the patched state does not have the recorded state_hash/,
  );
  assert.throws(
    () =>
      tracker.add(
        event("handle.patch", {
          patch: [{ op: "remove", path: "/gone" }],
          reply: null,
          state_hash: stateHash(null),
        }, 4),
      ),
    /seq 4: patch does not apply/,
  );
});

Deno.test("the worked example of docs/chain-format.md holds", async () => {
  const doc = await Deno.readTextFile(
    new URL("../docs/chain-format.md", import.meta.url),
  );
  const block = doc.match(/```json\n(\{\n {2}"patch":[^`]*)```/)![1];
  const data = JSON.parse(block);
  const before = { count: 1, log: ["a"] };
  const after = { count: 2, log: ["a", "b"] };
  assert.deepEqual(data.patch, diffStates(before, after));
  assert.equal(data.state_hash, stateHash(after));
  assert.deepEqual(applyStatePatch(before, data.patch), after);
});
