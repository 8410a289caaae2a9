// Copyright the Theater authors. MIT license.
// The baseline of the round-trip benches: a bare postMessage round trip to
// a worker started like an actor worker (no permissions) that echoes.
import { actorWorker } from "../runtime/mod.ts";

/** Registers the bare worker round trip as the baseline of `group`. */
export function benchBareRoundTrip(group: string): void {
  const raw = actorWorker(
    new URL(
      `data:text/javascript,${
        encodeURIComponent("onmessage = (e) => postMessage(e.data);")
      }`,
    ),
  );
  globalThis.addEventListener("unload", () => raw.terminate());
  Deno.bench("bare Worker postMessage round trip", {
    group,
    baseline: true,
  }, async () => {
    await new Promise((resolve) => {
      raw.onmessage = resolve;
      raw.postMessage("ping");
    });
  });
}
