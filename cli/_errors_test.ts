// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import {
  ChainFormatError,
  ChainReadError,
  ChainWriteError,
  CheckpointError,
  NoSuchEvent,
  ProofError,
  StateError,
} from "../chain/mod.ts";
import { StreamError } from "../cluster/mod.ts";
import { ComponentError, ReplayError } from "../runtime/mod.ts";
import { ManifestError } from "../supervisor/mod.ts";
import { ClientError } from "./client.ts";
import { UsageError } from "./_common.ts";
import { reportError } from "./_errors.ts";

/** What `reportError` printed on stderr, and the status it returned. */
async function report(
  error: unknown,
): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => lines.push(line);
  try {
    const code = await reportError("x", error);
    return { code, stderr: lines.join("\n") };
  } finally {
    console.error = original;
  }
}

Deno.test("reportError: each known error class prints its line and exits as documented", async () => {
  const cases: [Error, number, string][] = [
    [
      new ChainFormatError({
        file: "c.jsonl",
        line: 3,
        reason: "crlf",
        message: "bad",
      }),
      1,
      "c.jsonl:3: bad",
    ],
    [new ProofError("p"), 1, "p"],
    [new CheckpointError("k"), 1, "k"],
    [new NoSuchEvent("n"), 1, "theater x: n"],
    [new StateError("s", { seq: 4 }), 1, "theater x: seq 4: s"],
    [new ClientError("c"), 1, "theater x: c"],
    [new ReplayError("r", "not-intact"), 1, "theater x: r"],
    [new ReplayError("r", "component"), 2, "theater x: r"],
    [new ChainReadError("cr"), 2, "theater x: cr"],
    [new ChainWriteError("cw"), 2, "theater x: cw"],
    [new ManifestError("m"), 2, "theater x: m"],
    [new ComponentError("co"), 2, "theater x: co"],
    [new StreamError("st"), 2, "theater x: st"],
    [
      new UsageError("u"),
      2,
      "theater x: u\nRun 'theater x --help' for usage.",
    ],
    [new Error("plain"), 2, "theater x: plain"],
  ];
  for (const [error, code, stderr] of cases) {
    assert.deepEqual(await report(error), { code, stderr }, error.name);
  }
});

Deno.test("reportError: an unrelated error that shares a known name is not taken for it", async () => {
  class ChainFormatError extends Error {
    override name = "ChainFormatError";
  }
  // Ours prints the bare message and exits 1; this one is any error.
  assert.deepEqual(await report(new ChainFormatError("look-alike")), {
    code: 2,
    stderr: "theater x: look-alike",
  });
  const named = Object.assign(new Error("renamed"), { name: "ReplayError" });
  assert.deepEqual(await report(named), {
    code: 2,
    stderr: "theater x: renamed",
  });
  for (const name of ["constructor", "__proto__", "toString"]) {
    const odd = Object.assign(new Error("odd"), { name });
    assert.deepEqual(await report(odd), { code: 2, stderr: "theater x: odd" });
  }
});

Deno.test("reportError: OS errors in our words, a closed pipe is no error, non-errors are shown", async () => {
  assert.deepEqual(await report(new Deno.errors.BrokenPipe("gone")), {
    code: 0,
    stderr: "",
  });
  const notFound = await Deno.readFile("/nonexistent/theater").catch((e) => e);
  const os = await report(notFound);
  assert.equal(os.code, 2);
  assert.match(os.stderr, /^theater x: .*no such file or directory/);
  assert.doesNotMatch(os.stderr, /os error/);
  assert.deepEqual(await report("text"), {
    code: 2,
    stderr: "theater x: text",
  });
});
