// Copyright the Theater authors. MIT license.
/**
 * Reading the files a run is given (manifests, components, keys) without
 * trusting what they are: only regular files, only up to a size.
 *
 * @module
 */

/** A file that is not a regular file or is over its size limit. */
export class FileRefused extends Error {
  override name = "FileRefused";
}

/**
 * Reads a whole regular file of at most `maxBytes`. A FIFO, a device (such
 * as /dev/zero), a directory or a larger file is refused before it is read:
 * `stat` first, so that opening a FIFO cannot block, then `stat` again on
 * the open file, so that a file swapped in between is caught too.
 *
 * @throws {FileRefused | Deno.errors.NotFound | Error}
 */
export async function readRegularFile(
  path: string,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const check = (info: Deno.FileInfo) => {
    if (!info.isFile) throw new FileRefused("is not a regular file");
    if (info.size > maxBytes) {
      throw new FileRefused(
        `is ${info.size} bytes, over the limit of ${maxBytes}`,
      );
    }
  };
  check(await Deno.stat(path));
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  check(info);
  const bytes = new Uint8Array(info.size);
  let at = 0;
  while (at < bytes.length) {
    const n = await file.read(bytes.subarray(at));
    if (n === null) break;
    at += n;
  }
  return bytes.subarray(0, at);
}
