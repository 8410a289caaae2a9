// Copyright the Theater authors. MIT license.
import { describeIoError, generateKeys } from "../chain/mod.ts";
import { type Command, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater keygen --out PREFIX [--name NAME]

Creates an Ed25519 key pair for signing checkpoints, in the C2SP signed-note
formats: PREFIX.key (private, mode 0600) and PREFIX.pub (public).

Options:
  --out PREFIX  where to write the two files
  --name NAME   the key's name, shown on signatures (default: theater)
  -h, --help    show this help

Exit status: 0 written; 2 bad usage, or a key file exists or cannot be
written.`;

/** `theater keygen`. */
export const keygenCommand: Command = {
  name: "keygen",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      out: { type: "string" },
      name: { type: "string" },
    });
    if (positionals.length > 0 || typeof values.out !== "string") {
      throw new UsageError("keygen takes --out PREFIX and nothing else");
    }
    const keys = await generateKeys((values.name as string) ?? "theater");
    const prefix = values.out;
    await Deno.writeTextFile(`${prefix}.key`, keys.privateKey + "\n", {
      mode: 0o600,
      createNew: true,
    }).catch((err) => {
      throw new UsageError(
        err instanceof Deno.errors.AlreadyExists
          ? `${prefix}.key already exists; a key is never overwritten (choose another --out)`
          : `cannot write ${prefix}.key: ${describeIoError(err)}`,
      );
    });
    await Deno.writeTextFile(`${prefix}.pub`, keys.publicKey + "\n").catch(
      (err) => {
        throw new UsageError(
          `cannot write ${prefix}.pub: ${describeIoError(err)}`,
        );
      },
    );
    out(`wrote ${prefix}.key (private) and ${prefix}.pub: ${keys.publicKey}`);
    return 0;
  },
};
