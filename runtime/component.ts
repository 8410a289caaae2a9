// Copyright the Theater authors. MIT license.
/**
 * Loading components: read, hash, check what they import and export, and
 * transpile them to JS bindings with jco (cached by SHA-256).
 *
 * @module
 */
import { join } from "node:path";
import {
  describeIoError,
  FileRefused,
  readRegularFileSync,
  sha256Hex,
} from "../chain/mod.ts";
import { type ActorLimits, DEFAULT_LIMITS } from "./limits.ts";
import type { ExecutorComponent } from "./executor.ts";
import { compileComponent, ComponentError } from "./_compile.ts";
import { ACTOR, HOST_INTERFACES, SUPERVISED, unversioned } from "./wit.ts";
import { binaryKind } from "./_wasm.ts";

export {
  compileComponent,
  ComponentError,
  DEFAULT_MEMORY_MB,
} from "./_compile.ts";

/** A checked, transpiled component, ready to instantiate. */
export interface LoadedComponent {
  /** The component file it was loaded from. */
  path: string;
  /** Lowercase hex SHA-256 of the component file. */
  sha256: string;
  /** Size of the component file, in bytes. */
  size: number;
  /** Interfaces it imports, e.g. `theater:actor/runtime`. */
  imports: string[];
  /** Interfaces it exports, with versions. */
  exports: string[];
  /** Whether it exports `theater:actor/supervised`. */
  supervised: boolean;
  /** The jco bindings: an ES module that exports `instantiate`. */
  bindings: string;
  /** The core modules the bindings ask for, by name. */
  cores: Record<string, Uint8Array>;
  /**
   * True when the transpiled output came from a cache (this process's, or
   * the disk cache): jco did not run.
   */
  cached: boolean;
  /** The disk cache entry of this component, or null when none was used. */
  cacheEntry: string | null;
}

/** Options of {@linkcode loadComponent}. */
export interface LoadOptions {
  /**
   * Where transpiled output is cached on disk, by SHA-256; `false` for no
   * disk cache. Default: {@linkcode defaultCacheDir}, used only as far as
   * read and write permission for it is already granted (never prompts).
   */
  cacheDir?: string | false;
  /** Largest component file accepted, in MiB (`limits.component_mb`). */
  maxMb?: number;
}

/**
 * Names the transpiler and mode that made the cached bindings. It is part
 * of the cache path, so a jco upgrade never reads old output; keep it in
 * step with the jco pinned in deno.json (a test checks).
 */
export const TRANSPILER = "jco-1.11.2-sync";

interface Transpiled {
  imports: string[];
  exports: string[];
  bindings: string;
  cores: Record<string, Uint8Array>;
}

const memoryCache = new Map<string, Transpiled>();
/** Disk cache entries this process has read or written. */
const onDisk = new Set<string>();

function granted(
  descriptor: Deno.PermissionDescriptor,
): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

function env(name: string): string | undefined {
  return granted({ name: "env", variable: name })
    ? Deno.env.get(name)
    : undefined;
}

/**
 * The default disk cache of transpiled components: `$THEATER_CACHE_DIR`
 * (empty: no disk cache), else `$XDG_CACHE_HOME/theater`, else
 * `$HOME/.cache/theater`. Null when none applies, or when env permission
 * for these variables is not granted (it is queried, never prompted for).
 */
export function defaultCacheDir(): string | null {
  const theater = env("THEATER_CACHE_DIR");
  if (theater !== undefined) return theater === "" ? null : theater;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "theater");
  const home = env("HOME");
  return home ? join(home, ".cache", "theater") : null;
}

async function readCache(dir: string): Promise<Transpiled | null> {
  try {
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "meta.json")));
    const bindings = await Deno.readFile(join(dir, "bindings.js"));
    // The hashes catch a damaged entry, not a deliberate change: whoever
    // can write the cache is trusted (docs/security.md).
    if (sha256Hex(bindings) !== meta.hashes["bindings.js"]) return null;
    const cores: Record<string, Uint8Array> = {};
    for (const name of meta.cores as string[]) {
      cores[name] = await Deno.readFile(join(dir, name));
      if (sha256Hex(cores[name]) !== meta.hashes[name]) return null;
    }
    return {
      imports: meta.imports,
      exports: meta.exports,
      bindings: new TextDecoder().decode(bindings),
      cores,
    };
  } catch {
    return null;
  }
}

async function writeCache(dir: string, t: Transpiled): Promise<void> {
  // Written to a fresh directory then renamed, so a reader never sees half.
  const tmp = `${dir}.tmp-${crypto.randomUUID()}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    const bindings = new TextEncoder().encode(t.bindings);
    const hashes: Record<string, string> = {
      "bindings.js": sha256Hex(bindings),
    };
    for (const [name, bytes] of Object.entries(t.cores)) {
      await Deno.writeFile(join(tmp, name), bytes);
      hashes[name] = sha256Hex(bytes);
    }
    await Deno.writeFile(join(tmp, "bindings.js"), bindings);
    await Deno.writeTextFile(
      join(tmp, "meta.json"),
      JSON.stringify({
        transpiler: TRANSPILER,
        imports: t.imports,
        exports: t.exports,
        cores: Object.keys(t.cores),
        hashes,
      }),
    );
    try {
      await Deno.rename(tmp, dir);
    } catch (err) {
      // An entry is there: keep it if it is sound (a concurrent writer's),
      // replace it if it is damaged.
      if (await readCache(dir)) return;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, dir).catch(() => {
        throw err;
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function transpile(path: string, bytes: Uint8Array): Promise<Transpiled> {
  // jco is loaded only on a cache miss: importing it costs ~80 ms.
  const jco = await import("@bytecodealliance/jco");
  let out;
  try {
    // "sync" bindings take the compiled core modules and the imports per
    // call of their `instantiate`: one transpilation, many instances, and
    // every export and import a plain synchronous function.
    out = await jco.transpile(bytes, {
      name: "component",
      instantiation: "sync",
    });
  } catch (err) {
    throw new ComponentError(
      `${path}: not a valid component: ${String((err as Error).message ?? err)}`
        .split("\n")[0],
    );
  }
  const cores: Record<string, Uint8Array> = {};
  let bindings = "";
  for (const [name, file] of Object.entries(out.files)) {
    if (name.endsWith(".wasm")) cores[name] = file;
    else if (name === "component.js") {
      bindings = new TextDecoder().decode(file);
    }
  }
  return {
    imports: out.imports,
    exports: out.exports.map(([name]) => name).filter((n) => n.includes(":")),
    bindings,
    cores,
  };
}

/** Transpiles, or takes the output from this process's or the disk cache. */
async function transpiled(
  path: string,
  bytes: Uint8Array,
  sha256: string,
  cacheDir: string | false | undefined,
): Promise<{ t: Transpiled; cached: boolean; entry: string | null }> {
  const explicit = typeof cacheDir === "string";
  const root = cacheDir === false
    ? null
    : explicit
    ? cacheDir
    : defaultCacheDir();
  const entry = root === null ? null : join(root, TRANSPILER, sha256);
  const readable = entry !== null &&
    (explicit || granted({ name: "read", path: entry }));
  const hit = memoryCache.get(sha256);
  if (hit) {
    // Still fill an explicit disk cache that lacks the entry.
    if (entry && explicit && !onDisk.has(entry)) {
      if (!(await readCache(entry))) await writeCache(entry, hit);
      onDisk.add(entry);
    }
    return {
      t: hit,
      cached: true,
      entry: entry && onDisk.has(entry) ? entry : null,
    };
  }
  if (entry && readable) {
    const disk = await readCache(entry);
    if (disk) {
      memoryCache.set(sha256, disk);
      onDisk.add(entry);
      return { t: disk, cached: true, entry };
    }
  }
  const t = await transpile(path, bytes);
  memoryCache.set(sha256, t);
  if (entry && explicit) {
    await writeCache(entry, t);
    onDisk.add(entry);
    return { t, cached: false, entry };
  }
  if (entry && granted({ name: "write", path: entry })) {
    // The default cache is a convenience: if it cannot be written, go on.
    const written = await writeCache(entry, t).then(() => true, () => false);
    if (written) onDisk.add(entry);
    return { t, cached: false, entry: written ? entry : null };
  }
  return { t, cached: false, entry: null };
}

/**
 * Reads a component, records its SHA-256, refuses what an actor may not be
 * (a missing file, garbage, a core module, an import outside
 * `theater:actor/{runtime,message,supervisor}`, no `theater:actor/actor`
 * export), and transpiles it with jco. Transpiled output is cached in
 * memory and on disk by SHA-256 (see {@linkcode LoadOptions}).
 *
 * @throws {ComponentError} naming the file and what is wrong with it.
 */
export async function loadComponent(
  path: string,
  options: LoadOptions = {},
): Promise<LoadedComponent> {
  const maxMb = options.maxMb ?? DEFAULT_LIMITS.componentMb;
  // Spawning many actors of one component reads and hashes it once: a file
  // that has not changed (same inode, size and mtime) is not read again.
  // Whatever is reused is what was hashed, so the record stays true even
  // if the file was changed without its stamp changing.
  let stamp: string | null = null;
  try {
    const info = Deno.statSync(path);
    if (info.isFile) {
      stamp = [
        info.dev,
        info.ino,
        info.size,
        info.mtime?.getTime(),
        maxMb,
        options.cacheDir,
      ].join(":");
    }
  } catch {
    // Reported below, by the read.
  }
  const seen = stamp === null ? undefined : loadedFiles.get(path);
  if (seen && seen.stamp === stamp) return { ...seen.loaded, cached: true };
  const loaded = await load(path, maxMb, options);
  if (stamp !== null) loadedFiles.set(path, { stamp, loaded });
  return loaded;
}

/** Components loaded by this process, by path, with the file's stamp. */
const loadedFiles = new Map<
  string,
  { stamp: string; loaded: LoadedComponent }
>();

async function load(
  path: string,
  maxMb: number,
  options: LoadOptions,
): Promise<LoadedComponent> {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFileSync(path, maxMb * 1024 * 1024);
  } catch (err) {
    if (err instanceof FileRefused) {
      throw new ComponentError(
        `${path}: ${err.message}${
          err.message.includes("limit") ? " (limits.component_mb)" : ""
        }`,
      );
    }
    throw new ComponentError(`${path}: cannot read: ${describeIoError(err)}`);
  }
  const kind = binaryKind(bytes);
  if (kind === "core-module") {
    throw new ComponentError(
      `${path}: is a core WebAssembly module, not a component (wrap it with jco's componentNew or 'wasm-tools component new')`,
    );
  }
  if (kind === "not-wasm") {
    throw new ComponentError(`${path}: is not a WebAssembly component`);
  }
  const sha256 = sha256Hex(bytes);
  const { t, cached, entry } = await transpiled(
    path,
    bytes,
    sha256,
    options.cacheDir,
  );
  for (const name of t.imports) {
    if (!HOST_INTERFACES.includes(unversioned(name))) {
      throw new ComponentError(
        `${path}: imports ${name}, which actors may not use (allowed: ${
          HOST_INTERFACES.join(", ")
        })`,
      );
    }
  }
  const exported = t.exports.map(unversioned);
  if (!exported.includes(ACTOR)) {
    throw new ComponentError(
      `${path}: does not export ${ACTOR} (it exports ${
        t.exports.length ? t.exports.join(", ") : "nothing"
      })`,
    );
  }
  return {
    path,
    sha256,
    size: bytes.length,
    imports: t.imports,
    exports: t.exports,
    supervised: exported.includes(SUPERVISED),
    bindings: t.bindings,
    cores: t.cores,
    cached,
    cacheEntry: entry,
  };
}

/**
 * Compiles a component's core modules with their memories capped at
 * `memoryMb`: {@linkcode compileComponent}'s modules. The modules can be
 * posted to workers.
 *
 * @throws {ComponentError} when a memory starts above the limit.
 */
export function compileCores(
  component: LoadedComponent,
  options: { memoryMb: number; tableElements?: number },
): Record<string, WebAssembly.Module> {
  return compileComponent(component, options).modules;
}

/**
 * A loaded component as executors take it, compiled under an actor's
 * limits (memory and tables), keyed by its hash and those limits.
 */
export function executorComponent(
  component: LoadedComponent,
  limits: Pick<ActorLimits, "memoryMb" | "tableElements">,
): ExecutorComponent {
  return {
    key: `${component.sha256}:${limits.memoryMb}:${limits.tableElements}`,
    bindings: component.bindings,
    modules: compileCores(component, limits),
  };
}
