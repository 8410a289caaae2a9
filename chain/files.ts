// Copyright the Theater authors. MIT license.
/**
 * Reading the files a run is given (manifests, components, keys) without
 * trusting what they are: only regular files, only up to a size; and
 * writing whole files so that a crash never leaves half of one.
 *
 * @module
 */
import { dirname, join } from "node:path";

/**
 * The folder of a run directory that keeps a copy of every component the
 * run used, as `<sha256>.wasm`.
 */
export const COMPONENTS_DIR = "components";

/** A file that is not a regular file or is over its size limit. */
export class FileRefused extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "FileRefused";
}

/**
 * Opens a regular file of at most `maxBytes` (default: any size) for
 * reading. A FIFO, a device (such as /dev/zero), a directory or a larger
 * file is refused before it is read: `stat` first, so that opening a FIFO
 * cannot block, then `stat` again on the open file, so that a file swapped
 * in between is caught too. Returns the file and its size.
 *
 * @throws {FileRefused | Deno.errors.NotFound | Error}
 */
export function openRegularSync(
  path: string,
  maxBytes = Infinity,
): { file: Deno.FsFile; size: number } {
  const check = (info: Deno.FileInfo) => {
    if (!info.isFile) throw new FileRefused("is not a regular file");
    if (info.size > maxBytes) {
      throw new FileRefused(
        `is ${info.size} bytes, over the limit of ${maxBytes}`,
      );
    }
  };
  // Synchronous: a few µs each, where async calls are thread-pool round
  // trips; a spawn reads its component this way.
  check(Deno.statSync(path));
  const file = Deno.openSync(path, { read: true });
  try {
    const info = file.statSync();
    check(info);
    return { file, size: info.size };
  } catch (err) {
    file.close();
    throw err;
  }
}

/**
 * Reads a whole regular file of at most `maxBytes` (see
 * {@linkcode openRegularSync}).
 *
 * @throws {FileRefused | Deno.errors.NotFound | Error}
 */
export function readRegularFileSync(
  path: string,
  maxBytes: number,
): Uint8Array<ArrayBuffer> {
  const { file, size } = openRegularSync(path, maxBytes);
  using _ = file;
  const bytes = new Uint8Array(size);
  let at = 0;
  while (at < bytes.length) {
    const n = file.readSync(bytes.subarray(at));
    if (n === null) break;
    at += n;
  }
  return bytes.subarray(0, at);
}

/**
 * The chain files (`*.jsonl`) of a run directory, as sorted paths. An
 * entry so named that is not a regular file (a FIFO, a device, a folder, a
 * symbolic link) is refused rather than passed over, so that no command
 * reports on a directory with a chain it did not read.
 *
 * @throws {FileRefused} naming the entry; {Error} when `dir` cannot be read.
 */
export async function chainFilesIn(dir: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".jsonl")) continue;
    const path = join(dir, entry.name);
    if (!entry.isFile) throw new FileRefused(`${path}: not a regular file`);
    paths.push(path);
  }
  return paths.sort();
}

/**
 * Writes a whole file under a temporary name in the same folder, then
 * renames it into place: a crash leaves the old file or the new one, never
 * half of it. With `sync`, the file and then its folder are synced before
 * this returns, so the file is durable.
 *
 * @param options.mode the new file's permissions (default 0o644).
 */
export function writeFileAtomicSync(
  path: string,
  bytes: Uint8Array,
  options: { mode?: number; sync?: boolean } = {},
): void {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  const file = Deno.openSync(temp, {
    write: true,
    createNew: true,
    mode: options.mode ?? 0o644,
  });
  try {
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
    if (options.sync) file.syncDataSync();
  } finally {
    file.close();
  }
  Deno.renameSync(temp, path);
  if (options.sync) {
    const dir = Deno.openSync(dirname(path), { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }
}
