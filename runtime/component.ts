// Copyright the Theater authors. MIT license.
/**
 * Loading components: read, hash, check what they import and export, and
 * transpile them to JS bindings with jco (cached by SHA-256).
 *
 * @module
 */
import { join } from "node:path";
import { describeIoError, sha256Hex } from "../chain/mod.ts";
import { binaryKind, capMemory } from "./_wasm.ts";

/** The interfaces an actor may import (without version). */
export const ALLOWED_IMPORTS: readonly string[] = [
  "theater:actor/runtime",
  "theater:actor/message",
  "theater:actor/supervisor",
];

/** The export every actor must have. */
export const ACTOR_EXPORT = "theater:actor/actor";
/** The optional export of actors that hear about their children. */
export const SUPERVISED_EXPORT = "theater:actor/supervised";

/** A component that cannot be loaded; the message names file and reason. */
export class ComponentError extends Error {
  override name = "ComponentError";
}

/** A checked, transpiled component, ready to instantiate. */
export interface LoadedComponent {
  path: string;
  /** Lowercase hex SHA-256 of the component file. */
  sha256: string;
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
  /** True when the transpiled output came from the disk cache. */
  cached: boolean;
}

interface Transpiled {
  imports: string[];
  exports: string[];
  bindings: string;
  cores: Record<string, Uint8Array>;
}

const memoryCache = new Map<string, Transpiled>();

function unversioned(name: string): string {
  return name.replace(/@[^/]*$/, "");
}

async function readCache(dir: string): Promise<Transpiled | null> {
  try {
    const meta = JSON.parse(await Deno.readTextFile(join(dir, "meta.json")));
    const cores: Record<string, Uint8Array> = {};
    for (const name of meta.cores as string[]) {
      cores[name] = await Deno.readFile(join(dir, name));
    }
    return {
      imports: meta.imports,
      exports: meta.exports,
      bindings: await Deno.readTextFile(join(dir, "bindings.js")),
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
  for (const [name, bytes] of Object.entries(t.cores)) {
    await Deno.writeFile(join(tmp, name), bytes);
  }
  await Deno.writeTextFile(join(tmp, "bindings.js"), t.bindings);
  await Deno.writeTextFile(
    join(tmp, "meta.json"),
    JSON.stringify({
      imports: t.imports,
      exports: t.exports,
      cores: Object.keys(t.cores),
    }),
  );
  try {
    await Deno.rename(tmp, dir);
  } catch {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function transpile(path: string, bytes: Uint8Array): Promise<Transpiled> {
  // jco is loaded only on a cache miss: importing it costs ~80 ms.
  const jco = await import("@bytecodealliance/jco");
  let out;
  try {
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

/**
 * Reads a component, records its SHA-256, refuses what an actor may not be
 * (a core module, garbage, an import outside `theater:actor`, no
 * `theater:actor/actor` export), and transpiles it with jco. Transpiled
 * output is cached in memory and, with `cacheDir`, on disk by SHA-256.
 *
 * @throws {ComponentError}
 */
export async function loadComponent(
  path: string,
  options: { cacheDir?: string } = {},
): Promise<LoadedComponent> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
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
  let t = memoryCache.get(sha256) ?? null;
  let cached = t !== null;
  if (options.cacheDir) {
    const dir = join(options.cacheDir, sha256);
    const disk = await readCache(dir);
    if (disk) {
      t ??= disk;
      cached = true;
    } else {
      t ??= await transpile(path, bytes);
      await writeCache(dir, t);
    }
  }
  t ??= await transpile(path, bytes);
  memoryCache.set(sha256, t);
  for (const name of t.imports) {
    if (!ALLOWED_IMPORTS.includes(unversioned(name))) {
      throw new ComponentError(
        `${path}: imports ${name}, which actors may not use (allowed: ${
          ALLOWED_IMPORTS.join(", ")
        })`,
      );
    }
  }
  const exported = t.exports.map(unversioned);
  if (!exported.includes(ACTOR_EXPORT)) {
    throw new ComponentError(
      `${path}: does not export ${ACTOR_EXPORT} (it exports ${
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
    supervised: exported.includes(SUPERVISED_EXPORT),
    bindings: t.bindings,
    cores: t.cores,
    cached,
  };
}

const compiled = new Map<string, Record<string, WebAssembly.Module>>();

/**
 * Compiles a component's core modules with their memories capped at
 * `memoryMb`. Compiled once per component and limit; the modules can be
 * posted to workers.
 *
 * @throws {ComponentError} when a memory starts above the limit.
 */
export function compileCores(
  component: LoadedComponent,
  options: { memoryMb: number },
): Record<string, WebAssembly.Module> {
  const key = `${component.sha256}:${options.memoryMb}`;
  let modules = compiled.get(key);
  if (modules) return modules;
  modules = {};
  for (const [name, bytes] of Object.entries(component.cores)) {
    try {
      modules[name] = new WebAssembly.Module(
        capMemory(bytes, options.memoryMb * 2 ** 20),
      );
    } catch (err) {
      throw new ComponentError(
        `${component.path}: ${(err as Error).message}`,
      );
    }
  }
  compiled.set(key, modules);
  return modules;
}
