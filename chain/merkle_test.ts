// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fromHex, toHex } from "./bytes.ts";
import {
  leafHash,
  MerkleFrontier,
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

function entry(i: number): Uint8Array {
  return new Uint8Array(
    createHash("sha256").update(new Uint8Array([i])).digest(),
  );
}

function tree(n: number): MerkleTree {
  const t = new MerkleTree();
  for (let i = 0; i < n; i++) t.append(entry(i));
  return t;
}

// An independent reference: RFC 9162's definition read literally, over
// the entries themselves.
function reference(entries: Uint8Array[]): Uint8Array {
  if (entries.length === 0) {
    return new Uint8Array(createHash("sha256").digest());
  }
  if (entries.length === 1) return leafHash(entries[0]);
  let k = 1;
  while (k << 1 < entries.length) k <<= 1;
  return nodeHash(reference(entries.slice(0, k)), reference(entries.slice(k)));
}

Deno.test("roots match the RFC definition and the frontier for sizes 0..64", () => {
  const frontier = new MerkleFrontier();
  const t = tree(64);
  const entries = Array.from({ length: 64 }, (_, i) => entry(i));
  assert.equal(toHex(t.root(0)), toHex(reference([])));
  for (let n = 1; n <= 64; n++) {
    frontier.append(entries[n - 1]);
    const expected = toHex(reference(entries.slice(0, n)));
    assert.equal(toHex(t.root(n)), expected, `size ${n}`);
    assert.equal(toHex(frontier.root()), expected, `frontier ${n}`);
  }
});

Deno.test("the RFC 6962 reference tree of 8 leaves has its known root", () => {
  // Test data of Certificate Transparency (RFC 6962 reference code): leaves
  // "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162...6f.
  const leaves = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
  ];
  const t = new MerkleTree();
  for (const l of leaves) t.append(fromHex(l));
  assert.equal(
    toHex(t.root()),
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  );
  assert.equal(
    toHex(t.root(1)),
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  );
});

Deno.test("every inclusion proof verifies for sizes 1..64, and fails when altered", () => {
  const t = tree(64);
  for (let size = 1; size <= 64; size++) {
    const root = t.root(size);
    for (let index = 0; index < size; index++) {
      const path = t.inclusionProof(index, size);
      const ok = verifyInclusion({ index, size, path }, {
        entry: entry(index),
        root,
      });
      assert.ok(ok, `leaf ${index} of ${size}`);
      assert.equal(
        verifyInclusion({ index, size, path }, {
          entry: entry(index + 1),
          root,
        }),
        false,
        "another leaf",
      );
      if (size < 64) {
        // Size and root come together from a checkpoint: the same path
        // must not prove the leaf in the next tree.
        assert.equal(
          verifyInclusion({ index, size: size + 1, path }, {
            entry: entry(index),
            root: t.root(size + 1),
          }),
          false,
          "another tree",
        );
      }
    }
  }
});

Deno.test("every consistency proof verifies for 1 <= m <= n <= 64, and fails when altered", () => {
  const t = tree(64);
  for (let second = 1; second <= 64; second++) {
    const secondRoot = t.root(second);
    for (let first = 1; first <= second; first++) {
      const path = t.consistencyProof(first, second);
      const roots = { first: t.root(first), second: secondRoot };
      assert.ok(
        verifyConsistency({ first, second, path }, roots),
        `${first} -> ${second}`,
      );
      if (first < second) {
        const forged = { first: t.root(first - 1 || 1), second: secondRoot };
        if (first > 1) {
          assert.equal(
            verifyConsistency({ first, second, path }, forged),
            false,
            `forged first root ${first} -> ${second}`,
          );
        }
        const other = tree(second);
        other.setLeaf(first - 1, leafHash(entry(200)));
        assert.equal(
          verifyConsistency({ first, second, path }, {
            first: roots.first,
            second: other.root(second),
          }),
          false,
          `changed leaf ${first} -> ${second}`,
        );
      }
    }
  }
});

Deno.test("proofs refuse sizes and indexes outside the tree", () => {
  const t = tree(5);
  assert.throws(() => t.inclusionProof(5, 5), /not in a tree of size 5/);
  assert.throws(() => t.consistencyProof(0, 5), /need 1 <= first <= second/);
  assert.throws(() => t.root(6), /not within 0..5/);
});
