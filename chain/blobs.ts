// Copyright the Theater authors. MIT license.
/**
 * Blobs a chain names: the `store.put` and `store.get` host calls of
 * `theater:actor/store` (docs/chain-format.md), and their check against a
 * run directory's `store/`. The bytes are never in the chain; its record
 * is the hash and size.
 *
 * @module
 */
import { join } from "node:path";
import { sha256Hex } from "./canonical.ts";
import { type ChainEvent, hostCallsOf, type Json } from "./event.ts";
import { readRegularFileSync } from "./files.ts";

/** The store's folder inside a run directory. */
export const STORE_DIR = "store";

/** The WIT interface whose calls name blobs (without its version). */
export const STORE_INTERFACE = "theater:actor/store";

/** Whether `text` is a blob's name: a lowercase hex SHA-256. */
export function isBlobHash(text: string): boolean {
  return /^[0-9a-f]{64}$/.test(text);
}

/** A blob a chain names: its hash, size, and the event naming it. */
export interface BlobReference {
  /** The blob's SHA-256, hex. */
  sha256: string;
  /** Its size in bytes, as recorded. */
  size: number;
  /** The seq of the `host.call` or `host.calls` event that names it. */
  seq: number;
}

/**
 * The blobs an event names: a `store.put` that succeeded, or a
 * `store.get` that found its blob.
 */
export function blobsOf(event: ChainEvent): BlobReference[] {
  const refs: BlobReference[] = [];
  for (const data of hostCallsOf(event)) {
    if (data.interface !== STORE_INTERFACE) continue;
    if (data.function === "put") {
      const arg = data.args?.[0] as Record<string, Json> | null;
      const result = data.result as Record<string, Json> | null;
      if (!result || typeof result !== "object" || !("ok" in result)) continue;
      refs.push({
        sha256: String(arg?.sha256),
        size: Number(arg?.size),
        seq: event.seq,
      });
    } else if (data.function === "get" && data.result !== null) {
      const result = data.result as Record<string, Json>;
      refs.push({
        sha256: String(data.args[0]),
        size: Number(result.size),
        seq: event.seq,
      });
    }
  }
  return refs;
}

/** Why a referenced blob is not good in `store`, or null when it is. */
export function blobProblem(
  dir: string,
  ref: BlobReference,
): string | null {
  let bytes: Uint8Array;
  const path = join(dir, ref.sha256);
  try {
    // Not followed: a symlink or a FIFO in the store (to /dev/zero, say)
    // is not a blob, and is not read.
    if (!Deno.lstatSync(path).isFile) {
      return `blob ${ref.sha256} (event ${ref.seq}) in ${dir} is not a regular file`;
    }
    bytes = readRegularFileSync(path, Infinity);
  } catch {
    return `blob ${ref.sha256} (event ${ref.seq}) is missing from ${dir}`;
  }
  if (sha256Hex(bytes) !== ref.sha256) {
    return `blob ${ref.sha256} (event ${ref.seq}) does not match its hash: it was altered`;
  }
  if (bytes.length !== ref.size) {
    return `blob ${ref.sha256} (event ${ref.seq}) has ${bytes.length} bytes, the chain says ${ref.size}`;
  }
  return null;
}
