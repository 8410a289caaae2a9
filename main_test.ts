// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "./cli/_commands.ts";

const ROOT = fileURLToPath(new URL(".", import.meta.url));

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

/**
 * The module graph of main.ts as deno sees it (`deno info --json`), each
 * local module by its path here.
 */
async function graph(): Promise<Map<string, Dependency[]>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string; dependencies?: Dependency[] }[];
  };
  return new Map(
    info.modules.map((m) => [name(m.specifier), m.dependencies ?? []]),
  );
}

function name(specifier: string): string {
  return specifier.startsWith("file:")
    ? relative(ROOT, fileURLToPath(specifier))
    : specifier;
}

Deno.test("main.ts loads only the command table before a command is chosen", async () => {
  const modules = await graph();
  const loaded = new Set<string>();
  const visit = (module: string) => {
    if (loaded.has(module)) return;
    loaded.add(module);
    for (const dep of modules.get(module) ?? []) {
      // Type-only imports have no `code`; dynamic ones are evaluated only
      // when imported (deno still reads them at start, for their graph).
      if (dep.code && !dep.isDynamic) visit(name(dep.code.specifier));
    }
  };
  visit("main.ts");
  assert.deepEqual([...loaded].sort(), ["cli/_commands.ts", "main.ts"]);
});

Deno.test("each entry of the command table loads the command of its name", async () => {
  const names = COMMANDS.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, "a name is listed twice");
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.equal(command.name, entry.name);
    assert.match(command.help, /^Usage: theater /, entry.name);
    assert.ok(entry.summary.length > 0 && !entry.summary.includes("\n"));
  }
});
