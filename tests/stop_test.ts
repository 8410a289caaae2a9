// Copyright the Theater authors. MIT license.
// Stopping works in every phase (docs/supervision.md): while the tree
// starts, while a restart loop too slow to reach the intensity goes on,
// and at end of input, SIGINT or SIGTERM the run ends once the call under
// way has finished or timed out, with actor.stop recorded for every actor
// and a run directory that verifies. A child whose init fails while its
// parent starts fails that start (as in OTP): it is not restarted.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ChainEvent } from "../chain/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { type Lines, waitFor, watchLines } from "../tools/wait.ts";
import { buildHostile } from "./testdata/hostile.ts";
import {
  addressed,
  chainEvents,
  runCli,
  theaterCommand,
  withTempDir,
  writeJson,
} from "./_helpers.ts";

/** A `theater run` under way, with stdin held open until `end`. */
interface Run {
  child: Deno.ChildProcess;
  stdout: Lines;
  stderr: Lines;
  write(text: string): Promise<void>;
  /** Closes stdin: the end of input. */
  end(): Promise<void>;
  /** Waits for the run to exit on its own (a bound only against a hang). */
  done(): Promise<{ code: number; stdout: string; stderr: string }>;
}

function startRun(args: string[]): Run {
  const child = theaterCommand(["run", ...args], {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = watchLines(child.stdout);
  const stderr = watchLines(child.stderr);
  const writer = child.stdin.getWriter();
  let ended = false;
  let exited: Deno.CommandStatus | null = null;
  child.status.then((status) => exited = status);
  return {
    child,
    stdout,
    stderr,
    write: (text) => writer.write(new TextEncoder().encode(text)),
    end: async () => {
      if (ended) return;
      ended = true;
      await writer.close().catch(() => {});
    },
    async done() {
      // The deadline bounds a hang, it measures nothing: a run that does
      // not stop is killed and the test fails saying so.
      const status = await waitFor(
        "the run to exit after it was told to stop",
        () => exited,
        { seen: () => stderr.text.slice(-2000) },
      ).catch(async (err) => {
        child.kill("SIGKILL");
        await child.status;
        throw err;
      });
      await Promise.all([stdout.closed, stderr.closed]);
      return { code: status.code, stdout: stdout.text, stderr: stderr.text };
    },
  };
}

/** Builds the components and writes root.json: root with `children`. */
async function tree(
  dir: string,
  children: Record<string, Record<string, unknown>>,
  root: Record<string, unknown> = {},
): Promise<string> {
  await buildHostile("echo", dir);
  for (const [name, body] of Object.entries(children)) {
    await writeJson(dir, `${name}.json`, { name, ...body });
  }
  await writeJson(dir, "root.json", {
    name: "root",
    component: "./echo.wasm",
    chain: { fsync: "none" },
    children: Object.keys(children).map((c) => ({ manifest: `./${c}.json` })),
    ...root,
  });
  return join(dir, "root.json");
}

/** A root with a well-behaved child, then one whose init always spins. */
async function slowInitTree(dir: string): Promise<string> {
  await buildHostile("init-spin", dir);
  return await tree(dir, {
    sib: { component: "./echo.wasm" },
    // Under the default supervision: 3 restarts in 5 s would never be
    // reached by restarts that each take 2 s.
    slow: {
      component: "./init-spin.wasm",
      limits: { handle_timeout_ms: 2000 },
    },
  });
}

const chainOf = (dir: string, actor: string) =>
  chainEvents(join(dir, "chains", `${actor}.jsonl`)).catch(() => []);

/**
 * Every chain of the run ends with actor.stop (and has one wherever a
 * start followed), and `theater verify` passes on the directory.
 */
async function assertStoppedAndVerified(
  dir: string,
  actors: string[],
): Promise<Map<string, ChainEvent[]>> {
  const chains = new Map<string, ChainEvent[]>();
  for (const actor of actors) {
    const events = await chainOf(dir, actor);
    chains.set(actor, events);
    assert.ok(events.length > 0, `${actor} has no chain`);
    assert.equal(
      events.at(-1)?.type,
      "actor.stop",
      `${actor} does not end with actor.stop: ${
        events.slice(-3).map((e) => e.type)
      }`,
    );
    // Each start is closed by a stop before the next one.
    let open = false;
    for (const e of events) {
      if (e.type === "actor.start" || e.type === "actor.resume") {
        assert.equal(open, false, `${actor}#${e.seq}: started twice`);
        open = true;
      } else if (e.type === "actor.stop") open = false;
    }
  }
  const verify = await runCli(["verify", join(dir, "chains")]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  return chains;
}

Deno.test("stop: a child whose init runs to its time limit fails the root's start; end of input ends the run", async () => {
  await withTempDir(async (dir) => {
    const root = await slowInitTree(dir);
    const run = startRun([root]);
    await run.end();
    const r = await run.done();
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /theater run: root failed to start: root\.slow failed to start: init failed: trap: timed out after 2000 ms/,
    );
    assert.equal(r.stdout, "");
    const chains = await assertStoppedAndVerified(dir, [
      "root",
      "root.sib",
      "root.slow",
    ]);
    // One start, one init: a failed start is not restarted.
    const slow = chains.get("root.slow")!;
    assert.deepEqual(slow.map((e) => e.type), [
      "actor.start",
      "handle.error",
      "actor.stop",
    ]);
    const lifecycle = chains.get("root")!.filter((e) =>
      e.type === "child.event"
    ).map((e) => `${e.data.child} ${e.data.event}`);
    assert.deepEqual(lifecycle, [
      "root.sib started",
      "root.slow failed",
      "root.sib stopped",
    ]);
    assert.match(
      String(chains.get("root")!.at(-1)?.data.reason),
      /^start failed: root\.slow failed to start: init failed/,
    );
  });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`stop: ${signal} while a child's init spins ends the start; every actor records actor.stop`, async () => {
    await withTempDir(async (dir) => {
      const root = await slowInitTree(dir);
      const run = startRun([root]);
      // root.slow starts right after root.sib has (a start is recorded
      // with its init's outcome, so root.slow's chain shows nothing yet).
      await waitFor(
        "root.sib started, in root's chain",
        async () =>
          (await chainOf(dir, "root")).some((e) =>
            e.type === "child.event" && e.data.child === "root.sib"
          ),
        { seen: () => run.stderr.text },
      );
      run.child.kill(signal);
      const r = await run.done();
      await run.end();
      assert.equal(r.code, 1, r.stderr);
      // Whether the signal or the init's time-out came first, the start
      // ended without a restart and the run stopped by itself.
      assert.match(
        r.stderr,
        /root stopped before it had started \(interrupted\)|root failed to start: root\.slow failed to start/,
      );
      const chains = await assertStoppedAndVerified(dir, [
        "root",
        "root.sib",
        "root.slow",
      ]);
      assert.equal(
        chains.get("root.slow")!.filter((e) => e.type === "actor.start")
          .length,
        1,
      );
    });
  });
}

/**
 * A restart loop too slow to reach the intensity: root (one-for-all) with
 * `x`, which traps on any message, and `s`, restarted from init, whose
 * init spins until its 2 s limit. The first run starts `s` with an init
 * that works; the second gives it the spinning one. A message to `x` then
 * makes every restart fail, each after 2 s, and the answer to that line
 * waits for the restarts.
 */
async function restartLoop(dir: string): Promise<string> {
  await buildTestComponent("trap", dir);
  await buildHostile("init-spin", dir);
  const s = {
    limits: { handle_timeout_ms: 2000 },
    supervision: { restart_from: "init" },
  };
  const root = await tree(dir, {
    x: { component: "./trap.wasm" },
    s: { component: "./echo.wasm", ...s },
  }, { supervision: { strategy: "one-for-all" } });
  const first = await runCli(["run", root, "--quiet"], { stdin: "" });
  assert.equal(first.code, 0, first.stderr);
  await writeJson(dir, "s.json", {
    name: "s",
    component: "./init-spin.wasm",
    ...s,
  });
  return root;
}

/** Waits until the root's chain shows `n` failed restarts of root.s. */
function restartsFailed(dir: string, run: Run, n: number) {
  return waitFor(
    `${n} failed restarts of root.s`,
    async () =>
      (await chainOf(dir, "root")).filter((e) =>
        e.type === "child.event" && e.data.child === "root.s" &&
        e.data.event === "failed" &&
        String(e.data.reason).startsWith("init failed")
      ).length >= n,
    { seen: () => run.stderr.text },
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`stop: ${signal} during a restart loop too slow for the intensity stops the run`, async () => {
    await withTempDir(async (dir) => {
      const root = await restartLoop(dir);
      const run = startRun([root]);
      await run.stderr.until((l) => /root resumed/.test(l), "root resumed");
      await run.write(addressed("root.x", "boom"));
      await restartsFailed(dir, run, 2);
      run.child.kill(signal);
      const r = await run.done();
      await run.end();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /theater run: stopped; chains in /);
      // The line that set the loop off has its answer: the trap.
      assert.deepEqual(JSON.parse(r.stdout.trim()), {
        actor: "root.x",
        error: JSON.parse(r.stdout.trim()).error,
      });
      const chains = await assertStoppedAndVerified(dir, [
        "root",
        "root.x",
        "root.s",
      ]);
      assert.equal(
        chains.get("root")!.at(-1)?.data.reason,
        "run stopped: interrupted",
      );
      // It never gave up: the loop was stopped, not exhausted.
      assert.equal(
        chains.get("root")!.some((e) =>
          e.type === "child.event" && e.data.event === "given-up"
        ),
        false,
      );
    });
  });
}

Deno.test("stop: end of input during a restart loop (each restart crashes again) stops the run", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("boot-loop", dir);
    const root = await tree(dir, {
      loop: {
        component: "./boot-loop.wasm",
        limits: { handle_timeout_ms: 2000 },
        supervision: { restart_from: "init" },
      },
    });
    const run = startRun([root]);
    await waitFor(
      "2 restarts of root.loop",
      async () =>
        (await chainOf(dir, "root")).filter((e) =>
          e.type === "child.event" && e.data.event === "restarted"
        ).length >= 2,
      { seen: () => run.stderr.text },
    );
    await run.write(addressed("root", "last"));
    await run.stdout.until((l) => l.includes('"last"'), "root's answer");
    await run.end();
    const r = await run.done();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), {
      actor: "root",
      reply: "last",
    });
    const chains = await assertStoppedAndVerified(dir, ["root", "root.loop"]);
    assert.equal(
      chains.get("root")!.at(-1)?.data.reason,
      "run stopped: end of input",
    );
  });
});
