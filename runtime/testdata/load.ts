// Copyright the Theater authors. MIT license.
// Loads one component in a fresh process (so this process's cache is
// empty) and prints what loadComponent says about caching, as JSON.
// Usage: deno run [flags] runtime/testdata/load.ts <component> [cache-dir]
import { loadComponent } from "../component.ts";

const [path, cacheDir] = Deno.args;
const started = performance.now();
const c = await loadComponent(path, { cacheDir });
console.log(JSON.stringify({
  sha256: c.sha256,
  cached: c.cached,
  cacheEntry: c.cacheEntry,
  ms: performance.now() - started,
}));
