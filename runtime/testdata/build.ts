// Copyright the Theater authors. MIT license.
/**
 * Writes every test component of `components.ts` into this directory, as
 * `<kind>.wasm`: the hostile and broken ones (`trap`, `err`, `junk`,
 * `loop`, `membomb`, `wasi`, `noexport`, `core`, `garbage`) and the
 * well-behaved helpers (`echo`, `relay`, `supervisor`).
 * `runtime/component_test.ts` checks that the files here are what this
 * script makes. Run from the repository root:
 * `deno run --allow-read --allow-write --allow-env runtime/testdata/build.ts`.
 *
 * @module
 */
import { buildTestComponent, TEST_COMPONENTS } from "./components.ts";

const here = new URL(".", import.meta.url).pathname;
for (const kind of TEST_COMPONENTS) {
  const path = await buildTestComponent(kind, here);
  const { size } = await Deno.stat(path);
  console.log(`${path}: ${size} bytes`);
}
