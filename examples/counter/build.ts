// Copyright the Theater authors. MIT license.
/**
 * Builds `counter.wasm` from `counter.wat` and `wit/0.1.0/theater.wit` with jco's
 * in-process wasm-tools: WAT -> core module -> embed the WIT -> component.
 * Run: `deno run --allow-read --allow-write --allow-env examples/counter/build.ts`.
 *
 * @module
 */
import { buildWatComponent } from "../../runtime/build_wat.ts";

const here = new URL(".", import.meta.url).pathname;
const bytes = await buildWatComponent(`${here}counter.wat`, {
  world: "actor-world",
});
await Deno.writeFile(`${here}counter.wasm`, bytes);
console.log(`${here}counter.wasm: ${bytes.length} bytes`);
