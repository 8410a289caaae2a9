// Copyright the Theater authors. MIT license.
// OTP semantics end to end: normal exits and restart types, subtree
// restarts that start manifest children again, a root that stops itself.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChainEvent, verifyPath } from "../chain/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { buildHostile } from "./testdata/hostile.ts";
import {
  addressed,
  chainEvents,
  jsonLines,
  runCli,
  withTempDir,
  writeJson,
} from "./_helpers.ts";

const eventsOf = (dir: string, actor: string) =>
  chainEvents(join(dir, "chains", `${actor}.jsonl`));

function lifecycle(events: ChainEvent[], child: string): string[] {
  return events.filter((e) =>
    e.type === "child.event" && e.data.child === child
  ).map((e) => `${e.data.event}${e.data.reason ? `: ${e.data.reason}` : ""}`);
}

const replies = jsonLines;

const to = addressed;

Deno.test("otp: a child that stops itself: transient and temporary stay stopped, permanent restarts", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("stop-self", dir);
    await buildHostile("echo", dir);
    const write = (name: string, body: unknown) => writeJson(dir, name, body);
    for (const type of ["transient", "temporary", "permanent"]) {
      await write(`${type}.json`, {
        name: type,
        component: "./stop-self.wasm",
        supervision: { restart: type },
      });
    }
    await write("root.json", {
      name: "root",
      component: "./echo.wasm",
      children: ["transient", "temporary", "permanent"].map((t) => ({
        manifest: `./${t}.json`,
      })),
    });
    const r = await runCli(["run", join(dir, "root.json"), "--quiet"], {
      stdin: ["transient", "temporary", "permanent"].map((t) =>
        to(`root.${t}`, "go") + to(`root.${t}`, "again")
      ).join(""),
    });
    assert.equal(r.code, 1, r.stderr);
    const out = replies(r.stdout);
    for (const t of ["transient", "temporary"]) {
      assert.deepEqual(out.filter((l) => l.actor === `root.${t}`), [
        { actor: `root.${t}`, reply: "sent" },
        {
          input: `stdin:${["transient", "temporary"].indexOf(t) * 2 + 2}`,
          actor: `root.${t}`,
          error: `no actor "root.${t}" is running`,
        },
      ]);
    }
    // The permanent one was restarted and answers again.
    assert.deepEqual(out.filter((l) => l.actor === "root.permanent"), [
      { actor: "root.permanent", reply: "sent" },
      { actor: "root.permanent", reply: "sent" },
    ]);
    const root = await eventsOf(dir, "root");
    assert.deepEqual(lifecycle(root, "root.transient").slice(1), [
      "stopped: stopped itself",
    ]);
    assert.deepEqual(lifecycle(root, "root.permanent").slice(1, 3), [
      "stopped: stopped itself",
      "restarted: stopped itself",
    ]);
    const transient = await eventsOf(dir, "root.transient");
    assert.equal(transient.at(-1)?.type, "actor.stop");
    assert.equal(transient.at(-1)?.data.reason, "stopped itself");
    const report = await verifyPath(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
  });
});

Deno.test("otp: a restarted supervisor starts its manifest children again", async () => {
  await withTempDir(async (dir) => {
    await buildTestComponent("supervisor", dir);
    await buildHostile("echo", dir);
    const write = (name: string, body: unknown) => writeJson(dir, name, body);
    await write("leaf.json", { name: "leaf", component: "./echo.wasm" });
    // The supervisor component traps on a message starting with "t".
    await write("mid.json", {
      name: "mid",
      component: "./supervisor.wasm",
      children: [{ manifest: "./leaf.json" }],
    });
    await write("root.json", {
      name: "root",
      component: "./echo.wasm",
      children: [{ manifest: "./mid.json" }],
    });
    const r = await runCli(["run", join(dir, "root.json"), "--quiet"], {
      stdin: to("root.mid.leaf", "before") + to("root.mid", "trap") +
        to("root.mid.leaf", "after"),
    });
    assert.equal(r.code, 0, r.stderr);
    const out = replies(r.stdout);
    assert.deepEqual(out.at(-1), { actor: "root.mid.leaf", reply: "after" });
    const mid = await eventsOf(dir, "root.mid");
    assert.deepEqual(lifecycle(mid, "root.mid.leaf"), [
      "started",
      "stopped: failed: trap: unreachable",
      "started: resumed",
      "stopped: run stopped: end of input",
    ]);
    const leaf = (await eventsOf(dir, "root.mid.leaf")).map((e) => e.type);
    assert.deepEqual(leaf.filter((t) => t.startsWith("actor.")), [
      "actor.start",
      "actor.init",
      "actor.stop",
      "actor.resume",
      "actor.stop",
    ]);
    const report = await verifyPath(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
    const replay = await runCli([
      "replay",
      join(dir, "chains"),
      "--search",
      dir,
    ]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  });
});

Deno.test("otp: a root that stops itself ends the run, exit 0, everything recorded", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("stop-self", dir);
    await Deno.writeTextFile(
      join(dir, "root.json"),
      JSON.stringify({ name: "root", component: "./stop-self.wasm" }),
    );
    const r = await runCli(["run", join(dir, "root.json")], {
      stdin: '"go"\n"never read"\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(replies(r.stdout), [{ actor: "root", reply: "sent" }]);
    assert.match(r.stderr, /root stopped itself/);
    const root = await eventsOf(dir, "root");
    assert.equal(root.at(-1)?.type, "actor.stop");
    assert.equal(root.at(-1)?.data.reason, "stopped itself");
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
  });
});
