// Copyright the Theater authors. MIT license.
// Compiling a transpiled component's core modules, memory capped, once per
// component and limit. Uses no Deno API, so it also runs in workers.
import type { CompiledComponent } from "./instance.ts";
import { capMemory } from "./_wasm.ts";
import { instrument } from "./_interrupt.ts";

/** A component that cannot be loaded; the message names file and reason. */
export class ComponentError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "ComponentError";
}

/** What compiling needs of a loaded component. */
export interface Transpiled {
  /** The component file, for error messages. */
  path: string;
  /** Lowercase hex SHA-256 of the component file. */
  sha256: string;
  /** The jco bindings: an ES module that exports `instantiate`. */
  bindings: string;
  /** The core modules the bindings ask for, by name. */
  cores: Record<string, Uint8Array>;
}

/** Memory cap when none is given: the manifest default, 64 MiB. */
export const DEFAULT_MEMORY_MB = 64;

const compiled = new Map<string, CompiledComponent>();

/**
 * Compiles a component's core modules with their memories capped at
 * `memoryMb` and their tables at `tableElements`, once per component and
 * limits. The result is the same object
 * each time, so its bindings are imported once too.
 *
 * @throws {ComponentError} when a memory starts above the limit.
 */
export function compileComponent(
  component: Transpiled,
  options: { memoryMb?: number; tableElements?: number } = {},
): CompiledComponent {
  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
  const { tableElements } = options;
  const key = `${component.sha256}:${memoryMb}:${tableElements}`;
  let result = compiled.get(key);
  if (result) return result;
  const modules: Record<string, WebAssembly.Module> = {};
  for (const [name, bytes] of Object.entries(component.cores)) {
    try {
      // Instrumented so that a call can be stopped at its deadline
      // without killing the worker (see _interrupt.ts).
      modules[name] = new WebAssembly.Module(
        instrument(capMemory(bytes, memoryMb * 2 ** 20, { tableElements })),
      );
    } catch (err) {
      throw new ComponentError(
        `${component.path}: ${(err as Error).message}`,
      );
    }
  }
  result = { bindings: component.bindings, modules };
  compiled.set(key, result);
  return result;
}
