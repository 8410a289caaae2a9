// Copyright the Theater authors. MIT license.
// A TypeScript actor built for a bench: a temporary project (removed when
// the bench ends) with the SDK, the source and a manifest, built once.
import { join } from "node:path";
import { buildActor } from "../sdk/build.ts";
import { loadManifest, type ResolvedManifest } from "../supervisor/mod.ts";

/**
 * Builds `source` (an actor.ts against ./theater_sdk.ts) with `manifest`
 * fields beside the component path; returns the project folder and the
 * loaded manifest.
 */
export async function benchActor(
  source: string,
  manifest: Record<string, unknown>,
): Promise<{ dir: string; manifest: ResolvedManifest }> {
  const dir = await Deno.makeTempDir({ prefix: "theater_bench_" });
  globalThis.addEventListener("unload", () => {
    Deno.removeSync(dir, { recursive: true });
  });
  await Deno.copyFile(
    new URL("../sdk/mod.ts", import.meta.url),
    join(dir, "theater_sdk.ts"),
  );
  await Deno.writeTextFile(join(dir, "actor.ts"), source);
  await Deno.writeTextFile(
    join(dir, "manifest.json"),
    JSON.stringify({ ...manifest, component: "./actor.wasm" }),
  );
  await buildActor(dir);
  return { dir, manifest: await loadManifest(join(dir, "manifest.json")) };
}
