// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { concatBytes, fromBase64, fromHex, toBase64, toHex } from "./bytes.ts";

Deno.test("bytes: hex and base64 round-trip and refuse what they are not", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) % 256);
    assert.deepEqual(fromHex(toHex(bytes)), bytes);
    assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
    // URL-safe and unpadded forms read the same.
    const url = toBase64(bytes).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    assert.deepEqual(fromBase64(url), bytes);
  }
  assert.equal(toHex(new Uint8Array([0, 15, 255])), "000fff");
  assert.equal(toBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
  for (const bad of ["0", "zz", "0g"]) assert.throws(() => fromHex(bad));
  for (const bad of ["a", "!!!!", "ab=c"]) assert.throws(() => fromBase64(bad));
  // A view into a larger buffer encodes only its own bytes.
  const big = new Uint8Array([1, 2, 3, 4]);
  assert.equal(toHex(big.subarray(1, 3)), "0203");
  assert.deepEqual(
    concatBytes([new Uint8Array([1]), new Uint8Array([]), big.subarray(2)]),
    new Uint8Array([1, 3, 4]),
  );
});
