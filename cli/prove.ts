// Copyright the Theater authors. MIT license.
import { proveConsistency, proveInclusion } from "../chain/mod.ts";
import { type Command, intFlag, out, parse, UsageError } from "./_common.ts";

const HELP =
  `Usage: theater prove <chain.jsonl> --event N [--size S] [--out FILE]
       theater prove <chain.jsonl> --from SIZE1 [--to SIZE2] [--out FILE]

Writes an RFC 9162 proof as JSON (docs/chain-format.md §12):
  --event N      an inclusion proof of the event with seq N in the tree of
                 the first S events (default: the whole chain)
  --from SIZE1   a consistency proof that the tree of SIZE1 events is a
                 prefix of the tree of SIZE2 (default: the whole chain)
Check it without the chain:
  theater verify --proof FILE --checkpoint CP --pubkey KEY.pub

Options:
  --out FILE   write here instead of stdout
  -h, --help   show this help

Exit status: 0 written; 1 the chain does not verify or lacks the event;
2 bad usage or an unreadable file.`;

/** `theater prove`. */
export const proveCommand: Command = {
  name: "prove",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      event: { type: "string" },
      size: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      out: { type: "string" },
    });
    if (
      positionals.length !== 1 ||
      (values.event === undefined) === (values.from === undefined)
    ) {
      throw new UsageError(
        "prove takes one chain and either --event N or --from SIZE",
      );
    }
    const proof = values.event !== undefined
      ? await proveInclusion(positionals[0], {
        seq: intFlag("event", values.event)!,
        size: intFlag("size", values.size),
      })
      : await proveConsistency(positionals[0], {
        from: intFlag("from", values.from)!,
        to: intFlag("to", values.to),
      });
    const text = JSON.stringify(proof, null, 2) + "\n";
    if (typeof values.out === "string") {
      await Deno.writeTextFile(values.out, text);
      out(
        `wrote ${values.out}: ${proof.type} proof, tree size ${proof.tree_size}`,
      );
    } else {
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    }
    return 0;
  },
};
