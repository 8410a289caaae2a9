// Copyright the Theater authors. MIT license.
/**
 * Signed checkpoints in the formats of C2SP tlog-checkpoint and signed-note,
 * with Ed25519 keys (docs/chain-format.md §11).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fromBase64, toBase64 } from "./bytes.ts";

/** A tree head: which log, how big, what root. */
export interface Checkpoint {
  /** `theater/<actor id>`. */
  origin: string;
  /** How many events the tree covers. */
  size: number;
  /** The Merkle tree root hash over those events. */
  root: Uint8Array;
}

/** A private key to sign checkpoints with. */
export interface SignerKey {
  /** The key name, as written on signature lines. */
  name: string;
  /** The 4-byte signed-note key hash of name and public key. */
  keyHash: Uint8Array;
  /** The Ed25519 private key. */
  key: CryptoKey;
}

/** A public key to check checkpoint signatures with. */
export interface VerifierKey {
  /** The key name a signature line must carry. */
  name: string;
  /** The 4-byte signed-note key hash of name and public key. */
  keyHash: Uint8Array;
  /** The Ed25519 public key. */
  key: CryptoKey;
}

/** A checkpoint, key or note that is malformed or fails to verify. */
export class CheckpointError extends Error {
  /** The error's name, as shown in messages and stack traces. */
  override name = "CheckpointError";
}

const ED25519 = 0x01;
const encoder = new TextEncoder();

function b64(bytes: Uint8Array): string {
  return toBase64(bytes);
}

function unb64(text: string, what: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    throw new CheckpointError(`${what} is not base64`);
  }
}

function unb64url(text: string): Uint8Array {
  return unb64(text, "key");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The signed-note key hash: SHA-256(name || "\n" || 0x01 || pubkey)[:4]. */
function keyHash(name: string, publicKey: Uint8Array): Uint8Array {
  const digest = createHash("sha256")
    .update(encoder.encode(`${name}\n`))
    .update(new Uint8Array([ED25519]))
    .update(publicKey)
    .digest();
  return new Uint8Array(digest).slice(0, 4);
}

const NAME = /^[^\s+]+$/;

/**
 * Makes an Ed25519 key pair and returns both in the signed-note text
 * formats: `PRIVATE+KEY+<name>+<hash>+<base64>` and `<name>+<hash>+<base64>`.
 */
export async function generateKeys(
  name: string,
): Promise<{ privateKey: string; publicKey: string }> {
  if (!NAME.test(name)) {
    throw new CheckpointError(
      `key name ${JSON.stringify(name)} may not hold spaces or '+'`,
    );
  }
  const pair = await crypto.subtle.generateKey(
    { name: "Ed25519" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const seed = unb64url(jwk.d!);
  const pub = unb64url(jwk.x!);
  const h = hex(keyHash(name, pub));
  return {
    privateKey: `PRIVATE+KEY+${name}+${h}+${
      b64(new Uint8Array([ED25519, ...seed]))
    }`,
    publicKey: `${name}+${h}+${b64(new Uint8Array([ED25519, ...pub]))}`,
  };
}

function parseKeyText(text: string, isPrivate: boolean) {
  // Base64 may hold '+': split off the leading fields only.
  const parts: string[] = [];
  let rest = text.trim();
  for (let i = 0; i < (isPrivate ? 4 : 2); i++) {
    const at = rest.indexOf("+");
    if (at === -1) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  const fields = isPrivate ? parts.slice(2) : parts;
  if (
    (isPrivate && (parts[0] !== "PRIVATE" || parts[1] !== "KEY")) ||
    fields.length !== 3
  ) {
    throw new CheckpointError(
      `not a ${isPrivate ? "private" : "public"} key (expected ${
        isPrivate ? "PRIVATE+KEY+" : ""
      }<name>+<hex hash>+<base64>)`,
    );
  }
  const [name, hashHex, data] = fields;
  const bytes = unb64(data, "key");
  if (bytes.length !== 33 || bytes[0] !== ED25519) {
    throw new CheckpointError("not an Ed25519 key");
  }
  return { name, hashHex, raw: bytes.slice(1) };
}

/** Reads a private key in the signed-note format. */
export async function parseSignerKey(text: string): Promise<SignerKey> {
  const { name, raw } = parseKeyText(text, true);
  // WebCrypto has no raw import for private keys: wrap the 32-byte seed in
  // its fixed PKCS#8 header, then read the public half back out as JWK.
  const pkcs8 = new Uint8Array([
    0x30,
    0x2e,
    0x02,
    0x01,
    0x00,
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    0x70,
    0x04,
    0x22,
    0x04,
    0x20,
    ...raw,
  ]);
  const key = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8,
    { name: "Ed25519" },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const pub = unb64url(jwk.x!);
  return { name, keyHash: keyHash(name, pub), key };
}

/** Reads a public key in the signed-note format. */
export async function parseVerifierKey(text: string): Promise<VerifierKey> {
  const { name, hashHex, raw } = parseKeyText(text, false);
  const h = keyHash(name, raw);
  if (hex(h) !== hashHex) {
    throw new CheckpointError("key hash does not match the key");
  }
  const key = await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "Ed25519" },
    true,
    ["verify"],
  );
  return { name, keyHash: h, key };
}

/** The checkpoint body: origin, size and base64 root, one per line. */
export function checkpointBody(cp: Checkpoint): string {
  return `${cp.origin}\n${cp.size}\n${b64(cp.root)}\n`;
}

/** Signs a checkpoint: its body, a blank line, and a signature line. */
export async function signCheckpoint(
  cp: Checkpoint,
  signer: SignerKey,
): Promise<string> {
  const body = checkpointBody(cp);
  const signature = new Uint8Array(
    await crypto.subtle.sign("Ed25519", signer.key, encoder.encode(body)),
  );
  return `${body}\n\u2014 ${signer.name} ${
    b64(new Uint8Array([...signer.keyHash, ...signature]))
  }\n`;
}

/**
 * Parses a signed checkpoint and checks its signature by `verifier`.
 *
 * @throws {CheckpointError} naming what is wrong.
 */
export async function openCheckpoint(
  text: string,
  verifier: VerifierKey,
): Promise<Checkpoint> {
  const split = text.indexOf("\n\n");
  if (split === -1) {
    throw new CheckpointError("no blank line before signatures");
  }
  const body = text.slice(0, split + 1);
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new CheckpointError("a checkpoint needs origin, size and root lines");
  }
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) {
    throw new CheckpointError(
      `tree size ${JSON.stringify(sizeText)} is not a number`,
    );
  }
  const root = unb64(rootText, "root hash");
  if (root.length !== 32) {
    throw new CheckpointError("root hash is not 32 bytes");
  }
  let verified = false;
  for (const line of text.slice(split + 2).split("\n")) {
    const m = line.match(/^\u2014 (\S+) (\S+)$/);
    if (!m || m[1] !== verifier.name) continue;
    const sig = unb64(m[2], "signature");
    if (sig.length !== 68 || hex(sig.slice(0, 4)) !== hex(verifier.keyHash)) {
      continue;
    }
    verified = await crypto.subtle.verify(
      "Ed25519",
      verifier.key,
      sig.slice(4),
      encoder.encode(body),
    );
    if (verified) break;
  }
  if (!verified) {
    throw new CheckpointError(
      `no valid signature by ${verifier.name} on the checkpoint`,
    );
  }
  return { origin, size: Number(sizeText), root };
}

/** The origin line Theater writes for an actor's chain. */
export function originOf(actor: string): string {
  return `theater/${actor}`;
}
