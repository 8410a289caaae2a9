// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { eventLine, sealEvent, sha256Hex } from "./canonical.ts";
import type { ChainEvent, Json, UnsealedEvent } from "./event.ts";
import {
  ChainReadError,
  verifyChain,
  verifyDir,
  verifyPath,
  type VerifyReason,
} from "./verify.ts";
import { ChainWriter } from "./writer.ts";

const encoder = new TextEncoder();

/** Writes a real chain of `n` events for `actor` and returns its lines. */
async function makeChain(
  path: string,
  actor = "counter",
  n = 5,
): Promise<ChainEvent[]> {
  const writer = await ChainWriter.open(path, { actor, fsync: "none" });
  const events = [
    await writer.append("actor.start", {
      component: "ab".repeat(32),
      manifest: { name: actor },
      params: { start: 0 },
      link: null,
    }, { ts: 1000 }),
  ];
  for (let i = 1; i < n; i++) {
    events.push(
      await writer.append("message.in", {
        from: "external",
        msg: { op: "add", n: i },
        link: null,
      }, { ts: 1000 + i }),
    );
  }
  await writer.close();
  return events;
}

async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text.slice(0, -1).split("\n");
}

async function writeLines(path: string, list: string[]): Promise<void> {
  await Deno.writeTextFile(path, list.map((l) => l + "\n").join(""));
}

async function expectError(
  path: string,
  line: number,
  reason: VerifyReason,
): Promise<void> {
  const report = await verifyChain(path);
  // Split into ranges verified at once, the report is the same.
  for (const ranges of [2, 3, 4]) {
    assert.deepEqual(await verifyChain(path, { ranges }), report, `${ranges}`);
  }
  assert.equal(report.ok, false, "chain should not verify");
  assert.equal(report.error?.reason, reason, report.error?.message);
  assert.equal(report.error?.line, line, report.error?.message);
  assert.equal(report.events, line - 1, "intact events before the bad line");
}

async function withChain(
  fn: (path: string, events: ChainEvent[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "counter.jsonl");
    await fn(path, await makeChain(path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function reseal(event: ChainEvent, change: Partial<UnsealedEvent>): string {
  const { hash: _hash, ...body } = event;
  return eventLine(sealEvent({ ...body, ...change }));
}

Deno.test("an intact chain verifies with its head and count", async () => {
  await withChain(async (path, events) => {
    const report = await verifyChain(path);
    assert.equal(report.ok, true);
    assert.equal(report.error, null);
    assert.equal(report.events, 5);
    assert.equal(report.head, events[4].hash);
    assert.equal(report.actor, "counter");
  });
});

Deno.test("flipping one byte in data is a hash mismatch on that line", async () => {
  await withChain(async (path, events) => {
    const bytes = await Deno.readFile(path);
    const at = new TextDecoder().decode(bytes).indexOf('"n":3');
    bytes[at + 4] = "7".charCodeAt(0);
    await Deno.writeFile(path, bytes);
    await expectError(path, 4, "bad-hash");
    const report = await verifyChain(path);
    assert.equal(report.error?.actual, events[3].hash);
    assert.notEqual(report.error?.expected, events[3].hash);
  });
});

Deno.test("flipping one byte in hash is a hash mismatch", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    const h = events[2].hash;
    const flipped = (h[0] === "0" ? "1" : "0") + h.slice(1);
    l[2] = l[2].replace(h, flipped);
    await writeLines(path, l);
    await expectError(path, 3, "bad-hash");
  });
});

Deno.test("a deleted line is a seq gap", async () => {
  await withChain(async (path) => {
    const l = await lines(path);
    l.splice(2, 1);
    await writeLines(path, l);
    await expectError(path, 3, "seq-gap");
  });
});

Deno.test("swapped lines are a seq gap at the first of them", async () => {
  await withChain(async (path) => {
    const l = await lines(path);
    [l[1], l[2]] = [l[2], l[1]];
    await writeLines(path, l);
    await expectError(path, 2, "seq-gap");
  });
});

Deno.test("a duplicated line is a seq repeat", async () => {
  await withChain(async (path) => {
    const l = await lines(path);
    l.splice(3, 0, l[2]);
    await writeLines(path, l);
    await expectError(path, 4, "seq-repeat");
  });
});

Deno.test("a forged line with a correct own hash breaks the next line", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    const forged = reseal(events[2], {
      seq: 2,
      parent: events[1].hash,
      data: { from: "external", msg: "forged", link: null },
    });
    l.splice(2, 0, forged);
    await writeLines(path, l);
    await expectError(path, 4, "seq-repeat");
  });
});

Deno.test("a line with the right seq but another parent is a broken link", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[3] = reseal(events[3], { parent: events[1].hash });
    await writeLines(path, l);
    await expectError(path, 4, "broken-link");
  });
});

Deno.test("a first line with a parent is a broken link", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[0] = reseal(events[0], { parent: events[1].hash });
    await writeLines(path, l);
    await expectError(path, 1, "broken-link");
  });
});

Deno.test("a truncated last line is reported as truncated", async () => {
  await withChain(async (path) => {
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.slice(0, -40));
    await expectError(path, 5, "truncated");
  });
});

Deno.test("a missing final newline is reported as truncated", async () => {
  await withChain(async (path) => {
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.slice(0, -1));
    await expectError(path, 5, "truncated");
  });
});

Deno.test("CRLF line endings are refused on line 1", async () => {
  await withChain(async (path) => {
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replaceAll("\n", "\r\n"));
    await expectError(path, 1, "crlf");
  });
});

Deno.test("an empty file is not an intact chain", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await expectError(path, 1, "empty-file");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("an event of another actor is a wrong actor", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[2] = reseal(events[2], { actor: "intruder" });
    await writeLines(path, l);
    await expectError(path, 3, "wrong-actor");
  });
});

Deno.test("a chain named for another actor is a wrong actor on line 1", async () => {
  await withChain(async (path) => {
    const report = await verifyChain(path, { actor: "other" });
    assert.equal(report.error?.reason, "wrong-actor");
    assert.equal(report.error?.line, 1);
  });
});

Deno.test("an unknown format version is refused", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[1] = reseal(events[1], { v: 5 as 1 });
    await writeLines(path, l);
    await expectError(path, 2, "unknown-version");
  });
});

Deno.test("an event must carry the version that introduced its type", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[1] = reseal(events[1], { v: 2 });
    await writeLines(path, l);
    await expectError(path, 2, "bad-field");
  });
});

Deno.test("missing, extra and ill-typed fields are refused by name", async () => {
  const cases: [string, (e: Record<string, unknown>) => void, RegExp][] = [
    ["missing ts", (e) => delete e.ts, /missing field "ts"/],
    ["extra member", (e) => e.extra = 1, /unexpected field "extra"/],
    ["seq as string", (e) => e.seq = "1", /field "seq" must be/],
    ["bad parent", (e) => e.parent = "XYZ", /field "parent" must be/],
    ["data not object", (e) => e.data = [], /field "data" must be/],
    [
      "data field missing",
      (e) => e.data = { from: "x", link: null },
      /missing field "data.msg"/,
    ],
    [
      "data field ill-typed",
      (e) => e.data = { from: 7, msg: 1, link: null },
      /field "data.from" must be a string/,
    ],
    [
      "data field extra",
      (e) => e.data = { from: "x", msg: 1, link: null, more: 1 },
      /unexpected field "data.more"/,
    ],
  ];
  for (const [name, change, message] of cases) {
    await withChain(async (path, events) => {
      const l = await lines(path);
      const event = JSON.parse(l[1]);
      change(event);
      l[1] = JSON.stringify(event);
      await writeLines(path, l);
      await expectError(path, 2, "bad-field");
      const report = await verifyChain(path);
      assert.match(report.error!.message, message, name);
      assert.ok(events.length > 0);
    });
  }
});

Deno.test("an unknown event type is refused", async () => {
  await withChain(async (path, events) => {
    const l = await lines(path);
    l[1] = reseal(events[1], { type: "message.sideways" as "message.in" });
    await writeLines(path, l);
    await expectError(path, 2, "unknown-type");
  });
});

Deno.test("bad JSON, bad UTF-8 and an empty line are refused", async () => {
  await withChain(async (path) => {
    const l = await lines(path);
    l[1] = l[1].slice(0, -1);
    await writeLines(path, l);
    await expectError(path, 2, "bad-json");
  });
  await withChain(async (path) => {
    const l = await lines(path);
    l.splice(1, 0, "");
    await writeLines(path, l);
    await expectError(path, 2, "bad-json");
  });
  await withChain(async (path) => {
    const text = await Deno.readTextFile(path);
    const bytes = encoder.encode(text);
    bytes[text.indexOf("external")] = 0xff;
    await Deno.writeFile(path, bytes);
    await expectError(path, 2, "bad-utf8");
  });
});

Deno.test("a line that is not in canonical form is refused", async () => {
  await withChain(async (path) => {
    const l = await lines(path);
    l[2] = JSON.stringify(JSON.parse(l[2]), null, 1).replaceAll("\n", "");
    await writeLines(path, l);
    await expectError(path, 3, "not-canonical");
  });
});

Deno.test("a line over the size limit is refused without being held", async () => {
  await withChain(async (path) => {
    const report = await verifyChain(path, { maxLineBytes: 200 });
    assert.equal(report.error?.reason, "line-too-long");
    assert.equal(report.error?.line, 1);
  });
});

Deno.test("a missing file or a directory without chains cannot be read", async () => {
  await assert.rejects(
    verifyPath("/nonexistent/chain.jsonl"),
    (e) => e instanceof ChainReadError && /no such file/.test(e.message),
  );
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      verifyPath(dir),
      (e) => e instanceof ChainReadError && /no chains/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function linkedDir(
  dir: string,
  linkTo: (a: ChainEvent[]) => string,
  options: { msg?: string; deliveries?: number } = {},
) {
  const a = await makeChain(join(dir, "a.jsonl"), "a", 3);
  const wa = await ChainWriter.open(join(dir, "a.jsonl"), { actor: "a" });
  const sent = await wa.append("message.out", { to: "b", msg: "hi" });
  await wa.close();
  const writer = await ChainWriter.open(join(dir, "b.jsonl"), { actor: "b" });
  await writer.append("actor.start", {
    component: "cd".repeat(32),
    manifest: { name: "b" },
    params: null,
    link: { actor: "a", hash: linkTo(a) },
  });
  for (let i = 0; i < (options.deliveries ?? 1); i++) {
    await writer.append("message.in", {
      from: "a",
      msg: options.msg ?? "hi",
      link: { actor: "a", hash: sent.hash },
    });
  }
  await writer.close();
  return { a, sent };
}

Deno.test("a message.in link must name a message.out to it, with its message, once", async () => {
  for (
    const [name, options, pattern] of [
      ["another message", { msg: "bye" }, /with another message/],
      [
        "delivered twice",
        { deliveries: 2 },
        /already delivered at .*b\.jsonl:2/,
      ],
    ] as const
  ) {
    const dir = await Deno.makeTempDir();
    try {
      await linkedDir(dir, (a) => a[1].hash, options);
      const report = await verifyDir(dir);
      assert.equal(report.error?.reason, "bad-link", name);
      assert.match(report.error!.message, pattern, name);
      assert.equal(report.error?.file, join(dir, "b.jsonl"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  // A message.in that links to some other event (here an actor.start).
  const dir = await Deno.makeTempDir();
  try {
    const { a } = await linkedDir(dir, (a) => a[1].hash);
    const w = await ChainWriter.open(join(dir, "b.jsonl"), { actor: "b" });
    await w.append("message.in", {
      from: "mallory",
      msg: "hi",
      link: { actor: "a", hash: a[0].hash },
    });
    await w.close();
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "bad-link");
    assert.match(report.error!.message, /names a \S+, not a message.out/);
    assert.equal(report.error?.line, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a started child whose chain was deleted is reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await linkedDir(dir, (a) => a[1].hash);
    const w = await ChainWriter.open(join(dir, "a.jsonl"), { actor: "a" });
    await w.append("child.event", {
      child: "a.kid",
      event: "started",
      reason: null,
    });
    await w.close();
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "missing-chain");
    assert.equal(report.error?.file, join(dir, "a.jsonl"));
    assert.equal(report.error?.line, 5);
    assert.match(
      report.error!.message,
      /child a\.kid was started, but .*a\.kid\.jsonl is missing/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a FIFO or a symlink named *.jsonl is refused, not read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await linkedDir(dir, (a) => a[1].hash);
    const fifo = join(dir, "x.jsonl");
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    if (made.success) {
      await assert.rejects(
        () => verifyDir(dir),
        /x\.jsonl: not a regular file/,
      );
      await assert.rejects(
        () => verifyPath(fifo),
        /x\.jsonl: not a regular file/,
      );
      await Deno.remove(fifo);
    }
    await Deno.symlink(join(dir, "a.jsonl"), join(dir, "y.jsonl"));
    await assert.rejects(() => verifyDir(dir), /y\.jsonl: not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a directory verifies every chain and its cross-links", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await linkedDir(dir, (a) => a[1].hash);
    const report = await verifyDir(dir);
    assert.equal(report.ok, true, report.error?.message);
    assert.equal(report.chains.length, 2);
    assert.equal(report.links, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a dangling cross-link names the linking line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await linkedDir(dir, () => "ef".repeat(32));
    const report = await verifyDir(dir);
    assert.equal(report.ok, false);
    assert.equal(report.error?.reason, "dangling-link");
    assert.equal(report.error?.file, join(dir, "b.jsonl"));
    assert.equal(report.error?.line, 1);
    assert.ok(report.chains.every((c) => c.ok));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt chain in a directory is its first error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await linkedDir(dir, (a) => a[1].hash);
    const path = join(dir, "a.jsonl");
    const l = await lines(path);
    l[1] = l[1].replace('"n":1', '"n":9');
    await writeLines(path, l);
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "bad-hash");
    assert.equal(report.error?.file, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a chain whose file name is not its actor fails in a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeChain(join(dir, "a.jsonl"), "b", 2);
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "wrong-actor");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the fast path and the general path agree: integer-like keys, lone surrogates, key order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "c.jsonl");
    const w = await ChainWriter.open(path, { actor: "c", fsync: "none" });
    // JSON.parse puts "9" before "10"; RFC 8785 puts "10" first.
    await w.append("handle.ok", {
      state: { "10": 1, "9": 2, "b": { "2": 0, "11": 1 }, "a": "\u00e9" },
      reply: ["\ud83d\ude00", 1e21, 0.1],
    });
    await w.close();
    const ok = await verifyChain(path);
    assert.equal(ok.ok, true, ok.error?.message);
    // A lone surrogate, escaped, in a line hashed as a writer would hash it.
    const body =
      '{"actor":"c","data":{"reply":null,"state":"\\ud800"},"parent":null,"seq":0,"ts":1,"type":"handle.ok","v":1}';
    const hash = sha256Hex(body);
    const line = body.replace(',"parent"', `,"hash":"${hash}","parent"`);
    await Deno.writeTextFile(path, line + "\n");
    const bad = await verifyChain(path);
    assert.equal(bad.error?.reason, "bad-field", bad.error?.message);
    // Keys out of order, hash over that text: not canonical.
    const unsorted =
      '{"actor":"c","data":{"state":null,"reply":null},"parent":null,"seq":0,"ts":1,"type":"handle.ok","v":1}';
    const h2 = sha256Hex(unsorted);
    await Deno.writeTextFile(
      path,
      unsorted.replace(',"parent"', `,"hash":"${h2}","parent"`) + "\n",
    );
    const reordered = await verifyChain(path);
    assert.ok(
      reordered.error?.reason === "bad-hash" ||
        reordered.error?.reason === "not-canonical",
      reordered.error?.message,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verified in ranges at once, a chain gives the report of one pass, whatever was altered where", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "counter.jsonl");
    await makeChain(path, "counter", 300);
    const intact = await lines(path);
    const whole = await verifyChain(path);
    assert.equal(whole.ok, true);
    for (const ranges of [2, 3, 4, 7]) {
      assert.deepEqual(await verifyChain(path, { ranges }), whole);
    }
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 15; trial++) {
      const list = [...intact];
      const at = next(list.length);
      switch (trial % 5) {
        case 0:
          list.splice(at, 1);
          break;
        case 1:
          [list[at], list[(at + 1) % list.length]] = [
            list[(at + 1) % list.length],
            list[at],
          ];
          break;
        case 2:
          list.splice(at, 0, list[at]);
          break;
        case 3:
          list[at] = list[at].replace('"n":', '"n":1');
          break;
        case 4:
          list[at] = list[at].slice(0, 40);
          break;
      }
      await writeLines(path, list);
      const one = await verifyChain(path);
      assert.equal(one.ok, false, `trial ${trial}`);
      for (const ranges of [2, 7]) {
        assert.deepEqual(
          await verifyChain(path, { ranges }),
          one,
          `trial ${trial}, ${ranges} ranges`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("host.calls (version 4): a run of calls verifies; a malformed one is refused", async () => {
  const calls = [
    { function: "log", args: ["hi"], result: null },
    { function: "now", args: [], result: 5 },
  ];
  const cases: [string, Partial<UnsealedEvent>, VerifyReason | null][] = [
    ["intact", {}, null],
    ["no calls", { data: { interface: "x", calls: [] } }, "bad-field"],
    ["a call with its interface", {
      data: { interface: "x", calls: [{ ...calls[0], interface: "x" }] },
    }, "bad-field"],
    ["a call without result", {
      data: { interface: "x", calls: [{ function: "log", args: [] }] },
    }, "bad-field"],
    ["args not an array", {
      data: { interface: "x", calls: [{ function: "f", args: 1, result: 1 }] },
    }, "bad-field"],
    ["no interface", { data: { calls } }, "bad-field"],
    ["version 1", { v: 1 }, "bad-field"],
  ];
  for (const [what, change, reason] of cases) {
    await withChain(async (path, events) => {
      const l = await lines(path);
      l[4] = reseal(events[4], {
        type: "host.calls",
        v: 4,
        data: { interface: "theater:actor/runtime", calls },
        ...change,
      });
      await writeLines(path, l);
      if (reason) await expectError(path, 5, reason);
      else assert.equal((await verifyChain(path)).ok, true, what);
    });
  }
});

Deno.test("check 6: a line with no v, or not an object, is unknown-version", async () => {
  for (
    const [what, line] of [
      ["array", "[1]"],
      ["string", '"x"'],
      ["number", "5"],
      ["null", "null"],
      ["no v", '{"actor":"counter"}'],
      ["v true", '{"v":true}'],
      ["v as string", '{"v":"1"}'],
      ["v 1.5", '{"v":1.5}'],
    ]
  ) {
    await withChain(async (path) => {
      const l = await lines(path);
      l[2] = line;
      await writeLines(path, l);
      await expectError(path, 3, "unknown-version");
      assert.ok(what);
    });
  }
});

Deno.test("check 5: a line nested deeper than 1,000 levels is bad-json, whatever the stack", async () => {
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
  for (const [depth, reason] of [[998, null], [999, "bad-json"]] as const) {
    await withChain(async (path, events) => {
      const l = await lines(path);
      // The event, data and msg make three levels; the array the rest.
      const deep = JSON.parse(nested(depth)) as Json;
      l[4] = reseal(events[4], {
        data: { from: "external", msg: deep, link: null },
      });
      await writeLines(path, l);
      if (reason) await expectError(path, 5, reason);
      else assert.equal((await verifyChain(path)).error?.message, undefined);
    });
  }
  // Far deeper than a recursive walk can go: still an answer, not a crash.
  await withChain(async (path, events) => {
    const l = await lines(path);
    const line = reseal(events[4], {
      data: { from: "external", msg: "HOLE", link: null },
    });
    l[4] = line.replace('"HOLE"', nested(200_000));
    await writeLines(path, l);
    await expectError(path, 5, "bad-json");
  });
});

/** A run directory whose chain `a` puts a blob of `bytes` and gets it back. */
async function blobDir(
  dir: string,
  bytes: Uint8Array,
  sizes: { put: number; get: number },
): Promise<string> {
  const sha256 = sha256Hex(bytes);
  await Deno.mkdir(join(dir, "store"));
  await Deno.writeFile(join(dir, "store", sha256), bytes);
  const writer = await ChainWriter.open(join(dir, "a.jsonl"), { actor: "a" });
  await writer.append("host.call", {
    interface: "theater:actor/store",
    function: "put",
    args: [{ sha256, size: sizes.put }],
    result: { ok: sha256 },
  });
  await writer.append("host.call", {
    interface: "theater:actor/store",
    function: "get",
    args: [sha256],
    result: { size: sizes.get },
  });
  await writer.close();
  return sha256;
}

Deno.test("blobs: every naming is checked; the same hash named with another size is missing-blob on its line", async () => {
  const bytes = encoder.encode("x".repeat(38));
  const dir = await Deno.makeTempDir();
  try {
    await blobDir(dir, bytes, { put: 38, get: 38 });
    const ok = await verifyDir(dir);
    assert.equal(ok.ok, true, ok.error?.message);
    assert.equal(ok.blobs, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const bad = await Deno.makeTempDir();
  try {
    await blobDir(bad, bytes, { put: 38, get: 39 });
    const report = await verifyDir(bad);
    assert.equal(report.error?.reason, "missing-blob");
    assert.equal(report.error?.line, 2);
    assert.match(report.error!.message, /has 38 bytes, the chain says 39/);
  } finally {
    await Deno.remove(bad, { recursive: true });
  }
});

Deno.test("blobs: a blob that is a symlink (to /dev/zero, say) is missing, not read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sha256 = await blobDir(dir, encoder.encode("abc"), {
      put: 3,
      get: 3,
    });
    await Deno.remove(join(dir, "store", sha256));
    await Deno.symlink("/dev/zero", join(dir, "store", sha256));
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "missing-blob");
    assert.equal(report.error?.line, 1);
    assert.match(report.error!.message, /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("components: each components/<sha256>.wasm must have that SHA-256; other names are not read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeChain(join(dir, "a.jsonl"), "a", 2);
    const folder = join(dir, "components");
    await Deno.mkdir(folder);
    const wasm = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const name = `${sha256Hex(wasm)}.wasm`;
    await Deno.writeFile(join(folder, name), wasm);
    // Left by a crash mid-copy, and a note: not components, not read.
    await Deno.writeFile(join(folder, `${name}.1234.tmp`), wasm.slice(0, 3));
    await Deno.writeTextFile(join(folder, "notes.txt"), "hi");
    const ok = await verifyDir(dir);
    assert.equal(ok.ok, true, ok.error?.message);
    assert.equal(ok.components, 1);
    // One byte changed: bad-component, on the file itself (line 0).
    wasm[7] = 1;
    await Deno.writeFile(join(folder, name), wasm);
    const bad = await verifyDir(dir);
    assert.equal(bad.error?.reason, "bad-component");
    assert.equal(bad.error?.file, join(folder, name));
    assert.equal(bad.error?.line, 0);
    assert.equal(bad.error?.expected, name.slice(0, 64));
    assert.equal(bad.error?.actual, sha256Hex(wasm));
    // A chain's own error comes first.
    const l = await lines(join(dir, "a.jsonl"));
    await writeLines(join(dir, "a.jsonl"), [l[0], l[0]]);
    assert.equal((await verifyDir(dir)).error?.reason, "seq-repeat");
    // A symlink named as a component is refused without being read.
    await Deno.remove(join(folder, name));
    await Deno.symlink("/dev/zero", join(folder, name));
    await assert.rejects(
      () => verifyDir(dir),
      (e) =>
        e instanceof ChainReadError && /not a regular file/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("directory errors come in file name order by UTF-16 code units, not locale order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // "-" (0x2d) sorts before "." (0x2e): w-1 before w.
    for (const actor of ["w-1", "w"]) {
      const w = await ChainWriter.open(join(dir, `${actor}.jsonl`), { actor });
      await w.append("message.in", {
        from: "x",
        msg: "hi",
        link: { actor: "nobody", hash: "ef".repeat(32) },
      });
      await w.close();
    }
    const report = await verifyDir(dir);
    assert.equal(report.error?.reason, "dangling-link");
    assert.equal(report.error?.file, join(dir, "w-1.jsonl"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
