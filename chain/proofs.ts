// Copyright the Theater authors. MIT license.
/**
 * Checkpoints and proofs over chain files: make them from a chain, and
 * check a chain or a proof against a signed checkpoint (docs/chain-format.md
 * §10–§12).
 *
 * @module
 */
import { hashEvent } from "./canonical.ts";
import { type Checkpoint, originOf } from "./checkpoint.ts";
import type { ChainEvent } from "./event.ts";
import { fromBase64, fromHex, toHex } from "./bytes.ts";
import {
  MerkleFrontier,
  treeOfChain,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
import { readEvents } from "./reader.ts";
import { verifyChain } from "./verify.ts";

/** An inclusion proof file: one event and the path to the root. */
export interface InclusionProof {
  /** Marks the file as an inclusion proof. */
  type: "inclusion";
  /** `theater/<actor id>`, as in the checkpoint. */
  origin: string;
  /** Size of the tree the proof leads to, as in the checkpoint. */
  tree_size: number;
  /** The event's position in the tree: its `seq`. */
  index: number;
  /** The whole event, as in the chain. */
  event: ChainEvent;
  /** The audit path from the event's leaf to the root, as hashes. */
  path: string[];
}

/** A consistency proof file: an older tree head is a prefix of a newer. */
export interface ConsistencyProof {
  /** Marks the file as a consistency proof. */
  type: "consistency";
  /** `theater/<actor id>`, as in the checkpoint. */
  origin: string;
  /** Size of the older tree. */
  first_size: number;
  /** Root hash of the older tree. */
  first_root: string;
  /** Size of the newer tree, as in the checkpoint. */
  tree_size: number;
  /** The consistency path between the two trees, as hashes. */
  path: string[];
}

/** Either proof file. */
export type ProofFile = InclusionProof | ConsistencyProof;

/** A chain that does not match a checkpoint, or a proof that fails. */
export class ProofError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ProofError";
}

/**
 * The tree head of a chain's first `size` events (default: all), after
 * verifying the chain.
 *
 * @throws {ProofError} when the chain does not verify or is shorter.
 */
export async function chainCheckpoint(
  path: string,
  options: { size?: number } = {},
): Promise<Checkpoint> {
  const report = await verifyChain(path);
  if (!report.ok) {
    const e = report.error!;
    throw new ProofError(`${e.file}:${e.line}: ${e.message}`);
  }
  const size = options.size ?? report.events;
  if (size > report.events) {
    throw new ProofError(
      `${path}: has ${report.events} events, fewer than ${size}`,
    );
  }
  const frontier = new MerkleFrontier();
  for await (const event of readEvents(path)) {
    if (frontier.size === size) break;
    frontier.append(fromHex(event.hash));
  }
  return { origin: originOf(report.actor!), size, root: frontier.root() };
}

/**
 * Checks a chain against a (signature-checked) checkpoint: the chain must
 * verify, belong to the checkpoint's origin, hold at least its size, and
 * its first `size` events must have its root. Returns null when they do,
 * else the reason.
 */
export async function checkChainAgainst(
  path: string,
  checkpoint: Checkpoint,
): Promise<string | null> {
  const report = await verifyChain(path);
  if (!report.ok) {
    const e = report.error!;
    return `${e.file}:${e.line}: ${e.message}`;
  }
  if (originOf(report.actor!) !== checkpoint.origin) {
    return `${path}: the checkpoint is for ${checkpoint.origin}, the chain for ${
      originOf(report.actor!)
    }`;
  }
  if (report.events < checkpoint.size) {
    return `${path}: has ${report.events} events, fewer than the ${checkpoint.size} of the checkpoint: it was truncated`;
  }
  const head = await chainCheckpoint(path, { size: checkpoint.size });
  if (toHex(head.root) !== toHex(checkpoint.root)) {
    return `${path}: its first ${checkpoint.size} events do not have the checkpoint's root: the log was rewritten or forked`;
  }
  return null;
}

/** An inclusion proof of the event with `seq` in the tree of `size`. */
export async function proveInclusion(
  path: string,
  options: { seq: number; size?: number },
): Promise<InclusionProof> {
  const report = await verifyChain(path);
  if (!report.ok) throw new ProofError(report.error!.message);
  const tree = await treeOfChain(path);
  const size = options.size ?? tree.size;
  if (options.seq >= size || size > tree.size) {
    throw new ProofError(
      `${path}: no event ${options.seq} in a tree of size ${size} (the chain has ${tree.size})`,
    );
  }
  let event: ChainEvent | null = null;
  for await (const e of readEvents(path)) {
    if (e.seq === options.seq) {
      event = e;
      break;
    }
  }
  return {
    type: "inclusion",
    origin: originOf(report.actor!),
    tree_size: size,
    index: options.seq,
    event: event!,
    path: tree.inclusionProof(options.seq, size).map(toHex),
  };
}

/** A consistency proof from the tree of `from` events to that of `to`. */
export async function proveConsistency(
  path: string,
  options: { from: number; to?: number },
): Promise<ConsistencyProof> {
  const report = await verifyChain(path);
  if (!report.ok) throw new ProofError(report.error!.message);
  const tree = await treeOfChain(path);
  const to = options.to ?? tree.size;
  if (options.from < 1 || options.from > to || to > tree.size) {
    throw new ProofError(
      `${path}: cannot prove size ${options.from} against size ${to} (the chain has ${tree.size})`,
    );
  }
  return {
    type: "consistency",
    origin: originOf(report.actor!),
    first_size: options.from,
    first_root: toHex(tree.root(options.from)),
    tree_size: to,
    path: tree.consistencyProof(options.from, to).map(toHex),
  };
}

/**
 * Checks a proof file against a signed checkpoint, without the chain.
 * Returns null when it holds, else the reason.
 */
export function checkProof(
  proof: ProofFile,
  checkpoint: Checkpoint,
  options: {
    /**
     * The auditor's older signed checkpoint: a consistency proof must start
     * from its size and root (else it proves only that some tree the
     * prover chose is a prefix of the new one).
     */
    old?: Checkpoint;
  } = {},
): string | null {
  if (proof.origin !== checkpoint.origin) {
    return `the proof is for ${proof.origin}, the checkpoint for ${checkpoint.origin}`;
  }
  if (proof.tree_size !== checkpoint.size) {
    return `the proof is for a tree of ${proof.tree_size}, the checkpoint of ${checkpoint.size}`;
  }
  let path: Uint8Array[];
  try {
    path = proof.path.map(decodeHash);
  } catch {
    return "the proof's path is not a list of hashes (hex or base64)";
  }
  if (proof.type === "inclusion") {
    const { hash, ...body } = proof.event;
    if (hashEvent(body) !== hash) {
      return "the event's hash does not match its contents";
    }
    if (proof.event.seq !== proof.index) {
      return `the event has seq ${proof.event.seq}, the proof index ${proof.index}`;
    }
    return verifyInclusion(
        { index: proof.index, size: proof.tree_size, path },
        { entry: fromHex(hash), root: checkpoint.root },
      )
      ? null
      : "the inclusion proof does not lead to the checkpoint's root";
  }
  let first: Uint8Array;
  try {
    first = decodeHash(proof.first_root);
  } catch {
    return "the proof's first_root is not a hash (hex or base64)";
  }
  const old = options.old;
  if (old) {
    if (old.origin !== proof.origin) {
      return `the old checkpoint is for ${old.origin}, the proof for ${proof.origin}`;
    }
    if (old.size !== proof.first_size) {
      return `the proof starts from a tree of ${proof.first_size}, the old checkpoint has ${old.size}`;
    }
    if (toHex(old.root) !== toHex(first)) {
      return "the proof's first_root is not the old checkpoint's root: the log was rewritten or forked since";
    }
  }
  return verifyConsistency(
      { first: proof.first_size, second: proof.tree_size, path },
      { first, second: checkpoint.root },
    )
    ? null
    : "the consistency proof does not hold between the two tree heads";
}

/**
 * A 32-byte hash as a proof file may write it: hex (what `theater prove`
 * writes) or base64 (how checkpoints write roots).
 *
 * @throws {TypeError} when it is neither, or not 32 bytes.
 */
export function decodeHash(text: string): Uint8Array {
  const bytes = /^[0-9a-fA-F]{64}$/.test(text)
    ? fromHex(text)
    : fromBase64(text);
  if (bytes.length !== 32) throw new TypeError("not a 32-byte hash");
  return bytes;
}
