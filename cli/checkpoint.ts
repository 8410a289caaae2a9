// Copyright the Theater authors. MIT license.
import {
  chainCheckpoint,
  parseSignerKey,
  signCheckpoint,
} from "../chain/mod.ts";
import { type Command, intFlag, out, parse, UsageError } from "./_common.ts";

const HELP =
  `Usage: theater checkpoint <chain.jsonl> --key FILE [--size N] [--out FILE]

Verifies the chain, computes the RFC 9162 Merkle tree over its event hashes,
and writes a signed checkpoint (C2SP tlog-checkpoint: origin theater/<actor>,
tree size, base64 root, Ed25519 signature).

Options:
  --key FILE   the private key (from theater keygen)
  --size N     checkpoint the first N events (default: all)
  --out FILE   write here instead of stdout
  -h, --help   show this help

Exit status: 0 written; 1 the chain does not verify; 2 bad usage or an
unreadable file or key.`;

/** `theater checkpoint`. */
export const checkpointCommand: Command = {
  name: "checkpoint",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      key: { type: "string" },
      size: { type: "string" },
      out: { type: "string" },
    });
    if (positionals.length !== 1 || typeof values.key !== "string") {
      throw new UsageError("checkpoint takes one chain and --key FILE");
    }
    const signer = await parseSignerKey(await Deno.readTextFile(values.key));
    const head = await chainCheckpoint(positionals[0], {
      size: intFlag("size", values.size),
    });
    const text = await signCheckpoint(head, signer);
    if (typeof values.out === "string") {
      await Deno.writeTextFile(values.out, text);
      out(`wrote ${values.out}: ${head.origin}, ${head.size} events`);
    } else {
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    }
    return 0;
  },
};
