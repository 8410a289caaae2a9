// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { beating, chooseNode } from "./placement.ts";

const live = [
  { name: "c", load: 0 },
  { name: "a", load: 5 },
  { name: "b", load: 1 },
];

Deno.test("chooseNode: the request, else the manifest, else the fewest roots, actors, then name", () => {
  assert.deepEqual(
    chooseNode(live, [], { requested: "a", manifest: "b" }),
    { node: "a" },
  );
  assert.deepEqual(chooseNode(live, [], { manifest: "b" }), { node: "b" });
  // No roots placed yet: the fewest actors.
  assert.deepEqual(chooseNode(live, []), { node: "c" });
  // Roots placed count before a beat says so.
  assert.deepEqual(
    chooseNode(live, [{ node: "c" }, { node: "b" }]),
    { node: "a" },
  );
  // Ties go by name.
  assert.deepEqual(
    chooseNode([{ name: "y", load: 0 }, { name: "x", load: 0 }], []),
    { node: "x" },
  );
});

Deno.test("chooseNode: a node not in the cluster, or no node, is an error naming the live ones", () => {
  assert.deepEqual(chooseNode(live, [], { requested: "z" }), {
    error: "node z is not in the cluster (live: c, a, b)",
  });
  assert.deepEqual(chooseNode([], [], { manifest: "a" }), {
    error: "node a is not in the cluster (live: none)",
  });
  assert.deepEqual(chooseNode([], []), { error: "no node is in the cluster" });
});

Deno.test("beating: a new revision is a beat; the same one for deadAfterMs, or none, is gone", () => {
  const seen = new Map<string, { revision: number; at: number }>();
  assert.equal(beating(seen, "b", 7, 0, 3000), true);
  assert.equal(beating(seen, "b", 7, 2999, 3000), true);
  assert.equal(beating(seen, "b", 7, 3000, 3000), false);
  // It beats again: alive from that moment.
  assert.equal(beating(seen, "b", 8, 3500, 3000), true);
  assert.equal(beating(seen, "b", 8, 6000, 3000), true);
  assert.equal(beating(seen, "b", null, 6000, 3000), false);
});
