// Copyright the Theater authors. MIT license.
/**
 * Builds `kv.wasm` from `kv.ts` and `wit/theater.wit` (world `actor-world`):
 *
 * 1. `deno bundle` strips the TypeScript types (kv.ts has no imports, so the
 *    "bundle" is kv.ts as JavaScript);
 * 2. three lines bind it to the WIT: import `theater:actor/runtime`, export
 *    `actor` (the `theater:actor/actor` interface);
 * 3. componentize-qjs (QuickJS, snapshotted with Wizer) turns that into a
 *    component with the non-async runtime and every WASI import stubbed out,
 *    so it imports only `theater:actor/*`;
 * 4. the runtime's own loader checks the result as `theater run` would.
 *
 * Run from the repository root:
 * `deno run --allow-read --allow-write=examples/kv --allow-run --allow-ffi --allow-env examples/kv/build.ts`
 * (`--allow-ffi` loads componentize-qjs's native addon, `--allow-run` runs
 * `deno bundle`).
 *
 * @module
 */
import { componentize } from "componentize-qjs";
import { loadComponent } from "../../runtime/component.ts";

const here = new URL(".", import.meta.url).pathname;
const wit = new URL("../../wit/theater.wit", import.meta.url).pathname;
const out = `${here}kv.wasm`;

async function hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** kv.ts as JavaScript, by `deno bundle` (run in this folder, so the output
 * does not depend on where the build was started). */
async function stripTypes(): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--format", "esm", "kv.ts"],
    cwd: here,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `deno bundle kv.ts failed:\n${new TextDecoder().decode(stderr)}`,
    );
  }
  return new TextDecoder().decode(stdout);
}

let t = performance.now();
const js = await stripTypes();
const stripMs = performance.now() - t;

const source = [
  `import runtime from "theater:actor/runtime@0.1.0";`,
  js,
  `export const actor = createActor(runtime);`,
  ``,
].join("\n");

t = performance.now();
const { component } = await componentize({
  witPath: wit,
  world: "actor-world",
  jsSource: source,
  stubWasi: true,
  sync: true,
});
const componentizeMs = performance.now() - t;
const bytes = new Uint8Array(component);
await Deno.writeFile(out, bytes);

t = performance.now();
const loaded = await loadComponent(out);
const loadMs = performance.now() - t;

console.log(`${out}: ${bytes.length} bytes, sha256 ${await hex(bytes)}`);
console.log(`imports: ${loaded.imports.join(", ")}`);
console.log(`exports: ${loaded.exports.join(", ")}`);
console.log(
  `strip types ${stripMs.toFixed(0)} ms, componentize ${
    componentizeMs.toFixed(0)
  } ms, check (jco transpile) ${loadMs.toFixed(0)} ms`,
);
