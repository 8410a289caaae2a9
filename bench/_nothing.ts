// Copyright the Theater authors. MIT license.
// A module that does nothing: cli_start_bench.ts times `deno run` of it as
// the floor every `theater` command starts from (same directory, so the
// same deno.json, lock file and node_modules are read).
export {};
