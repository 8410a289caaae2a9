// Copyright the Theater authors. MIT license.
import { join } from "node:path";
import {
  type ChainReport,
  checkChainAgainst,
  CheckpointError,
  checkProof,
  type DirReport,
  openCheckpoint,
  parseVerifierKey,
  type ProofFile,
  type VerifyError,
  verifyPath,
} from "../chain/mod.ts";
import { ALERTS_FILE } from "../cluster/mod.ts";
import { type Command, err, out, parse, UsageError } from "./_common.ts";

const HELP =
  `Usage: theater verify [--json] [--no-state] <chain.jsonl | chain-dir>
       theater verify <chain.jsonl> --checkpoint CP --pubkey KEY.pub
       theater verify <run dir> --pubkey KEY.pub
       theater verify <run dir> --cosigned-by WITNESS.pub
       theater verify --proof FILE --checkpoint CP --pubkey KEY.pub
                      [--old-checkpoint OLD]

Checks that a chain file is intact: every line valid canonical JSON, every
hash right, every parent link, seq and actor in order, and every state the
chain records rebuilt (each handle.patch applied to the state before it
gives its state_hash). Given a directory, it checks every *.jsonl chain in
it, the links between chains, that every blob the chains name (store.put,
store.get) is in its store/ and matches its hash and size, and that every
components/<sha256>.wasm has that SHA-256. Reads in one streaming pass with
flat memory (one state is held, not the chain).

With --checkpoint, the checkpoint's signature is checked and the chain must
also hold the checkpointed tree: at least its size, with its root over the
first events (else it was truncated, rewritten or forked). With --proof, an
inclusion or consistency proof is checked against the checkpoint, without
the chain (docs/chain-format.md §10-§12).

Options:
  --json              print a machine-readable report on stdout
  --no-state          do not rebuild states or check state_hash (check 14
                      of docs/chain-format.md §7): faster on huge chains
  --checkpoint FILE   a signed checkpoint (theater checkpoint)
  --pubkey FILE       the public key that must have signed it; alone, with a
                      run directory: every <actor>.checkpoint in it is
                      checked against its chain and this key
  --cosigned-by FILE  with a run directory: every chain must have an
                      <actor>.cosignature by this witness key (theater
                      witness; theater pull copies them) over a tree the
                      chain holds

A run directory pulled from a cluster may hold witness-alerts.ndjson (theater
pull copies what witnesses reported about the run): each alert is shown, and
the exit status is 1.
  --proof FILE        a proof file (theater prove); roots and path may be
                      hex or base64
  --old-checkpoint OLD  with a consistency proof: the older signed
                      checkpoint you kept; the proof must start from its
                      size and root, and both must be signed by --pubkey
  -h, --help  show this help

Exit status:
  0  intact
  1  not intact; "<file>:<line>: <reason>" names the first bad line
  2  cannot read the input, or bad usage`;

function describe(e: VerifyError): string {
  const extra = e.expected !== undefined && e.actual !== undefined
    ? ` (expected ${e.expected}, got ${e.actual})`
    : "";
  // A component file has no lines: line 0.
  return `${e.file}${e.line > 0 ? `:${e.line}` : ""}: ${e.message}${extra}`;
}

function summary(c: ChainReport): string {
  return `${c.file}: ok, ${c.events} event${
    c.events === 1 ? "" : "s"
  }, head ${c.head}`;
}

async function verifyAgainstCheckpoint(
  positionals: string[],
  values: Record<string, unknown>,
): Promise<number> {
  if (
    typeof values.checkpoint !== "string" || typeof values.pubkey !== "string"
  ) {
    throw new UsageError("--checkpoint and --pubkey go together");
  }
  const withProof = typeof values.proof === "string";
  if (positionals.length !== (withProof ? 0 : 1)) {
    throw new UsageError(
      withProof
        ? "--proof is checked without a chain: give no chain"
        : "--checkpoint needs exactly one chain (or --proof)",
    );
  }
  const verifier = await parseVerifierKey(
    await Deno.readTextFile(values.pubkey),
  );
  let checkpoint;
  try {
    checkpoint = await openCheckpoint(
      await Deno.readTextFile(values.checkpoint),
      verifier,
    );
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    err(`${values.checkpoint}: ${e.message}`);
    return 1;
  }
  let old;
  if (typeof values["old-checkpoint"] === "string") {
    if (!withProof) {
      throw new UsageError("--old-checkpoint goes with --proof");
    }
    try {
      old = await openCheckpoint(
        await Deno.readTextFile(values["old-checkpoint"]),
        verifier,
      );
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      err(`${values["old-checkpoint"]}: ${e.message}`);
      return 1;
    }
  }
  let proof: ProofFile | null = null;
  if (withProof) {
    try {
      proof = JSON.parse(
        await Deno.readTextFile(values.proof as string),
      ) as ProofFile;
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new UsageError(`${values.proof}: not a proof file (not JSON)`);
    }
  }
  const problem = proof
    ? checkProof(proof, checkpoint, { old })
    : await checkChainAgainst(positionals[0], checkpoint);
  if (proof?.type === "consistency" && !old && problem === null) {
    err(
      `note: the proof's first_root was not compared with a signed checkpoint; give the one you kept with --old-checkpoint`,
    );
  }
  const subject = withProof ? values.proof : positionals[0];
  const ok = problem === null;
  if (values.json) {
    out(JSON.stringify(
      {
        file: subject,
        checkpoint: values.checkpoint,
        origin: checkpoint.origin,
        tree_size: checkpoint.size,
        ok,
        error: problem,
      },
      null,
      2,
    ));
  } else if (ok) {
    out(
      `${subject}: ok against ${checkpoint.origin} at tree size ${checkpoint.size}, signed by ${verifier.name}`,
    );
  } else {
    err(withProof ? `${subject}: ${problem}` : problem!);
  }
  return ok ? 0 : 1;
}

/**
 * What witnesses reported about a pulled run (`theater pull` copies the
 * alerts into the run directory): printed, and a failure.
 */
async function witnessAlerts(dir: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, ALERTS_FILE));
  } catch {
    return 0;
  }
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line) continue;
    const a = JSON.parse(line) as Record<string, unknown>;
    err(
      `witness ${a.witness}: ${a.actor}${
        a.seq === null ? "" : `#${a.seq}`
      }: ${a.reason}`,
    );
    n++;
  }
  if (n > 0) {
    err(`${dir}: ${n} witness alert${n === 1 ? "" : "s"} (${ALERTS_FILE})`);
  }
  return n;
}

/**
 * `verify <run dir> --pubkey K`: the directory as usual, then every
 * `<actor>.checkpoint` in it against its chain and the key.
 */
async function verifyDirCheckpoints(
  positionals: string[],
  pubkey: string,
  options: { cosigned?: boolean; state?: boolean } = {},
): Promise<number> {
  // A witness's cosignature is a checkpoint file of its own, and required.
  const suffix = options.cosigned ? ".cosignature" : ".checkpoint";
  if (positionals.length !== 1) {
    throw new UsageError("--pubkey alone takes exactly one run directory");
  }
  const dir = positionals[0];
  const report = await verifyPath(dir, { state: options.state });
  if (!("chains" in report)) {
    throw new UsageError(
      "--pubkey without --checkpoint checks a run directory's checkpoints",
    );
  }
  if (!report.ok) {
    err(describe(report.error!));
    return 1;
  }
  const verifier = await parseVerifierKey(await Deno.readTextFile(pubkey));
  let checked = 0;
  for (const chain of report.chains) {
    const path = chain.file.replace(/\.jsonl$/, suffix);
    const info = await Deno.lstat(path).catch(() => null);
    if (!info && options.cosigned) {
      err(`${chain.file}: not co-signed by ${verifier.name} (no ${path})`);
      return 1;
    }
    if (!info) continue;
    if (!info.isFile) {
      err(`${path}: not a regular file`);
      return 1;
    }
    let problem: string | null;
    try {
      const checkpoint = await openCheckpoint(
        await Deno.readTextFile(path),
        verifier,
      );
      problem = await checkChainAgainst(chain.file, checkpoint);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      problem = `${path}: ${e.message}`;
    }
    if (problem) {
      err(problem);
      return 1;
    }
    checked++;
  }
  out(
    `${dir}: ok, ${report.chains.length} chains, ${report.links} cross-chain links, ${checked} ${
      options.cosigned ? "cosignature" : "checkpoint"
    }${checked === 1 ? "" : "s"} signed by ${verifier.name}`,
  );
  return await witnessAlerts(dir) ? 1 : 0;
}

/** `theater verify`. */
export const verifyCommand: Command = {
  name: "verify",
  help: HELP,
  async run(args) {
    const { values, positionals } = parse(args, {
      json: { type: "boolean" },
      "no-state": { type: "boolean" },
      checkpoint: { type: "string" },
      pubkey: { type: "string" },
      "cosigned-by": { type: "string" },
      proof: { type: "string" },
      "old-checkpoint": { type: "string" },
    });
    if (values.checkpoint !== undefined || values.proof !== undefined) {
      return await verifyAgainstCheckpoint(positionals, values);
    }
    if (values.pubkey !== undefined) {
      return await verifyDirCheckpoints(positionals, values.pubkey as string, {
        state: !values["no-state"],
      });
    }
    if (values["cosigned-by"] !== undefined) {
      return await verifyDirCheckpoints(
        positionals,
        values["cosigned-by"] as string,
        { cosigned: true, state: !values["no-state"] },
      );
    }
    if (positionals.length !== 1) {
      throw new UsageError("verify takes exactly one chain file or directory");
    }
    // Progress on stderr for people watching a long verify, not for scripts.
    const progress = Deno.stderr.isTerminal() && !values.json;
    const encoder = new TextEncoder();
    const report: ChainReport | DirReport = await verifyPath(positionals[0], {
      state: !values["no-state"],
      onProgress: progress
        ? (file, events) =>
          Deno.stderr.writeSync(encoder.encode(`\r${file}: ${events} events`))
        : undefined,
    });
    if (progress) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
    if (values.json) {
      out(JSON.stringify(report, null, 2));
    } else if ("chains" in report) {
      for (const c of report.chains) if (c.ok) out(summary(c));
      if (report.ok) {
        out(
          `${report.dir}: ok, ${report.chains.length} chain${
            report.chains.length === 1 ? "" : "s"
          }, ${report.links} cross-chain links${
            report.blobs ? `, ${report.blobs} blobs in store/` : ""
          }${
            report.components
              ? `, ${report.components} component${
                report.components === 1 ? "" : "s"
              } in components/`
              : ""
          }`,
        );
      }
    } else if (report.ok) {
      out(summary(report));
    }
    if (report.error && !values.json) err(describe(report.error));
    const alerts = "chains" in report ? await witnessAlerts(positionals[0]) : 0;
    return report.ok && !alerts ? 0 : 1;
  },
};
