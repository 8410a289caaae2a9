// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { canonicalJson } from "../chain/mod.ts";
import {
  checkDocument,
  documentProblem,
  MAX_DOCUMENT_DEPTH,
} from "./json_limits.ts";

Deno.test("the gate refuses numbers that do not round-trip exactly", () => {
  for (
    const [text, what] of [
      ["1e400", "out of range"],
      ["-1e400", "out of range"],
      ['{"a":[1,2,1e999]}', "out of range"],
      ["9007199254740993", "cannot be kept exactly"],
      ["[12345678901234567890]", "cannot be kept exactly"],
      ["0.10000000000000001", "cannot be kept exactly"],
      ["1e-400", "cannot be kept exactly"],
    ]
  ) {
    const problem = documentProblem(text);
    assert(problem, text);
    assert.match(problem, /not canonical JSON/);
    assert(problem.includes(what), `${text}: ${problem}`);
  }
});

Deno.test("the gate accepts numbers that round-trip, in any spelling", () => {
  for (
    const text of [
      "0",
      "-0",
      "1.0",
      "1.50",
      "1e21",
      "1E+2",
      "9007199254740991",
      "-9007199254740992",
      "0.1",
      "123.456e-7",
      "5e-324",
      "1.7976931348623157e308",
      '{"n":[3.14,-2.5e10,100]}',
    ]
  ) {
    assert.equal(documentProblem(text), null, text);
    canonicalJson(JSON.parse(text));
  }
});

Deno.test("the gate refuses lone surrogates, escaped or raw, and keeps pairs", () => {
  for (
    const text of [
      '"\\ud800"',
      '"a\\udc00b"',
      '{"\\ud83d":1}',
      '"\\ud83d\\u0041"',
      `"${String.fromCharCode(0xd800)}"`,
      `"x${String.fromCharCode(0xdfff)}"`,
    ]
  ) {
    const problem = checkDocument(text);
    assert(problem, text);
    assert.match(problem.message, /lone surrogate/);
  }
  for (const text of ['"\\ud83d\\ude00"', '"😀"', '"\\u00e9\\\\ud800"']) {
    assert.equal(documentProblem(text), null, text);
    canonicalJson(JSON.parse(text));
  }
});

Deno.test("the gate names where the problem is", () => {
  const problem = checkDocument('{"a": 1, "b": 1e400}');
  assert.equal(problem?.at, 14);
});

Deno.test("the gate checks depth before parsing and syntax before the rest", () => {
  const deep = "[".repeat(5000) + "]".repeat(5000);
  assert.match(documentProblem(deep)!, /nested more than 64/);
  const ok = "[".repeat(MAX_DOCUMENT_DEPTH) + "]".repeat(MAX_DOCUMENT_DEPTH);
  assert.equal(documentProblem(ok), null);
  assert.match(documentProblem("-")!, /not valid JSON/);
  assert.match(documentProblem("{1e400}")!, /not valid JSON/);
  assert.match(
    documentProblem(JSON.stringify("x".repeat(2 * 1024 * 1024)))!,
    /over the limit of 1048576/,
  );
});

Deno.test("whatever passes the gate has a canonical form (random documents)", () => {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const atoms = [
    () => String(Math.floor(Math.random() * 2 ** 60)),
    () => (Math.random() * 10 ** Math.floor(Math.random() * 40)).toString(),
    () =>
      `${Math.floor(Math.random() * 100)}e${
        Math.floor(Math.random() * 700 - 350)
      }`,
    () =>
      JSON.stringify(String.fromCharCode(Math.floor(Math.random() * 0x10000))),
    () =>
      `"\\u${
        Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0")
      }"`,
    () => pick(["true", "false", "null", '"a"']),
  ];
  for (let i = 0; i < 2000; i++) {
    const text = `[${
      Array.from({ length: 4 }, () => pick(atoms)()).join(",")
    }]`;
    if (documentProblem(text) !== null) continue;
    const value = JSON.parse(text);
    const canonical = canonicalJson(value);
    assert.deepEqual(JSON.parse(canonical), value, text);
  }
});
