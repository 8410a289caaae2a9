// Copyright the Theater authors. MIT license.
/**
 * Turns a WAT core module into a Theater component, with jco's in-process
 * wasm-tools (parse, componentEmbed, componentNew).
 *
 * @module
 */
const WIT = new URL("../wit/0.1.0/theater.wit", import.meta.url);

/**
 * Builds a component from a WAT file (or WAT source with `source`),
 * embedding `wit/0.1.0/theater.wit` (or `wit`) for `world`: the WAT
 * components here import the 0.1.0 names.
 */
export async function buildWatComponent(
  path: string,
  options: { world?: string; wit?: string; source?: string } = {},
): Promise<Uint8Array> {
  const { componentEmbed, componentNew, parse } = await import(
    "@bytecodealliance/jco"
  );
  const wat = options.source ?? await Deno.readTextFile(path);
  const core = await parse(wat);
  const embedded = await componentEmbed({
    binary: core,
    witSource: options.wit ?? await Deno.readTextFile(WIT),
    world: options.world ?? "actor-world",
  });
  return await componentNew(embedded, []);
}
