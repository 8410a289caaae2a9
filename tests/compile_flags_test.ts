// Copyright the Theater authors. MIT license.
// `deno compile` needs a runtime download this build machine cannot reach,
// so the binary is not built here. What can be tested is the program the
// binary runs: main.ts under exactly the permission flags the compile task
// bakes in.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, withTempDir } from "./_helpers.ts";

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
);
const COMPILE_FLAGS: string[] = (config.tasks.compile as string).split(/\s+/)
  .filter((word) => /^--(allow|deny|unstable)-/.test(word));
const COUNTER = new URL("../examples/counter/", import.meta.url).pathname;

Deno.test("the compile task grants only read, write, env and net, and bundles every worker", () => {
  assert.deepEqual(
    COMPILE_FLAGS.filter((f) => f.startsWith("--allow")).sort(),
    [
      "--allow-env",
      "--allow-net",
      "--allow-read",
      "--allow-write",
    ],
  );
  assert.ok(COMPILE_FLAGS.includes("--unstable-worker-options"));
  // Every module started as a worker must be in the binary.
  for (
    const worker of [
      "runtime/_worker.ts",
      "runtime/_gate_worker.ts",
      "chain/_verify_worker.ts",
    ]
  ) {
    assert.ok(
      config.tasks.compile.includes(`--include ${worker}`),
      `compile task lacks --include ${worker}`,
    );
  }
  assert.match(config.tasks.compile, /--include sdk\/mod\.ts/);
});

const ROOT = fileURLToPath(new URL("../", import.meta.url));

Deno.test("every command module is in main.ts's graph, so deno compile bundles it without --include", async () => {
  // main.ts imports each command when it is used, by a literal import():
  // deno compile bundles those (a computed specifier would need --include).
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  const graph = new Set(
    info.modules.filter((m) => m.specifier.startsWith("file:")).map((m) =>
      relative(ROOT, fileURLToPath(m.specifier))
    ),
  );
  const wanted = ["cli/_errors.ts"];
  for await (const entry of Deno.readDir(join(ROOT, "cli"))) {
    if (
      entry.isFile && entry.name.endsWith(".ts") &&
      !entry.name.startsWith("_") && !entry.name.endsWith("_test.ts")
    ) wanted.push(`cli/${entry.name}`);
  }
  assert.ok(wanted.includes("cli/run.ts"));
  for (const module of wanted) {
    assert.ok(graph.has(module), `${module} is not in main.ts's graph`);
  }
});

Deno.test("run, verify and replay work under exactly the compile flags", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const run = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      chains,
      "--send",
      '"inc"',
      "--send",
      '"roll"',
    ], { flags: COMPILE_FLAGS });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"count":1,"roll":\d/);
    // No manifest grants HTTP: the run gives the network permission up.
    assert.match(run.stderr, /network: none/);
    const verify = await runCli(["verify", chains], { flags: COMPILE_FLAGS });
    assert.equal(verify.code, 0, verify.stderr);
    const replay = await runCli(["replay", chains, "--search", COUNTER], {
      flags: COMPILE_FLAGS,
    });
    assert.equal(replay.code, 0, replay.stderr);
  });
});

Deno.test("without write permission, run fails clearly and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const chains = join(dir, "chains");
    const flags = COMPILE_FLAGS.filter((f) => f !== "--allow-write");
    const r = await runCli([
      "run",
      join(COUNTER, "manifest.json"),
      "--chain-dir",
      chains,
      "--send",
      '"inc"',
    ], { flags });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /chains: cannot create the chain directory: not allowed by Deno permissions/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    await assert.rejects(Deno.stat(chains));
  });
});

Deno.test("without read permission, verify says so (exit 2)", async () => {
  const r = await runCli(["verify", join(COUNTER, "recorded")], {
    flags: COMPILE_FLAGS.filter((f) => f !== "--allow-read"),
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read: not allowed by Deno permissions/);
});
