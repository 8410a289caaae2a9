// Copyright the Theater authors. MIT license.
// Timers end to end: `theater run` on the machine's clock, a TypeScript
// actor built with the SDK, and a run killed with kill -9. The timing
// logic itself (order, cancel, quotas, floods into a full mailbox, resume
// after a clean stop, request time-outs) is tested on a virtual clock in
// supervisor/timers_test.ts; here nothing waits a fixed time: each step
// waits for the event it needs in the chain or on stdout.
import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { join } from "node:path";
import type { ChainEvent } from "../chain/mod.ts";
import { waitFor } from "../tools/wait.ts";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  runCli,
  type RunningCli,
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

/** The built project, once for the file: each test runs a copy. */
let built: Promise<string> | null = null;

async function project(dir: string): Promise<string> {
  built ??= (async () => {
    const home = await Deno.makeTempDir({ prefix: "theater_timers_e2e_" });
    globalThis.addEventListener("unload", () => {
      Deno.removeSync(home, { recursive: true });
    });
    assert.equal((await runCli(["new", "clock"], { cwd: home })).code, 0);
    const root = join(home, "clock");
    await Deno.writeTextFile(join(root, "actor.ts"), ACTOR);
    const build = await runCli(["build", root], { flags: BUILD_FLAGS });
    assert.equal(build.code, 0, build.stderr);
    return root;
  })();
  const root = join(dir, "clock");
  cpSync(await built, root, { recursive: true });
  return root;
}

function lines(stdout: string): { reply?: unknown }[] {
  return stdout.trim().split("\n").map((l) => JSON.parse(l));
}

/**
 * Waits until the chain of `actor` holds a `message.in` that `match`
 * accepts, while `run` lasts; resolves with the chain's events.
 */
function chainShows(
  path: string,
  what: string,
  match: (events: ChainEvent[]) => boolean,
  run: RunningCli,
): Promise<ChainEvent[]> {
  let seen: ChainEvent[] = [];
  return waitFor(what, async () => {
    seen = await chainEvents(path);
    return match(seen) && seen;
  }, {
    ended: run.status,
    seen: () =>
      seen.filter((e) => e.type === "message.in").map((e) =>
        `${e.data.from} ${JSON.stringify(e.data.msg)}`
      ).join(", "),
  });
}

/** Whether `events` hold a message.in from a timer with message `msg`. */
function timerFired(events: ChainEvent[], msg: string): boolean {
  return events.some((e) =>
    e.type === "message.in" && String(e.data.from).startsWith("timer:") &&
    e.data.msg === msg
  );
}

Deno.test("timers: after and every fire on the machine's clock, from timer:<id>; recorded and replayed", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const chain = join(root, "chains", "clock.jsonl");
    const r = await runCli(["run", join(root, "manifest.json"), "--quiet"], {
      stdin: async (write, run) => {
        await write('"start"\n');
        await run.stdout.until((l) => l.includes('"started"'), "started");
        await chainShows(
          chain,
          'the timer "two" (350 ms) in the chain',
          (events) => timerFired(events, "two"),
          run,
        );
        await write('"log"\n');
      },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out[0].reply, "started");
    // Which ticks come between is the machine's: the order of one and
    // two, due 200 ms apart, and that there are ticks at all are not.
    const log = out[1].reply as string[];
    assert.equal(log[0], 'external:"start"');
    assert.ok(
      log.indexOf('timer:"one"') < log.indexOf('timer:"two"'),
      log.join(),
    );
    assert.ok(log.includes('timer:"tick"'), log.join());
    const events = await chainEvents(chain);
    const senders = new Set(
      events.filter((e) => e.type === "message.in" && e.data.msg === "tick")
        .map((e) => e.data.from),
    );
    assert.equal(senders.size, 1, "every tick from the one timer");
    assert.match(String([...senders][0]), /^timer:t-[0-9a-f]+$/);
    await assertVerifiesAndReplays(join(root, "chains"));
  });
});

Deno.test("timers: a timer pending when the run is killed (kill -9) fires in the next run", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir);
    const manifest = join(root, "manifest.json");
    const chain = join(root, "chains", "clock.jsonl");
    // Killed once the reply is out: the timer is on disk, no actor.stop.
    const killed = await runCli(["run", manifest, "--quiet"], {
      stdin: '"start-late"\n',
      holdStdin: true,
      signal: "SIGKILL",
      signalWhen: { stdout: /"set"/ },
      timeoutMs: 120_000,
    });
    assert.equal(killed.signalled, true, killed.signalError ?? killed.stderr);
    assert.deepEqual(lines(killed.stdout)[0].reply, "set");
    assert.notEqual((await chainEvents(chain)).at(-1)?.type, "actor.stop");
    const second = await runCli(["run", manifest, "--quiet"], {
      stdin: async (write, run) => {
        await chainShows(
          chain,
          'the timer "late" in the resumed chain',
          (events) => timerFired(events, "late"),
          run,
        );
        await write('"log"\n');
      },
      timeoutMs: 120_000,
    });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(lines(second.stdout)[0].reply, [
      'external:"start-late"',
      'timer:"late"',
    ]);
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
    const chain = join(root, "chains", "tick.jsonl");
    const r = await runCli(["run", join(root, "manifest.json"), "--quiet"], {
      stdin: async (write, run) => {
        await write('"start"\n');
        await chainShows(
          chain,
          "3 ticks and the answer to its request in the chain",
          (events) =>
            events.filter((e) =>
                e.type === "message.in" && e.data.msg === "tick"
              ).length >= 3 &&
            events.some((e) =>
              e.type === "message.in" && e.data.from === "tick" &&
              typeof e.data.msg === "object" && e.data.msg !== null &&
              "response" in e.data.msg
            ),
          run,
        );
        await write('"status"\n"stop"\n');
      },
      timeoutMs: 120_000,
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
