// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { hostCallsOf, readEvents, verifyPath } from "../chain/mod.ts";
import {
  buildTestComponent,
  type TestComponent,
} from "../runtime/testdata/components.ts";
import { buildHostile, LOG_ESCAPES } from "./testdata/hostile.ts";
import {
  type CliResult,
  runCli,
  THEATER_FLAGS,
  withTempDir,
  writeJson,
} from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

async function types(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readEvents(path)) out.push(e.type);
  return out;
}

function replies(stdout: string): unknown[] {
  return stdout.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l));
}

/** Writes a manifest for a test component into `dir`. */
async function testActor(
  dir: string,
  kind: TestComponent,
  extra: Record<string, unknown> = {},
): Promise<string> {
  await buildTestComponent(kind, dir);
  const path = join(dir, `${kind}.json`);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      name: kind,
      component: `./${kind}.wasm`,
      chain: { dir: "chains" },
      ...extra,
    }),
  );
  return path;
}

Deno.test("run: the counter replies, records everything, and verifies", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      chains,
      "--send",
      '"inc"',
      "--send",
      '{"op":"add","n":41}',
    ], { stdin: '"get"\n{"to":"counter","msg":"inc"}\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [
      { actor: "counter", reply: { count: 1 } },
      { actor: "counter", reply: { count: 42 } },
      { actor: "counter", reply: { count: 42 } },
      { actor: "counter", reply: { count: 43 } },
    ]);
    assert.match(r.stderr, /\[counter\] count is now 42/);
    const chain = join(chains, "counter.jsonl");
    assert.deepEqual(await types(chain), [
      "actor.start",
      "actor.init",
      ...["message.in", "host.calls", "handle.ok"],
      ...["message.in", "host.calls", "handle.ok"],
      // "get" changes nothing: a patch of no operations is smaller.
      ...["message.in", "handle.patch"],
      ...["message.in", "host.calls", "handle.ok"],
      "actor.stop",
    ]);
    const v = await runCli(["verify", chains]);
    assert.equal(v.code, 0, v.stderr);
  });
});

Deno.test("run: a second run resumes the chain where the first left it", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const args = ["run", join(COUNTER, "manifest.json"), "--chain-dir", chains];
    const first = await runCli([
      ...args,
      "--quiet",
      "--send",
      '"inc"',
      "--send",
      '"inc"',
      "--send",
      '"inc"',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli([...args, "--send", '"get"', "--quiet"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, "");
    assert.deepEqual(replies(second.stdout), [
      { actor: "counter", reply: { count: 3 } },
    ]);
    const t = await types(join(chains, "counter.jsonl"));
    assert.equal(t.filter((x) => x === "actor.start").length, 1);
    assert.equal(t.filter((x) => x === "actor.init").length, 1);
    assert.equal(t.filter((x) => x === "actor.resume").length, 1);
    assert.equal((await verifyPath(chains)).ok, true);
    const replay = await runCli(["replay", chains]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /same head/);
  });
});

Deno.test("run: trap, Err and non-JSON state are errors; the actor goes on", async () => {
  await withTempDir(async (dir) => {
    for (const kind of ["trap", "err", "junk"] as const) {
      const manifest = await testActor(dir, kind);
      const r = await runCli(["run", manifest, "--send", "1", "--send", "2"]);
      assert.equal(r.code, 0, r.stderr);
      const out = replies(r.stdout) as { error: string }[];
      assert.equal(out.length, 2, kind);
      const expected = {
        trap: /^trap: .*unreachable/,
        err: /^handler refused$/,
        junk: /^new state is not valid JSON/,
      }[kind];
      for (const line of out) assert.match(line.error, expected, kind);
      const chain = join(dir, "chains", `${kind}.jsonl`);
      assert.deepEqual(await types(chain), [
        "actor.start",
        "actor.init",
        "message.in",
        "handle.error",
        "message.in",
        "handle.error",
        "actor.stop",
      ]);
    }
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
  });
});

Deno.test("run: a looping handler is cut off at its time limit", async () => {
  await withTempDir(async (dir) => {
    const manifest = await testActor(dir, "loop", {
      limits: { handle_timeout_ms: 200 },
    });
    const r = await runCli(["run", manifest, "--send", "1", "--send", "2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [
      { actor: "loop", error: "trap: timed out after 200 ms" },
      { actor: "loop", error: "trap: timed out after 200 ms" },
    ]);
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
  });
});

Deno.test("run: components that may not run are refused with exit 2", async () => {
  await withTempDir(async (dir) => {
    const cases: [TestComponent, RegExp][] = [
      [
        "wasi",
        /wasi\.wasm: imports wasi:cli\/environment, which actors may not use/,
      ],
      ["core", /core\.wasm: is a core WebAssembly module, not a component/],
      ["garbage", /garbage\.wasm: is not a WebAssembly component/],
      ["noexport", /does not export theater:actor\/actor/],
    ];
    for (const [kind, message] of cases) {
      const r = await runCli(["run", await testActor(dir, kind)]);
      assert.equal(r.code, 2, kind);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });
});

Deno.test("run: a bad manifest names the field; exit 2", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify({ name: "x", limits: { memory_mb: "lots" } }),
    );
    const r = await runCli(["run", path]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /m\.json: field "component": Invalid input: expected string/,
    );
    assert.match(
      r.stderr,
      /m\.json: field "limits\.memory_mb": Invalid input: expected number, received string/,
    );
  });
});

Deno.test("run: a message that is not JSON is an error; earlier events stay", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const r = await runCli(
      ["run", join(COUNTER, "manifest.json"), "--chain-dir", chains],
      { stdin: '"inc"\n{oops\n"inc"\n' },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stdin:2: message is not valid JSON/);
    assert.deepEqual(replies(r.stdout), [
      { actor: "counter", reply: { count: 1 } },
      { input: "stdin:2", error: 'message is not valid JSON: "{oops"' },
      { actor: "counter", reply: { count: 2 } },
    ]);
    assert.equal((await verifyPath(chains)).ok, true);
  });
});

Deno.test("run: the TypeScript kv example answers and records its calls", async () => {
  await withTempDir(async (dir) => {
    const kv = new URL("../examples/kv/", import.meta.url).pathname;
    const r = await runCli([
      "run",
      join(kv, "manifest.json"),
      "--chain-dir",
      dir,
      "--quiet",
      "--send",
      '{"op":"put","key":"b","value":2}',
      "--send",
      '{"op":"keys"}',
      "--send",
      '{"op":"get","key":"greeting"}',
      "--send",
      '{"op":"frobnicate"}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = replies(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(out.slice(0, 3), [
      { actor: "kv", reply: { ok: true } },
      { actor: "kv", reply: { keys: ["b", "greeting"] } },
      { actor: "kv", reply: { value: "hello" } },
    ]);
    assert.match(String(out[3].error), /unknown op/);
    const events = [];
    for await (const e of readEvents(join(dir, "kv.jsonl"))) events.push(e);
    const calls = events.flatMap(hostCallsOf).map((c) => c.function);
    assert.ok(calls.includes("log") && calls.includes("now"), String(calls));
    assert.equal(events.at(-1)?.type, "actor.stop");
    assert.equal((await verifyPath(dir)).ok, true);
  });
});

Deno.test("run: a bad --send is refused before anything starts or is recorded", async () => {
  await withTempDir(async (dir) => {
    const manifest = await testActor(dir, "echo");
    const r = await runCli([
      "run",
      manifest,
      "--send",
      '"ok"',
      "--send",
      "1e400",
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--send #2: message is not canonical JSON: number 1e400 is out of range/,
    );
    assert.equal(r.stdout, "");
    // Nothing was started, so nothing was appended.
    await assert.rejects(() => Deno.stat(join(dir, "chains")));
  });
});

Deno.test("run: stdin lines that are not canonical JSON are refused by line, the run goes on", async () => {
  await withTempDir(async (dir) => {
    const manifest = await testActor(dir, "echo");
    const r = await runCli(["run", manifest, "--quiet"], {
      stdin: [
        '"a"',
        "1e400",
        '"\\ud800"',
        "9007199254740993",
        '{"to":"nobody","msg":1}',
        '"b"',
      ].join("\n") + "\n",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(replies(r.stdout), [
      { actor: "echo", reply: null },
      {
        input: "stdin:2",
        error:
          "message is not canonical JSON: number 1e400 is out of range (it would become Infinity) (at character 0)",
      },
      {
        input: "stdin:3",
        error:
          "message is not canonical JSON: string has a lone surrogate (at character 1)",
      },
      {
        input: "stdin:4",
        error:
          "message is not canonical JSON: number 9007199254740993 cannot be kept exactly (it would become 9007199254740992) (at character 0)",
      },
      {
        input: "stdin:5",
        actor: "nobody",
        error: 'no actor "nobody" is running',
      },
      { actor: "echo", reply: null },
    ]);
    assert.match(r.stderr, /stdin:2: message is not canonical JSON/);
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
    const recorded = (await types(join(dir, "chains", "echo.jsonl")))
      .filter((t) => t === "message.in").length;
    assert.equal(recorded, 2);
  });
});

Deno.test("run: a second run on the same run directory refuses at once; the chain stays whole", async () => {
  await withTempDir(async (dir) => {
    const manifest = await testActor(dir, "echo");
    let second: CliResult | undefined;
    // Once the first run has answered it holds the directory; the second
    // is tried then, and the first is stopped when the second has ended.
    const r = await runCli(["run", manifest, "--quiet"], {
      stdin: '"one"\n',
      holdStdin: true,
      signal: "SIGTERM",
      signalWhen: async (run) => {
        await run.stdout.until((l) => l.includes('"echo"'), "the reply");
        second = await runCli(["run", manifest, "--quiet"], {
          stdin: '"two"\n',
          timeoutMs: 60_000,
        });
      },
      timeoutMs: 120_000,
    });
    assert.ok(second, r.signalError);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /chains\/echo\.jsonl is in use by another theater process \(pid \d+\)/,
    );
    assert.equal(second.stdout, "");
    assert.equal(r.killed, false);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [{ actor: "echo", reply: null }]);
    const report = await verifyPath(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
    // After the first run ends, the directory is free again.
    const third = await runCli(["run", manifest, "--quiet"], { stdin: "" });
    assert.equal(third.code, 0, third.stderr);
  });
});

Deno.test("run: a growing state is recorded as patches; the chain grows with the work, not the state", async () => {
  await withTempDir(async (dir) => {
    const kv = new URL("../examples/kv/", import.meta.url).pathname;
    const puts = 500;
    const value = "x".repeat(100);
    const lines = Array.from(
      { length: puts },
      (_, i) => JSON.stringify({ op: "put", key: `k${i}`, value }) + "\n",
    ).join("");
    const r = await runCli([
      "run",
      join(kv, "manifest.json"),
      "--chain-dir",
      dir,
      "--fsync",
      "none",
      "--quiet",
    ], { stdin: lines });
    assert.equal(r.code, 0, r.stderr);
    const chain = join(dir, "kv.jsonl");
    const size = (await Deno.stat(chain)).size;
    // Whole states would take about puts^2 / 2 * 110 bytes (~14 MB here).
    assert.ok(size < puts * 2500, `chain is ${size} bytes for ${puts} puts`);
    const t = await types(chain);
    assert.ok(t.filter((x) => x === "handle.patch").length > puts * 0.8);
    assert.equal((await verifyPath(chain)).ok, true);
    const last = t.lastIndexOf("handle.patch");
    const state = await runCli(["state", chain, "--at", String(last)]);
    assert.equal(state.code, 0, state.stderr);
    const entries = JSON.parse(state.stdout).entries;
    assert.equal(entries.k0, value);
    assert.equal(entries.k499, value);
    const replay = await runCli(["replay", chain, "--search", kv]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    // A second run resumes from the patched state.
    const again = await runCli([
      "run",
      join(kv, "manifest.json"),
      "--chain-dir",
      dir,
      "--quiet",
      "--send",
      '{"op":"get","key":"k250"}',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(replies(again.stdout), [{
      actor: "kv",
      reply: { value },
    }]);
  });
});

Deno.test("run: the transpile cache is on by default; --no-cache leaves it alone", async () => {
  await withTempDir(async (dir) => {
    const manifest = await testActor(dir, "echo");
    const cache = join(dir, "cache");
    const entries = async () =>
      (await Array.fromAsync(Deno.readDir(cache)).catch(() => [])).length;
    const run = (extra: string[]) =>
      runCli(["run", manifest, "--send", '"hi"', "--quiet", ...extra], {
        env: { THEATER_CACHE_DIR: cache },
      });
    let r = await run(["--no-cache"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await entries(), 0);
    r = await run([]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await entries() > 0, "the default run filled no cache");
    r = await run(["--no-cache", "--cache-dir", cache]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--no-cache and --cache-dir exclude each other/);
  });
});

Deno.test("run --window: lines stream to one actor, answers stay in input order", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const lines = Array.from({ length: 60 }, (_, i) =>
      i === 30 ? '{"to":"nobody","msg":1}' : '"inc"').join("\n") + "\n";
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      chains,
      "--window",
      "16",
      "--quiet",
    ], { stdin: lines });
    assert.equal(r.code, 1, r.stderr);
    const out = replies(r.stdout) as Record<string, unknown>[];
    assert.equal(out.length, 60);
    let count = 0;
    for (const [i, answer] of out.entries()) {
      if (i === 30) {
        assert.equal(answer.input, "stdin:31");
        continue;
      }
      assert.deepEqual(answer, { actor: "counter", reply: { count: ++count } });
    }
    assert.equal((await verifyPath(chains)).ok, true);
    const bad = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--window",
      "0",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--window must be 1 to 1000/);
  });
});

Deno.test("run: an input line's id comes back in its answer, errors included", async () => {
  await withTempDir(async (dir) => {
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      join(dir, "chains"),
      "--window",
      "4",
      "--quiet",
    ], {
      stdin: [
        '{"msg":"inc","id":7}',
        '{"to":"counter","msg":"get","id":"a"}',
        '{"to":"nobody","msg":1,"id":9}',
        '"inc"',
        // Not an envelope (another key): the whole object is the message.
        '{"msg":"inc","id":1,"x":2}',
      ].join("\n") + "\n",
    });
    assert.equal(r.code, 1);
    const out = replies(r.stdout);
    assert.deepEqual(out.slice(0, 4), [
      { actor: "counter", reply: { count: 1 }, id: 7 },
      { actor: "counter", reply: { count: 1 }, id: "a" },
      {
        input: "stdin:3",
        actor: "nobody",
        error: 'no actor "nobody" is running',
        id: 9,
      },
      { actor: "counter", reply: { count: 2 } },
    ]);
    assert.equal((out[4] as { actor: string }).actor, "counter");
    assert.equal("id" in (out[4] as object), false);
  });
});

Deno.test("run: what an actor logs and replies reaches the terminal with its control characters escaped", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("log-escapes", dir);
    await writeJson(dir, "esc.json", {
      name: "esc",
      component: "./log-escapes.wasm",
    });
    // The reply echoes the message: a C1 CSI, ESC and a line separator.
    const msg = "red\u009b31m\u001b[2J\u2028";
    const r = await runCli(["run", join(dir, "esc.json")], {
      stdin: JSON.stringify(msg) + "\n",
    });
    assert.equal(r.code, 0, r.stderr);
    // deno-lint-ignore no-control-regex
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;
    assert.doesNotMatch(r.stderr, control, JSON.stringify(r.stderr));
    assert.doesNotMatch(r.stdout, control, JSON.stringify(r.stdout));
    // The log line is one line, shown escaped; the fake status line is in
    // it, not on a line of its own.
    const logged = r.stderr.split("\n").filter((l) => l.startsWith("[esc] "));
    assert.deepEqual(logged, [
      "[esc] \\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\r\\u001b[2Ktheater run: stopped cleanly\\n",
    ]);
    assert.equal(
      r.stderr.split("\n").filter((l) => l.startsWith("theater run: stopped"))
        .length,
      1,
    );
    assert.match(r.stderr, /theater run: stopped; chains in /);
    // Still the same JSON value on stdout.
    assert.deepEqual(replies(r.stdout), [{ actor: "esc", reply: msg }]);
    // The chain keeps what the actor logged, unchanged.
    const events: string[] = [];
    for await (const e of readEvents(join(dir, "chains", "esc.jsonl"))) {
      for (const call of hostCallsOf(e)) {
        if (call.function === "log") events.push(String(call.args[0]));
      }
    }
    assert.deepEqual(events, [LOG_ESCAPES]);
    // The commands that read the chain back show it escaped as well.
    const chain = join(dir, "chains", "esc.jsonl");
    for (
      const args of [
        ["events", chain],
        ["events", join(dir, "chains")],
        ["events", chain, "--json"],
        ["state", chain, "--at", "4"],
        ["state", chain, "--diff", "1", "4"],
      ]
    ) {
      const shown = await runCli(args);
      assert.equal(shown.code, 0, `${args.join(" ")}: ${shown.stderr}`);
      const text = stripVTControlCharacters(shown.stdout);
      assert.doesNotMatch(text, control, `${args.join(" ")}: ${text}`);
    }
  });
});

// Each stdin line once left a reaction on a promise that stayed pending
// for the whole run: a 24 MB old space ran out after 22,764 replies (and a
// 48 MB one after about 90,600). The stream is longer than that, so the
// run fails without the fix; nothing here is timed.
const SOAK_LINES = 30_000;

Deno.test(`run: ${SOAK_LINES} stdin lines under a 24 MB heap are all answered`, async () => {
  await withTempDir(async (dir) => {
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      join(dir, "chains"),
      "--fsync",
      "none",
      "--no-cache",
      "--quiet",
    ], {
      flags: [...THEATER_FLAGS, "--v8-flags=--max-old-space-size=24"],
      stdin: '"inc"\n'.repeat(SOAK_LINES),
    });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, SOAK_LINES);
    assert.deepEqual(JSON.parse(lines.at(-1)!), {
      actor: "counter",
      reply: { count: SOAK_LINES },
    });
  });
});
