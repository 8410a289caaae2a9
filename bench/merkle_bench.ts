// Copyright the Theater authors. MIT license.
/**
 * Merkle proofs at 1,000,000 events: building the tree from the event
 * hashes, generating and verifying an inclusion and a consistency proof.
 * The leaves are 1M synthetic 32-byte hashes (a chain file adds only the
 * reading, measured by chain_bench.ts).
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  MerkleFrontier,
  MerkleTree,
  verifyConsistency,
  verifyInclusion,
} from "../chain/mod.ts";

const N = 1_000_000;
const entries: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, i);
  entries.push(new Uint8Array(createHash("sha256").update(bytes).digest()));
}
let started = performance.now();
const tree = new MerkleTree();
for (const e of entries) tree.append(e);
const root = tree.root();
console.log(
  `tree of ${N} leaves: leaves + root in ${
    ((performance.now() - started) / 1000).toFixed(2)
  } s`,
);
started = performance.now();
const frontier = new MerkleFrontier();
for (const e of entries) frontier.append(e);
console.log(
  `frontier (incremental root) over ${N} appends: ${
    ((performance.now() - started) / 1000).toFixed(2)
  } s`,
);

const index = 777_777;
const inclusion = tree.inclusionProof(index);
const first = 600_000;
const firstRoot = tree.root(first);
const consistency = tree.consistencyProof(first);

Deno.bench("inclusion proof: generate (1M leaves)", { n: 3, warmup: 1 }, () => {
  tree.inclusionProof(index);
});
Deno.bench("inclusion proof: verify (1M leaves)", () => {
  if (
    !verifyInclusion({ index, size: N, path: inclusion }, {
      entry: entries[index],
      root,
    })
  ) throw new Error("inclusion proof failed");
});
Deno.bench("consistency proof: generate (600k -> 1M)", {
  n: 3,
  warmup: 1,
}, () => {
  tree.consistencyProof(first);
});
Deno.bench("consistency proof: verify (600k -> 1M)", () => {
  if (
    !verifyConsistency({ first, second: N, path: consistency }, {
      first: firstRoot,
      second: root,
    })
  ) throw new Error("consistency proof failed");
});
