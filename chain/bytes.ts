// Copyright the Theater authors. MIT license.
/**
 * The one home of byte helpers: hex, base64 and concatenation (node's
 * `Buffer` does the encoding; the checks here make decoding strict).
 *
 * @module
 */
import { Buffer } from "node:buffer";

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return view(bytes).toString("hex");
}

/**
 * Bytes of a lowercase or uppercase hex string.
 *
 * @throws {TypeError} when the text is not hex.
 */
export function fromHex(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError("not hex");
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Standard base64 (RFC 4648 §4, padded) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  return view(bytes).toString("base64");
}

/**
 * Bytes of standard or URL-safe base64 (RFC 4648 §4 or §5; padding
 * optional).
 *
 * @throws {TypeError} when the text is not base64.
 */
export function fromBase64(text: string): Uint8Array {
  const standard = text.replaceAll("-", "+").replaceAll("_", "/");
  if (
    !/^[A-Za-z0-9+/]*={0,2}$/.test(standard) ||
    standard.replace(/=+$/, "").length % 4 === 1
  ) {
    throw new TypeError("not base64");
  }
  return new Uint8Array(Buffer.from(standard, "base64"));
}

/** The bytes of `parts` one after another (no copy for a single part). */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
