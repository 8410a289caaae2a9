// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { verifyPath } from "../chain/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { runCli, withTempDir } from "./_helpers.ts";

async function tree(dir: string): Promise<string> {
  await buildTestComponent("supervisor", dir);
  await buildTestComponent("echo", dir);
  await buildTestComponent("trap", dir);
  const write = (name: string, body: unknown) =>
    Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(body));
  await write("ok", { name: "ok", component: "./echo.wasm" });
  await write("bad", { name: "bad", component: "./trap.wasm" });
  await write("root", {
    name: "root",
    component: "./supervisor.wasm",
    supervision: { max_restarts: 1, period_ms: 60000 },
    children: [{ manifest: "./ok.json" }, { manifest: "./bad.json" }],
  });
  return join(dir, "root.json");
}

Deno.test("run: a restart storm stops the run with a clear message, exit 1", async () => {
  await withTempDir(async (dir) => {
    const manifest = await tree(dir);
    const to = (actor: string, msg: unknown) =>
      JSON.stringify({ to: actor, msg });
    const r = await runCli(["run", manifest], {
      stdin: [
        to("root.ok", 1),
        to("root.bad", 1),
        to("root.ok", 2),
        to("root.bad", 2),
        to("root.ok", 3),
      ].join("\n") + "\n",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /theater run: root gave up on root\.bad: more than 1 restarts in 60000 ms; last: trap: .*; stopping the run/,
    );
    const replies = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(replies.slice(0, 3), [
      { actor: "root.ok", reply: null },
      { actor: "root.bad", error: replies[1].error },
      { actor: "root.ok", reply: null },
    ]);
    const report = await verifyPath(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
    // Restarts, lifecycle events and on-child-event replay too.
    const replay = await runCli([
      "replay",
      join(dir, "chains"),
      "--search",
      dir,
    ]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(replay.stdout.match(/same head/g)?.length, 3);
  });
});
