// Copyright the Theater authors. MIT license.
import { changes, stateAt } from "../chain/mod.ts";
import {
  type Command,
  escapeControl,
  intFlag,
  out,
  parse,
  UsageError,
} from "./_common.ts";

const HELP = `Usage: theater state <chain.jsonl> --at N
       theater state <chain.jsonl> --diff A B

Shows the actor's state right after event N, as recorded (the last
actor.init or handle.ok at or before N, with the handle.patch changes after
it, each checked against its state_hash; null before the first). With --diff,
lists what changed between the states after events A and B:
  ~ path: old -> new    + path: value    - path: value

Options:
  --at N       the event (seq) to show the state after
  --diff A B   compare the states after events A and B
  -h, --help   show this help

Exit status: 0 shown; 1 no such event, a line that is not a valid event,
or a state that does not rebuild; 2 bad usage or an unreadable path.`;

/** `theater state`. */
export const stateCommand: Command = {
  name: "state",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      at: { type: "string" },
      diff: { type: "boolean" },
    });
    if (values.diff) {
      if (positionals.length !== 3) {
        throw new UsageError("--diff takes a chain and two event numbers");
      }
      const [path, a, b] = positionals;
      const from = intFlag("diff", a)!;
      const to = intFlag("diff", b)!;
      const lines = changes(
        await stateAt(path, from),
        await stateAt(path, to),
      );
      out(lines.length ? lines.map(escapeControl).join("\n") : "no change");
      return 0;
    }
    if (positionals.length !== 1 || values.at === undefined) {
      throw new UsageError("state takes a chain and --at N (or --diff A B)");
    }
    const at = intFlag("at", values.at)!;
    out(
      // Line by line: the layout's own line breaks stay, what a guest wrote
      // is escaped.
      JSON.stringify(await stateAt(positionals[0], at), null, 2).split("\n")
        .map(escapeControl).join("\n"),
    );
    return 0;
  },
};
