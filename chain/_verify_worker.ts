// Copyright the Theater authors. MIT license.
// Verifies one byte range of a chain for verifyChain (chain/verify.ts).
import { verifyRange } from "./verify.ts";

const scope = self as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
};

scope.onmessage = async (event) => {
  const { path, start, end, actor, maxLineBytes, collectLinks, state } =
    event.data;
  try {
    using file = await Deno.open(path, { read: true });
    const result = await verifyRange(file, path, {
      first: false,
      start,
      end,
      actor,
      maxLineBytes,
      collectLinks,
      state,
    });
    scope.postMessage({ result });
  } catch (err) {
    scope.postMessage({ error: String((err as Error)?.message ?? err) });
  }
};
