// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { BUILD_FLAGS, runCli, withTempDir } from "./_helpers.ts";

// theater build runs deno check / deno bundle and loads a native addon.

Deno.test("new, build, run, verify, replay: all green for a new user", async () => {
  await withTempDir(async (dir) => {
    const created = await runCli(["new", "demo"], { cwd: dir });
    assert.equal(created.code, 0, created.stderr);
    const project = join(dir, "demo");
    const build = await runCli(["build", project], { flags: BUILD_FLAGS });
    assert.equal(build.code, 0, build.stderr);
    assert.match(
      build.stdout,
      /demo\.wasm: built, \d+ bytes, sha256 [0-9a-f]{64}/,
    );
    const again = await runCli(["build", project], { flags: BUILD_FLAGS });
    assert.match(again.stdout, /demo\.wasm: up to date/);
    const run = await runCli([
      "run",
      join(project, "manifest.json"),
      "--send",
      '"inc"',
      "--send",
      '{"op":"add","n":41}',
      "--send",
      '"get"',
      "--quiet",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n").map((l) => JSON.parse(l)), [
      { actor: "demo", reply: { kind: "count", count: 1 } },
      { actor: "demo", reply: { kind: "count", count: 42 } },
      { actor: "demo", reply: { kind: "count", count: 42 } },
    ]);
    // Chains, builds and keys stay out of git.
    const ignored = await Deno.readTextFile(join(project, ".gitignore"));
    for (const entry of ["chains/", "*.wasm", "*.key"]) {
      assert.ok(ignored.split("\n").includes(entry), entry);
    }
    const chains = join(project, "chains");
    const verify = await runCli(["verify", chains]);
    assert.equal(verify.code, 0, verify.stderr);
    const replay = await runCli(["replay", chains]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /same head/);
  });
});

Deno.test("build: a syntax error and a type error each name the place", async () => {
  await withTempDir(async (dir) => {
    await runCli(["new", "demo", "--dir", join(dir, "demo")]);
    const actor = join(dir, "demo", "actor.ts");
    const source = await Deno.readTextFile(actor);
    await Deno.writeTextFile(
      actor,
      source.replace("let count = ", "let count = = "),
    );
    const syntax = await runCli(["build", join(dir, "demo")], {
      flags: BUILD_FLAGS,
    });
    assert.equal(syntax.code, 1);
    assert.match(
      syntax.stderr,
      /actor\.ts:\d+:\d+: .*(Expression expected|Unexpected|parsed)/i,
    );
    await Deno.writeTextFile(
      actor,
      source.replace("let count = state.count;", 'let count: number = "many";'),
    );
    const type = await runCli(["build", join(dir, "demo")], {
      flags: BUILD_FLAGS,
    });
    assert.equal(type.code, 1);
    assert.match(
      type.stderr,
      /actor\.ts:\d+:\d+: Type 'string' is not assignable to type 'number'/,
    );
    // A diagnostic whose explanation is on the lines after it keeps them.
    await Deno.writeTextFile(
      actor,
      source.replace(
        "state: { count, updated: host.now() },",
        "state: { count: String(count), updated: host.now() },",
      ),
    );
    const elaborated = await runCli(["build", join(dir, "demo")], {
      flags: BUILD_FLAGS,
    });
    assert.equal(elaborated.code, 1);
    assert.match(
      elaborated.stderr,
      /actor\.ts:\d+:\d+: Type .*\n( {2}.*\n)* {2}Type 'string' is not assignable to type 'number'/,
    );
    assert.doesNotMatch(
      elaborated.stderr,
      /Stack backtrace|Type checking failed/,
    );
  });
});

Deno.test("new refuses a bad name, a bad template and a non-empty directory", async () => {
  await withTempDir(async (dir) => {
    const bad = await runCli(["new", "../evil"], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /must be 1-64 letters/);
    const template = await runCli(["new", "x", "--template", "nope"], {
      cwd: dir,
    });
    assert.equal(template.code, 2);
    await Deno.mkdir(join(dir, "full"));
    await Deno.writeTextFile(join(dir, "full", "file"), "");
    const full = await runCli(["new", "full"], { cwd: dir });
    assert.equal(full.code, 2);
    assert.match(full.stderr, /exists and is not empty/);
  });
});

Deno.test("a TypeScript actor: ActorError is an error reply, a bug is a crash the supervisor sees", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await runCli(["new", "demo"], { cwd: dir })).code, 0);
    const project = join(dir, "demo");
    const source = join(project, "actor.ts");
    await Deno.writeTextFile(
      source,
      (await Deno.readTextFile(source)).replace(
        'if (msg === "get")',
        'if ((msg as unknown) === "bug") (null as unknown as { x(): void }).x();\n    if (msg === "get")',
      ),
    );
    const build = await runCli(["build", project], { flags: BUILD_FLAGS });
    assert.equal(build.code, 0, build.stderr);
    const run = await runCli(
      ["run", join(project, "manifest.json"), "--quiet"],
      { stdin: '"inc"\n"bug"\n"nonsense"\n"get"\n' },
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(out[0], {
      actor: "demo",
      reply: { kind: "count", count: 1 },
    });
    assert.equal(out[1].error, "trap: unreachable");
    assert.match(out[2].error, /^unknown message "nonsense"$/);
    assert.deepEqual(out[3], {
      actor: "demo",
      reply: { kind: "count", count: 1 },
    });
    const events = (await Deno.readTextFile(
      join(project, "chains", "demo.jsonl"),
    )).trim().split("\n").map((l) => JSON.parse(l));
    const crash = events.findIndex((e) =>
      e.type === "handle.error" && e.data.error === "trap: unreachable"
    );
    assert.ok(crash > 0);
    assert.match(
      String(events[crash - 1].data.args[0]),
      /^crash: uncaught TypeError: /,
    );
    const replay = await runCli(["replay", join(project, "chains")]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  });
});

Deno.test("a 0.2.0 TypeScript actor knows who sent each message, recorded and replayed", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await runCli(["new", "demo"], { cwd: dir })).code, 0);
    const project = join(dir, "demo");
    await Deno.writeTextFile(
      join(project, "actor.ts"),
      `import { defineActor } from "./theater_sdk.ts";

export default defineActor<null, string, { from: string } | null>({
  init: () => null,
  handle(state, msg, host) {
    if (msg === "ask-myself") {
      host.send(host.selfId(), "who");
      return { state, reply: null };
    }
    return { state, reply: { from: host.sender() } };
  },
});
`,
    );
    const build = await runCli(["build", project], { flags: BUILD_FLAGS });
    assert.equal(build.code, 0, build.stderr);
    const inspect = await runCli(["inspect", join(project, "demo.wasm")]);
    assert.match(inspect.stdout, /theater:actor\/actor@0\.2\.0/);
    const run = await runCli(
      ["run", join(project, "manifest.json"), "--quiet"],
      { stdin: '"who"\n"ask-myself"\n' },
    );
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(out[0], { actor: "demo", reply: { from: "external" } });
    const events = (await Deno.readTextFile(
      join(project, "chains", "demo.jsonl"),
    )).trim().split("\n").map((l) => JSON.parse(l));
    // The message the actor sent itself was handled as from "demo".
    const senders = events.filter((e) =>
      e.type === "host.call" && e.data.function === "sender"
    ).map((e) => e.data.result);
    assert.deepEqual(senders, ["external", "demo"]);
    const replay = await runCli(["replay", join(project, "chains")]);
    assert.equal(replay.code, 0, replay.stderr + replay.stdout);
    assert.match(replay.stdout, /same head/);
  });
});
