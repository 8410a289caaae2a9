// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  runCli,
  withTempDir,
} from "./_helpers.ts";

/** A TypeScript actor that logs every message with who sent it. */
const ACTOR = `import { defineActor } from "./theater_sdk.ts";

interface State {
  log: string[];
  tick?: string;
}

export default defineActor<State, unknown, unknown>({
  init: () => ({ log: [] }),
  handle(state, msg, host) {
    if (msg === "log") return { state, reply: state.log };
    if (msg === "flood-tick") return { state };
    if (msg === "flood") {
      for (let i = 0; i < 100; i++) host.every(10, "flood-tick");
      return { state, reply: "flooding" };
    }
    const log = [
      ...state.log,
      host.sender().split(":")[0] + ":" + JSON.stringify(msg),
    ];
    if (msg === "start") {
      host.after(350, "two");
      host.after(150, "one");
      const tick = host.every(100, "tick");
      return { state: { log, tick }, reply: "started" };
    }
    if (msg === "late") return { state: { ...state, log } };
    if (msg === "start-late") {
      host.after(1200, "late");
      return { state: { ...state, log }, reply: "set" };
    }
    if (msg === "tick" && log.filter((l) => l === 'timer:"tick"').length === 2) {
      host.cancel(state.tick!);
    }
    return { state: { ...state, log } };
  },
});
`;

async function project(dir: string): Promise<string> {
  assert.equal((await runCli(["new", "clock"], { cwd: dir })).code, 0);
  const root = join(dir, "clock");
  await Deno.writeTextFile(join(root, "actor.ts"), ACTOR);
  const build = await runCli(["build", root], { flags: BUILD_FLAGS });
  assert.equal(build.code, 0, build.stderr);
  return root;
}

function lines(stdout: string): { reply?: unknown }[] {
  return stdout.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("timers: after and every fire in order, from timer:<id>, cancel stops them; recorded and replayed", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const r = await runCli(["run", join(root, "manifest.json"), "--quiet"], {
      stdin: async (write) => {
        await write('"start"\n');
        await new Promise((r) => setTimeout(r, 900));
        await write('"log"\n');
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out[0].reply, "started");
    assert.deepEqual(out[1].reply, [
      'external:"start"',
      'timer:"tick"',
      'timer:"one"',
      'timer:"tick"',
      'timer:"two"',
    ]);
    const chains = join(root, "chains");
    const events = await chainEvents(join(chains, "clock.jsonl"));
    const fired = events.filter((e) =>
      e.type === "message.in" && String(e.data.from).startsWith("timer:t-")
    );
    assert.equal(fired.length, 4);
    await assertVerifiesAndReplays(chains);
  });
});

Deno.test("timers: a pending timer survives the end of a run and fires in the resumed one", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const manifest = join(root, "manifest.json");
    const first = await runCli([
      "run",
      manifest,
      "--send",
      '"start-late"',
      "--quiet",
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli(["run", manifest, "--quiet"], {
      stdin: async (write) => {
        await new Promise((r) => setTimeout(r, 2500));
        await write('"log"\n');
      },
      timeoutMs: 30_000,
    });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(lines(second.stdout)[0].reply, [
      'external:"start-late"',
      'timer:"late"',
    ]);
    const chains = join(root, "chains");
    await assertVerifiesAndReplays(chains);
  });
});

Deno.test("timers: past limits.timers pending, setting one is an error the handler sees", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const manifest = join(root, "manifest.json");
    const m = JSON.parse(await Deno.readTextFile(manifest));
    m.limits = { ...m.limits, timers: 1 };
    await Deno.writeTextFile(manifest, JSON.stringify(m));
    const r = await runCli(["run", manifest, "--send", '"start"', "--quiet"]);
    assert.equal(r.code, 0, r.stderr);
    const [answer] = lines(r.stdout) as { error?: string }[];
    assert.match(
      answer.error!,
      /quota exceeded: more than 1 pending timers \(limits\.timers\)/,
    );
    // The failed handler set nothing: no timer fired, nothing pending.
    const events = await chainEvents(join(root, "chains", "clock.jsonl"));
    assert.equal(
      events.filter((e) => String(e.data.from ?? "").startsWith("timer:"))
        .length,
      0,
    );
  });
});

Deno.test("timers: 100 timers every 10 ms into a small mailbox: drops said once per timer, the run stops on time, the chain verifies", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const manifest = join(root, "manifest.json");
    const m = JSON.parse(await Deno.readTextFile(manifest));
    m.limits = { ...m.limits, mailbox: 20 };
    await Deno.writeTextFile(manifest, JSON.stringify(m));
    const r = await runCli(["run", manifest], {
      stdin: async (write) => {
        await write('"flood"\n');
        await new Promise((r) => setTimeout(r, 1500));
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.equal(r.killed, false);
    // At most one line per timer while it runs, and at most one per
    // message still in the mailbox (20) when the run stops.
    const lines = r.stderr.split("\n");
    const timerLines = lines.filter((l) =>
      /timer t-[0-9a-f]+ of clock/.test(l)
    );
    const stopLines = lines.filter((l) => l.includes("the run is stopping"));
    assert.ok(timerLines.length <= 100, `${timerLines.length} timer lines`);
    assert.ok(stopLines.length <= 20, `${stopLines.length} stop lines`);
    await assertVerifiesAndReplays(join(root, "chains"));
  });
});

Deno.test("new --template clock: timers, a request and its response, out of the box", async () => {
  await withTempDir(async (dir) => {
    const made = await runCli(["new", "tick", "--template", "clock"], {
      cwd: dir,
    });
    assert.equal(made.code, 0, made.stderr);
    const root = join(dir, "tick");
    const build = await runCli(["build", root], { flags: BUILD_FLAGS });
    assert.equal(build.code, 0, build.stderr);
    const r = await runCli(["run", join(root, "manifest.json"), "--quiet"], {
      stdin: async (write) => {
        await write('"start"\n');
        await new Promise((r) => setTimeout(r, 700));
        await write('"status"\n"stop"\n');
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const [started, status, stopped] = lines(r.stdout);
    assert.equal(started.reply, "started");
    assert.equal(stopped.reply, "stopped");
    const s = status.reply as {
      ticks: number;
      answer: { from: string; reply: unknown };
    };
    assert.ok(s.ticks >= 3, `${s.ticks} ticks`);
    assert.equal(s.answer.from, "tick");
    assert.equal(typeof s.answer.reply, "number");
    await assertVerifiesAndReplays(join(root, "chains"));
  });
});

Deno.test("timers: a timer pending when the run is killed (kill -9) fires in the next run", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const manifest = join(root, "manifest.json");
    const killed = await runCli(["run", manifest, "--quiet"], {
      stdin: '"start-late"\n',
      holdStdin: true,
      signal: "SIGKILL",
      signalAfterMs: 800,
      timeoutMs: 30_000,
    });
    assert.deepEqual(lines(killed.stdout)[0].reply, "set");
    const second = await runCli(["run", manifest, "--quiet"], {
      stdin: async (write) => {
        await new Promise((r) => setTimeout(r, 2500));
        await write('"log"\n');
      },
      timeoutMs: 30_000,
    });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(lines(second.stdout)[0].reply, [
      'external:"start-late"',
      'timer:"late"',
    ]);
    await assertVerifiesAndReplays(join(root, "chains"));
  });
});
