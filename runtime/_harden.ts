// Copyright the Theater authors. MIT license.
// Imported first by the actor workers, before any guest code (jco bindings,
// core modules) is loaded. Deno's permission model already denies every
// permissioned API; this removes what needs no permission but is no
// business of a guest: `Deno.kill` (a no-permission worker may still signal
// its own process), process facts such as `Deno.pid`, `Deno.cwd()` and
// `Deno.execPath()`, and starting workers of its own (which would run
// outside the call's time limit).
const scope = globalThis as Record<string, unknown>;
for (const name of ["Deno", "Worker", "SharedWorker"]) {
  delete scope[name];
  Object.defineProperty(scope, name, {
    value: undefined,
    writable: false,
    configurable: false,
  });
}
