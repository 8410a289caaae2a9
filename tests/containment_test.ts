// Copyright the Theater authors. MIT license.
// Hostile actors under default limits, each beside a well-behaved sibling:
// every one is contained. The run ends by itself at end of input (exit 0
// or 1), the sibling answers after the hostile actor misbehaved, the
// host's peak RSS stays under 1 GB, and the run directory verifies.
import assert from "node:assert/strict";
import { join } from "node:path";
import { hostCallsOf, verifyPath } from "../chain/mod.ts";
import { buildHostile, type HostileKind } from "./testdata/hostile.ts";
import { WorkerPool } from "../runtime/mod.ts";
import { ActorSystem, validateManifest } from "../supervisor/mod.ts";
import {
  addressed,
  chainEvents,
  type CliResult,
  runCli,
  type RunCliOptions,
  waitFor,
  withTempDir,
  writeJson,
} from "./_helpers.ts";

const GB = 1024 ** 3;

interface Scene {
  dir: string;
  root: string;
}

/**
 * root (echo, `rootExtra` merged in) with two children: `hostile` (the
 * hostile component, `extra` merged into its manifest) and `sib` (echo).
 */
async function scene(
  dir: string,
  kind: HostileKind,
  options: {
    extra?: Record<string, unknown>;
    rootExtra?: Record<string, unknown>;
    hostileFile?: string;
  } = {},
): Promise<Scene> {
  await buildHostile(kind, dir);
  await buildHostile("echo", dir);
  const write = (name: string, body: unknown) => writeJson(dir, name, body);
  const hostileFile = options.hostileFile ?? "hostile.json";
  await write(hostileFile, {
    name: "hostile",
    component: `./${kind}.wasm`,
    ...options.extra,
  });
  await write("sib.json", { name: "sib", component: "./echo.wasm" });
  await write("root.json", {
    name: "root",
    component: "./echo.wasm",
    chain: { fsync: "none" },
    supervision: { max_restarts: 100, period_ms: 60000 },
    children: [{ manifest: `./${hostileFile}` }, { manifest: "./sib.json" }],
    ...options.rootExtra,
  });
  return { dir, root: join(dir, "root.json") };
}

const to = addressed;

/** Runs the scene: one message to the hostile actor, then one to sib. */
async function provoke(
  s: Scene,
  options: {
    messages?: RunCliOptions["stdin"];
    timeoutMs?: number;
  } = {},
): Promise<CliResult & { lines: Record<string, unknown>[] }> {
  const r = await runCli(["run", s.root], {
    stdin: options.messages ??
      to("root.hostile", "go") + to("root.sib", "after"),
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  const lines = r.stdout.trim().split("\n").filter(Boolean).map((l) =>
    JSON.parse(l)
  );
  return { ...r, lines };
}

/** What every contained run shows. */
async function assertContained(
  s: Scene,
  r: CliResult & { lines: Record<string, unknown>[] },
): Promise<void> {
  assert.equal(r.killed, false, `the run had to be killed\n${r.stderr}`);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}\n${r.stderr}`);
  assert.ok(r.peakRss > 0, "the memory sampler took no sample");
  assert.ok(
    r.peakRss < GB,
    `peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.deepEqual(
    r.lines.at(-1),
    { actor: "root.sib", reply: "after" },
    `the sibling did not answer last\n${r.stdout}\n${r.stderr}`,
  );
  const report = await verifyPath(join(s.dir, "chains"));
  assert.equal(report.ok, true, report.error?.message);
}

/** The hostile actor's answer to "go". */
function hostileAnswer(r: { lines: Record<string, unknown>[] }) {
  return r.lines.find((l) => l.actor === "root.hostile");
}

const eventsOf = (dir: string, actor: string) =>
  chainEvents(join(dir, "chains", `${actor}.jsonl`));

for (
  const [kind, pattern] of [
    ["reply-inf", /reply is not canonical JSON: number 1e400 is out of range/],
    ["state-inf", /new state is not canonical JSON: number 1e400/],
    ["state-surrogate", /new state is not canonical JSON: .*lone surrogate/],
    [
      "reply-bigint",
      /reply is not canonical JSON: number 9007199254740993 cannot be kept exactly/,
    ],
  ] as const
) {
  Deno.test(`contained: ${kind} is a crash of that call, recorded`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, kind);
      const r = await provoke(s);
      await assertContained(s, r);
      assert.match(String(hostileAnswer(r)?.error), pattern);
      const events = await eventsOf(dir, "root.hostile");
      const error = events.find((e) => e.type === "handle.error");
      assert.match(String(error?.data.error), pattern);
      // The parent heard: the crash is a failed child, restarted.
      const root = await eventsOf(dir, "root");
      assert.ok(
        root.some((e) =>
          e.type === "child.event" && e.data.child === "root.hostile" &&
          e.data.event === "failed"
        ),
      );
    });
  });
}

for (const kind of ["send-inf", "spawn-inf"] as const) {
  Deno.test(`contained: ${kind}: the host call answers err, the actor goes on`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, kind);
      const r = await provoke(s);
      await assertContained(s, r);
      assert.ok(hostileAnswer(r)?.reply !== undefined, JSON.stringify(r.lines));
      const events = await eventsOf(dir, "root.hostile");
      const call = events.find((e) =>
        e.type === "host.call" &&
        (e.data.function === "send" || e.data.function === "spawn")
      );
      assert.match(
        JSON.stringify(call?.data.result),
        /not canonical JSON: number 1e400 is out of range/,
      );
    });
  });
}

/**
 * What a run whose root cannot start shows (docs/supervision.md): it ends
 * by itself, exit 1, saying which child failed to start and why; nothing
 * is restarted, every chain ends with actor.stop, the directory verifies.
 */
async function assertFailedStart(
  s: Scene,
  r: CliResult & { lines: Record<string, unknown>[] },
  why: RegExp,
): Promise<void> {
  assert.equal(r.killed, false, `the run had to be killed\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.peakRss < GB);
  assert.match(
    r.stderr,
    /theater run: root failed to start: root\.\S+ failed to start: /,
  );
  assert.match(r.stderr, why);
  const report = await verifyPath(join(s.dir, "chains"));
  assert.equal(report.ok, true, report.error?.message);
  for (const entry of Deno.readDirSync(join(s.dir, "chains"))) {
    if (!entry.name.endsWith(".jsonl")) continue;
    const events = await chainEvents(join(s.dir, "chains", entry.name));
    assert.equal(events.at(-1)?.type, "actor.stop", entry.name);
  }
}

for (const kind of ["init-inf", "init-trap"] as const) {
  Deno.test(`contained: ${kind}: a failed init fails the root's start, once, not restarted`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, kind, {
        rootExtra: { supervision: { max_restarts: 2, period_ms: 60000 } },
      });
      const r = await provoke(s);
      await assertFailedStart(
        s,
        r,
        /root\.hostile failed to start: init failed/,
      );
      const events = await eventsOf(dir, "root.hostile");
      // One start, one failed init, and no state was ever served.
      assert.deepEqual(events.map((e) => e.type), [
        "actor.start",
        "handle.error",
        "actor.stop",
      ]);
      assert.equal(events[1].data.phase, "init");
      const root = await eventsOf(dir, "root");
      const lifecycle = root.filter((e) =>
        e.type === "child.event" && e.data.child === "root.hostile"
      ).map((e) => e.data.event);
      assert.deepEqual(lifecycle, ["failed"]);
    });
  });

  Deno.test(`contained: ${kind} (temporary) fails the start just the same`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, kind, {
        extra: { supervision: { restart: "temporary" } },
      });
      const r = await provoke(s);
      await assertFailedStart(
        s,
        r,
        /root\.hostile failed to start: init failed/,
      );
    });
  });
}

Deno.test("contained: a fork bomb stops at the actors-per-run quota", async () => {
  await withTempDir(async (dir) => {
    const s = await scene(dir, "forkbomb", { hostileFile: "forkbomb.json" });
    // Keep the run going until the bomb has stopped spreading.
    const chainsDir = join(dir, "chains");
    const count = () => {
      try {
        return [...Deno.readDirSync(chainsDir)].filter((e) =>
          e.name.endsWith(".jsonl")
        ).length;
      } catch {
        return 0;
      }
    };
    const r = await provoke(s, {
      messages: async (write, run) => {
        await write(to("root.sib", "before"));
        // Until the bomb fills the run's quota of actors (limits.actors,
        // 1000): past that, every spawn is refused.
        await waitFor(
          "1000 actors (the quota) started",
          () => count() >= 1000,
          {
            seen: () => `${count()} chains`,
            ended: run.status,
          },
        );
        await write(to("root.sib", "after"));
      },
      timeoutMs: 120_000,
    });
    await assertContained(s, r);
    const chains = [...Deno.readDirSync(join(dir, "chains"))].filter((e) =>
      e.name.endsWith(".jsonl")
    ).length;
    assert.ok(chains <= 1000, `${chains} chains`);
    const failed = [];
    for await (const entry of Deno.readDir(join(dir, "chains"))) {
      if (!entry.name.endsWith(".jsonl")) {
        continue;
      }
      for (const e of await eventsOf(dir, entry.name.replace(/\.jsonl$/, ""))) {
        if (e.type === "child.event" && e.data.event === "failed") {
          failed.push(String(e.data.reason));
        }
      }
    }
    assert.ok(
      failed.some((f) =>
        /quota exceeded: more than 1000 actors in the run|actor id|too long/
          .test(f)
      ),
      failed.slice(0, 3).join("\n"),
    );
  });
});

Deno.test("contained: two manifests that list each other as children fail the start", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("echo", dir);
    const write = (name: string, body: unknown) => writeJson(dir, name, body);
    await write("a.json", {
      name: "a",
      component: "./echo.wasm",
      children: [{ manifest: "./b.json" }],
    });
    await write("b.json", {
      name: "b",
      component: "./echo.wasm",
      children: [{ manifest: "./a.json" }],
    });
    await write("sib.json", { name: "sib", component: "./echo.wasm" });
    await write("root.json", {
      name: "root",
      component: "./echo.wasm",
      chain: { fsync: "none" },
      children: [{ manifest: "./a.json" }, { manifest: "./sib.json" }],
    });
    const s = { dir, root: join(dir, "root.json") };
    const r = await provoke(s, { messages: to("root.sib", "after") });
    // The deepest one's id is too long: each start above it fails in turn.
    await assertFailedStart(s, r, /failed to start: invalid actor id/);
    const chains = [...Deno.readDirSync(join(dir, "chains"))].filter((e) =>
      e.name.endsWith(".jsonl")
    ).length;
    assert.ok(chains <= 1000, `${chains} chains`);
  });
});

for (
  const [kind, pattern, extra] of [
    ["self-flood", /quota exceeded: .*limits\.recorded_bytes = 4194304/, {}],
    ["log-flood", /quota exceeded: .*limits\.recorded_bytes = 4194304/, {}],
    [
      "log-flood",
      /quota exceeded: .*limits\.recorded_bytes = 4194304/,
      { limits: { handle_timeout_ms: 20000 } },
    ],
    ["random-flood", /quota exceeded: .*limits\.recorded_bytes = 4194304/, {}],
    ["table-bomb", /trap: .*unreachable/, { limits: { memory_mb: 16 } }],
    ["busy", /trap: timed out after 1000 ms/, {}],
  ] as const
) {
  Deno.test(`contained: ${kind} ${JSON.stringify(extra)} is cut off by ${pattern.source}`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, kind, { extra });
      const r = await provoke(s);
      await assertContained(s, r);
      assert.match(String(hostileAnswer(r)?.error), pattern);
      const bytes = (await Deno.stat(join(dir, "chains", "root.hostile.jsonl")))
        .size;
      assert.ok(bytes < 16 * 2 ** 20, `hostile chain is ${bytes} bytes`);
    });
  });
}

Deno.test("contained: a start function that spins is cut off at the call's time limit", async () => {
  await withTempDir(async (dir) => {
    const s = await scene(dir, "start-spin", {
      extra: { supervision: { restart: "temporary" } },
    });
    const r = await provoke(s);
    await assertFailedStart(s, r, /init failed: trap: timed out after 1000 ms/);
    const events = await eventsOf(dir, "root.hostile");
    const error = events.find((e) => e.type === "handle.error");
    assert.equal(error?.data.phase, "init");
    assert.equal(error?.data.error, "trap: timed out after 1000 ms");
  });
});

Deno.test("contained: a timed-out call keeps what the guest saw, and replays to the same head", async () => {
  await withTempDir(async (dir) => {
    const s = await scene(dir, "call-then-spin");
    const r = await provoke(s);
    await assertContained(s, r);
    assert.equal(hostileAnswer(r)?.error, "trap: timed out after 1000 ms");
    const events = await eventsOf(dir, "root.hostile");
    const at = events.findIndex((e) => e.type === "message.in");
    assert.deepEqual(events.slice(at).map((e) => e.type), [
      "message.in",
      "host.calls",
      "handle.error",
      "actor.stop",
      "actor.start",
      "actor.stop",
    ]);
    assert.deepEqual(hostCallsOf(events[at + 1]).map((c) => c.function), [
      "log",
      "self-id",
    ]);
    const replay = await runCli([
      "replay",
      join(dir, "chains"),
      "--search",
      dir,
    ]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.equal(replay.stdout.match(/same head/g)?.length, 3, replay.stdout);
  });
});

Deno.test("contained: a component that is /dev/zero or a FIFO is refused, not read", async () => {
  await withTempDir(async (dir) => {
    const s = await scene(dir, "echo");
    await Deno.remove(join(dir, "echo.wasm"));
    await Deno.symlink("/dev/zero", join(dir, "echo.wasm"));
    const r = await runCli(["run", s.root], { stdin: "", timeoutMs: 30_000 });
    assert.equal(r.killed, false);
    assert.equal(r.code, 2, r.stderr);
    // A link out of the manifest's folder is refused before it is opened.
    assert.match(
      r.stderr,
      /"\.\/echo\.wasm" leads outside the manifest's directory through a symbolic link \(to \/dev\/zero\)/,
    );
    await Deno.remove(join(dir, "echo.wasm"));
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(dir, "echo.wasm")],
    }).output();
    if (fifo.success) {
      const r2 = await runCli(["run", s.root], {
        stdin: "",
        timeoutMs: 30_000,
      });
      assert.equal(r2.killed, false);
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, /echo\.wasm: is not a regular file/);
    }
  });
});

Deno.test("contained: actors that message themselves forever still stop at end of input", async () => {
  await withTempDir(async (dir) => {
    const s = await scene(dir, "self-ping");
    const r = await provoke(s, { timeoutMs: 60_000 });
    await assertContained(s, r);
    for (const actor of ["root", "root.hostile", "root.sib"]) {
      const events = await eventsOf(dir, actor);
      assert.equal(events.at(-1)?.type, "actor.stop", actor);
    }
  });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`contained: ${signal} stops a self-messaging run and records actor.stop`, async () => {
    await withTempDir(async (dir) => {
      const s = await scene(dir, "self-ping");
      const r = await runCli(["run", s.root], {
        stdin: to("root.hostile", "go") + to("root.sib", "after"),
        holdStdin: true,
        signal,
        // Once both answered and the hostile actor has pinged itself 20
        // times: it is messaging itself, with no end in sight.
        signalWhen: async (run) => {
          await run.stdout.until((l) => l.includes('"reply":"after"'), "after");
          const chain = join(dir, "chains", "root.hostile.jsonl");
          let pings = 0;
          await waitFor("20 pings in root.hostile's chain", async () => {
            pings = (await chainEvents(chain)).filter((e) =>
              e.type === "message.in" && e.data.msg === "ping"
            ).length;
            return pings >= 20;
          }, {
            seen: () =>
              `${pings} pings`,
            ended: run.status,
          });
        },
        timeoutMs: 60_000,
      });
      assert.ok(r.signalled, r.signalError ?? r.stderr);
      assert.equal(r.killed, false, r.stderr);
      assert.equal(r.code, 0, r.stderr);
      const report = await verifyPath(join(dir, "chains"));
      assert.equal(report.ok, true, report.error?.message);
      for (const actor of ["root", "root.hostile", "root.sib"]) {
        const events = await eventsOf(dir, actor);
        assert.equal(events.at(-1)?.type, "actor.stop", actor);
        assert.equal(events.at(-1)?.data.reason, "run stopped: interrupted");
      }
    });
  });
}

Deno.test("contained: messages run ahead for a spinning actor do not hold up a sibling", async () => {
  await withTempDir(async (dir) => {
    await buildHostile("busy", dir);
    await buildHostile("echo", dir);
    const manifest = (name: string) =>
      validateManifest({
        name,
        component: `./${name}.wasm`,
        chain: { fsync: "none" },
        limits: { handle_timeout_ms: 1000 },
      }, { path: join(dir, `${name}.json`) });
    const pool = new WorkerPool({ size: 2 });
    const batches: number[] = [];
    const callMany = pool.callMany.bind(pool);
    pool.callMany = (actor, calls) => {
      if (actor === "busy") batches.push(calls.length);
      return callMany(actor, calls);
    };
    const system = new ActorSystem({
      executor: pool,
      chainDir: join(dir, "chains"),
    });
    try {
      await system.start(manifest("busy"));
      await system.start(manifest("echo"), { id: "echo" });
      // Four messages wait for the spinning actor: they run ahead together.
      let timedOut = 0;
      const spinning = Array.from(
        { length: 4 },
        () =>
          system.send("busy", "spin").then((r) => {
            timedOut++;
            return r;
          }),
      );
      await waitFor(
        "the spinner's first call at a worker",
        () => batches.length > 0,
      );
      // An ordering, not a latency: the sibling's answer comes before the
      // spinner's first time-out. A sibling queued behind the spinner
      // would answer only after it.
      const d = await system.send("echo", "hi");
      assert.equal(d.ok, true);
      assert.equal(
        timedOut,
        0,
        "a spinner timed out before the sibling answered",
      );
      for (const r of await Promise.all(spinning)) {
        assert.equal(r.ok, false);
        assert.match(r.error!, /timed out after 1000 ms/);
      }
      assert.ok(batches.some((n) => n > 1), `batches ${batches}`);
    } finally {
      await system.shutdown("test over");
      pool.close();
    }
    assert.equal((await verifyPath(join(dir, "chains"))).ok, true);
  });
});
