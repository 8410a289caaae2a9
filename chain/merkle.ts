// Copyright the Theater authors. MIT license.
/**
 * Merkle trees over a chain's event hashes, exactly as RFC 9162 §2.1:
 * tree hashes, inclusion and consistency proofs, and their verification
 * (docs/chain-format.md §10).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { concatBytes, fromHex } from "./bytes.ts";
import { readEvents } from "./reader.ts";

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

function sha256(...parts: Uint8Array[]): Uint8Array {
  // One update with one buffer: each update() is a call into Deno's native
  // side, the cost here.
  return new Uint8Array(
    createHash("sha256").update(concatBytes(parts)).digest(),
  );
}

/** The RFC 9162 leaf hash of an entry: SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF, entry);
}

/** The RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right);
}

/** The largest power of two smaller than `n` (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Hashes of 32 bytes, appended to one growing buffer. */
class HashList {
  #buf = new Uint8Array(32 * 1024);
  length = 0;

  push(hash: Uint8Array): void {
    if ((this.length + 1) * 32 > this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    this.#buf.set(hash, this.length++ * 32);
  }

  at(i: number): Uint8Array {
    return this.#buf.subarray(i * 32, i * 32 + 32);
  }

  set(i: number, hash: Uint8Array): void {
    this.#buf.set(hash, i * 32);
  }
}

/**
 * A Merkle tree held in memory: every leaf hash and the hash of every
 * complete, aligned subtree (64 bytes per leaf in all), so a root or proof
 * for any tree size costs O(log n) hashes.
 */
export class MerkleTree {
  /** levels[h][i]: the subtree of 2^h leaves starting at leaf i * 2^h. */
  #levels: HashList[] = [new HashList()];

  /** Adds an entry (for a chain: the 32 raw bytes of an event's hash). */
  append(entry: Uint8Array): void {
    this.#levels[0].push(leafHash(entry));
    for (let h = 0; this.#levels[h].length % 2 === 0; h++) {
      const level = this.#levels[h];
      this.#levels[h + 1] ??= new HashList();
      this.#levels[h + 1].push(
        nodeHash(level.at(level.length - 2), level.at(level.length - 1)),
      );
    }
  }

  /** The number of leaves. */
  get size(): number {
    return this.#levels[0].length;
  }

  /** Replaces a leaf hash (for tests of altered trees). */
  setLeaf(index: number, hash: Uint8Array): void {
    this.#levels[0].set(index, hash);
    let i = index;
    for (let h = 1; h < this.#levels.length; h++) {
      i = Math.floor(i / 2);
      if (i >= this.#levels[h].length) break;
      const below = this.#levels[h - 1];
      this.#levels[h].set(i, nodeHash(below.at(2 * i), below.at(2 * i + 1)));
    }
  }

  /** MTH of leaves [from, to), from the cache where the range is whole. */
  #mth(from: number, to: number): Uint8Array {
    const n = to - from;
    if (n === 0) return sha256();
    if ((n & (n - 1)) === 0 && from % n === 0) {
      return this.#levels[Math.log2(n)].at(from / n);
    }
    const k = split(n);
    return nodeHash(this.#mth(from, from + k), this.#mth(from + k, to));
  }

  /** The root of the first `size` leaves (default: all). */
  root(size = this.size): Uint8Array {
    this.#check(size);
    return this.#mth(0, size);
  }

  /** The RFC 9162 inclusion proof of leaf `index` in the tree of `size`. */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.#check(size);
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
    }
    const path = (m: number, from: number, to: number): Uint8Array[] => {
      const n = to - from;
      if (n === 1) return [];
      const k = split(n);
      return m < k
        ? [...path(m, from, from + k), this.#mth(from + k, to)]
        : [...path(m - k, from + k, to), this.#mth(from, from + k)];
    };
    return path(index, 0, size);
  }

  /**
   * The RFC 9162 consistency proof that the tree of size `first` is a
   * prefix of the tree of size `second`.
   */
  consistencyProof(first: number, second = this.size): Uint8Array[] {
    this.#check(second);
    if (!Number.isInteger(first) || first < 1 || first > second) {
      throw new RangeError(
        `cannot prove size ${first} against size ${second} (need 1 <= first <= second)`,
      );
    }
    const sub = (
      m: number,
      from: number,
      to: number,
      whole: boolean,
    ): Uint8Array[] => {
      const n = to - from;
      if (m === n) return whole ? [] : [this.#mth(from, to)];
      const k = split(n);
      return m <= k
        ? [...sub(m, from, from + k, whole), this.#mth(from + k, to)]
        : [...sub(m - k, from + k, to, false), this.#mth(from, from + k)];
    };
    return sub(first, 0, second, true);
  }

  #check(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is not within 0..${this.size}`);
    }
  }
}

/**
 * A Merkle tree that keeps only its O(log n) right frontier: enough for a
 * writer to know the root after every append.
 */
export class MerkleFrontier {
  #stack: { hash: Uint8Array; size: number }[] = [];
  #size = 0;

  /** Adds an entry (the 32 raw bytes of an event's hash). */
  append(entry: Uint8Array): void {
    let node = { hash: leafHash(entry), size: 1 };
    while (this.#stack.length > 0 && this.#stack.at(-1)!.size === node.size) {
      const left = this.#stack.pop()!;
      node = { hash: nodeHash(left.hash, node.hash), size: node.size * 2 };
    }
    this.#stack.push(node);
    this.#size++;
  }

  /** The number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** The root of all leaves so far. */
  root(): Uint8Array {
    if (this.#stack.length === 0) return sha256();
    let root = this.#stack.at(-1)!.hash;
    for (let i = this.#stack.length - 2; i >= 0; i--) {
      root = nodeHash(this.#stack[i].hash, root);
    }
    return root;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Verifies an inclusion proof as RFC 9162 §2.1.3.2: that `entry` is leaf
 * `index` of the tree of `size` with root `root`.
 */
export function verifyInclusion(
  proof: { index: number; size: number; path: Uint8Array[] },
  tree: { entry: Uint8Array; root: Uint8Array },
): boolean {
  const { index, size, path } = proof;
  if (!Number.isInteger(index) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(tree.entry);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, tree.root);
}

/**
 * Verifies a consistency proof as RFC 9162 §2.1.4.2: that the tree of
 * `first` size with `firstRoot` is a prefix of the tree of `second` size
 * with `secondRoot`.
 */
export function verifyConsistency(
  proof: { first: number; second: number; path: Uint8Array[] },
  roots: { first: Uint8Array; second: Uint8Array },
): boolean {
  const { first, second } = proof;
  let path = proof.path;
  if (!Number.isInteger(first) || first < 1 || first > second) return false;
  if (first === second) {
    return path.length === 0 && equal(roots.first, roots.second);
  }
  if (path.length === 0) return false;
  // When first is a power of two, the proof omits the first root.
  if ((first & (first - 1)) === 0) path = [roots.first, ...path];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return equal(fr, roots.first) && equal(sr, roots.second) && sn === 0;
}

/**
 * The tree over a chain file's event hashes, in order. Holds 32 bytes per
 * event. The chain should be verified first: this reads events one by one
 * and stops with an error at the first invalid line.
 */
export async function treeOfChain(path: string): Promise<MerkleTree> {
  const tree = new MerkleTree();
  for await (const event of readEvents(path)) tree.append(fromHex(event.hash));
  return tree;
}
