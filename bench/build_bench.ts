// Copyright the Theater authors. MIT license.
/**
 * `theater build` for each template: a full build (type check, bundle,
 * componentize-qjs, load check) and a cache hit. Component sizes are
 * printed when the file loads.
 *
 * @module
 */
import { join } from "node:path";
import { buildActor } from "../sdk/build.ts";
import { TEMPLATES, templateSource } from "../sdk/templates.ts";

const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
const sdk = await Deno.readTextFile(new URL("../sdk/mod.ts", import.meta.url));

for (const template of TEMPLATES) {
  const project = join(dir, template);
  await Deno.mkdir(project);
  await Deno.writeTextFile(join(project, "actor.ts"), templateSource(template));
  await Deno.writeTextFile(join(project, "theater_sdk.ts"), sdk);
  await Deno.writeTextFile(
    join(project, "manifest.json"),
    JSON.stringify({ name: template, component: `./${template}.wasm` }),
  );
  const first = await buildActor(project);
  console.log(
    `${template}: ${first.size} bytes (${first.world}), first build ${
      (first.ms / 1000).toFixed(2)
    } s`,
  );
  Deno.bench(`build ${template} (full)`, { group: "full" }, async () => {
    await buildActor(project, { force: true });
  });
  Deno.bench(`build ${template} (unchanged: cache hit)`, {
    group: "cached",
  }, async () => {
    const r = await buildActor(project);
    if (!r.cached) throw new Error("expected a cache hit");
  });
}
