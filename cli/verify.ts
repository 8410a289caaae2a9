// Copyright the Theater authors. MIT license.
import {
  type ChainReport,
  type DirReport,
  type VerifyError,
  verifyPath,
} from "../chain/mod.ts";
import { type Command, err, out, parse, UsageError } from "./_common.ts";

const HELP = `Usage: theater verify [--json] <chain.jsonl | chain-dir>

Checks that a chain file is intact: every line valid canonical JSON, every
hash right, every parent link, seq and actor in order. Given a directory, it
checks every *.jsonl chain in it and the links between chains. Reads in one
streaming pass with flat memory.

Options:
  --json      print a machine-readable report on stdout
  -h, --help  show this help

Exit status:
  0  intact
  1  not intact; "<file>:<line>: <reason>" names the first bad line
  2  cannot read the input, or bad usage`;

function describe(e: VerifyError): string {
  const extra = e.expected !== undefined && e.actual !== undefined
    ? ` (expected ${e.expected}, got ${e.actual})`
    : "";
  return `${e.file}:${e.line}: ${e.message}${extra}`;
}

function summary(c: ChainReport): string {
  return `${c.file}: ok, ${c.events} event${
    c.events === 1 ? "" : "s"
  }, head ${c.head}`;
}

/** `theater verify`. */
export const verifyCommand: Command = {
  name: "verify",
  summary: "check that a chain (or a run directory of chains) is intact",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      json: { type: "boolean" },
    });
    if (values.help) {
      out(HELP);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError("verify takes exactly one chain file or directory");
    }
    const report: ChainReport | DirReport = await verifyPath(positionals[0]);
    if (values.json) {
      out(JSON.stringify(report, null, 2));
    } else if ("chains" in report) {
      for (const c of report.chains) if (c.ok) out(summary(c));
      if (report.ok) {
        out(
          `${report.dir}: ok, ${report.chains.length} chain${
            report.chains.length === 1 ? "" : "s"
          }, ${report.links} cross-chain links`,
        );
      }
    } else if (report.ok) {
      out(summary(report));
    }
    if (report.error && !values.json) err(describe(report.error));
    return report.ok ? 0 : 1;
  },
};
