// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { readLines } from "./_lines.ts";

Deno.test("readLines: ranges that meet read every line once, wherever they are cut", async () => {
  const path = await Deno.makeTempFile();
  try {
    const lines: string[] = [];
    let seed = 1;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    // Long enough to span several 256 KB chunks.
    for (let i = 0; i < 3000; i++) lines.push(`${i}:${"x".repeat(next(400))}`);
    const text = lines.join("\n") + "\nno newline";
    await Deno.writeTextFile(path, text);
    const size = new TextEncoder().encode(text).length;
    const want = [...lines.map((l) => `${l}|`), "no newline"];
    const decoder = new TextDecoder();
    for (let trial = 0; trial < 60; trial++) {
      const cuts = [0, size];
      for (let k = next(4); k >= 0; k--) cuts.push(next(size + 1));
      // A cut right at a line start, and right after a newline.
      if (trial === 0) cuts.push(lines[0].length, lines[0].length + 1);
      cuts.sort((a, b) => a - b);
      const got: string[] = [];
      for (let k = 0; k + 1 < cuts.length; k++) {
        using file = await Deno.open(path);
        for await (
          const batch of readLines(file, { start: cuts[k], end: cuts[k + 1] })
        ) {
          for (const l of batch) {
            got.push(decoder.decode(l.bytes) + (l.terminated ? "|" : ""));
          }
        }
      }
      assert.deepEqual(got, want, `cuts ${cuts}`);
    }
  } finally {
    await Deno.remove(path);
  }
});
