// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { beating, chooseNode, duty } from "./placement.ts";

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

Deno.test("duty: claim a gone node's placement, resume one placed here that is not running, hand over one running here that is placed elsewhere", () => {
  const here = {
    name: "a",
    alive: true,
    running: false,
    started: false,
    lost: false,
  };
  // Placed on another node.
  assert.equal(duty({ node: "b" }, here), "none");
  assert.equal(duty({ node: "b" }, { ...here, alive: false }), "claim");
  // Running here although b holds the placement: this node was paused.
  assert.equal(duty({ node: "b" }, { ...here, running: true }), "hand-over");
  assert.equal(
    duty({ node: "b" }, { ...here, alive: false, running: true }),
    "hand-over",
  );
  // Placed here.
  assert.equal(duty({ node: "a" }, { ...here, running: true }), "none");
  // Never started by this process (restarted before the others saw it go).
  assert.equal(duty({ node: "a" }, here), "resume");
  // Started here and stopped on purpose: it stays stopped.
  assert.equal(duty({ node: "a" }, { ...here, started: true }), "none");
  // Started here and given up (a refused write) or a failed resume.
  assert.equal(
    duty({ node: "a" }, { ...here, started: true, lost: true }),
    "resume",
  );
  assert.equal(
    duty({ node: "a" }, { ...here, started: true, lost: true, running: true }),
    "none",
  );
});
