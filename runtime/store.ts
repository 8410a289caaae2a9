// Copyright the Theater authors. MIT license.
/**
 * The content-addressed blob store of a run directory (`store/<sha256>`):
 * what actors `store.put`. The chain records each blob's hash and size;
 * the bytes live here, written before the event that names them.
 *
 * @module
 */
import { join } from "node:path";
import { isBlobHash, sha256Hex, writeFileAtomicSync } from "../chain/mod.ts";

/** A run's blob store. */
export class BlobStore {
  /** The folder the blobs are in. */
  readonly dir: string;
  #sync: boolean;
  #made = false;

  /**
   * Opens the store in `dir` (made on the first write).
   *
   * @param options.sync make each new blob durable (fsync of the file and
   * of the folder) before it is reported written.
   */
  constructor(dir: string, options: { sync?: boolean } = {}) {
    this.dir = dir;
    this.#sync = options.sync ?? true;
  }

  /** Where a blob is. */
  path(sha256: string): string {
    return join(this.dir, sha256);
  }

  /**
   * Writes blobs that are not there yet, each whole or not at all (a crash
   * leaves no half a blob under its hash). Synchronous: the events that
   * name them are written right after.
   */
  putSync(blobs: Uint8Array[]): void {
    for (const bytes of blobs) {
      const sha256 = sha256Hex(bytes);
      const target = this.path(sha256);
      try {
        if (Deno.statSync(target).size === bytes.length) continue;
      } catch {
        // Not there yet.
      }
      if (!this.#made) {
        Deno.mkdirSync(this.dir, { recursive: true });
        this.#made = true;
      }
      writeFileAtomicSync(target, bytes, { sync: this.#sync });
    }
  }

  /** A blob's bytes if it is there and matches its hash, else null. */
  readSync(sha256: string): Uint8Array | null {
    if (!isBlobHash(sha256)) return null;
    try {
      const bytes = Deno.readFileSync(this.path(sha256));
      return sha256Hex(bytes) === sha256 ? bytes : null;
    } catch {
      return null;
    }
  }
}
