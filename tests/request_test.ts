// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  runCli,
  waitFor,
  withTempDir,
} from "./_helpers.ts";

/** An actor that asks itself things and logs the responses it gets. */
const ACTOR = `import { ActorError, defineActor } from "./theater_sdk.ts";

interface State {
  log: unknown[];
}

export default defineActor<State, unknown, unknown>({
  init: () => ({ log: [] }),
  handle(state, msg, host) {
    if (msg === "log") return { state, reply: state.log };
    if (msg === "ask") {
      return { state, reply: host.request(host.selfId(), "ping", 5000) };
    }
    if (msg === "ask-bad") {
      return { state, reply: host.request(host.selfId(), "boom", 5000) };
    }
    if (msg === "ask-slow") {
      return { state, reply: host.request(host.selfId(), "spin", 50) };
    }
    if (msg === "ask-never") {
      return { state, reply: host.request(host.selfId(), "ping", 0) };
    }
    if (msg === "ping") return { state, reply: "pong" };
    if (msg === "boom") throw new ActorError("no");
    if (msg === "spin") {
      while (true) { /* cut off at the time limit */ }
    }
    if (typeof msg === "object" && msg !== null && "response" in msg) {
      const from = host.sender().split(":")[0];
      return { state: { log: [...state.log, [from, msg.response]] } };
    }
    return { state };
  },
});
`;

async function project(dir: string, limits: Record<string, number>) {
  assert.equal((await runCli(["new", "demo"], { cwd: dir })).code, 0);
  const root = join(dir, "demo");
  await Deno.writeTextFile(join(root, "actor.ts"), ACTOR);
  const manifest = join(root, "manifest.json");
  const m = JSON.parse(await Deno.readTextFile(manifest));
  m.limits = { ...m.limits, ...limits };
  await Deno.writeTextFile(manifest, JSON.stringify(m));
  const build = await runCli(["build", root], { flags: BUILD_FLAGS });
  assert.equal(build.code, 0, build.stderr);
  return { root, manifest };
}

Deno.test("request/response: the reply comes back as a message with the id; a failure and a timeout come back as errors; recorded, linked, replayed", async () => {
  await withTempDir(async (dir) => {
    const { root, manifest } = await project(dir, { handle_timeout_ms: 300 });
    const r = await runCli(["run", manifest, "--quiet"], {
      stdin: async (write, { status }) => {
        await write('"ask"\n"ask-bad"\n"ask-slow"\n');
        // "log" once the three responses have come back as messages: it
        // is handled after them.
        const chain = join(root, "chains", "demo.jsonl");
        let responses = 0;
        await waitFor("three responses in demo's chain", async () => {
          responses = (await chainEvents(chain)).filter((e) =>
            e.type === "message.in" && typeof e.data.msg === "object" &&
            e.data.msg !== null && "response" in e.data.msg
          ).length;
          return responses >= 3;
        }, {
          seen: () =>
            `${responses} responses`,
          ended: status,
        });
        await write('"log"\n');
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const [ask, bad, slow] = out.slice(0, 3).map((l) => l.reply as string);
    for (const id of [ask, bad, slow]) assert.match(id, /^rq-[0-9a-f]{12}$/);
    const log = out[3].reply as [string, Record<string, unknown>][];
    assert.deepEqual(
      log.find(([, r]) => r.id === ask),
      ["demo", { id: ask, from: "demo", reply: "pong" }],
    );
    assert.deepEqual(
      log.find(([, r]) => r.id === bad),
      ["request", { id: bad, error: "demo: no" }],
    );
    assert.deepEqual(
      log.find(([, r]) => r.id === slow),
      ["request", { id: slow, error: "no response in 50 ms" }],
    );
    assert.equal(log.length, 3, JSON.stringify(log));
    // The response is a message.out of the callee's step, and the
    // requester's message.in links to it.
    const chains = join(root, "chains");
    const events = await chainEvents(join(chains, "demo.jsonl"));
    const out2 = events.find((e) =>
      e.type === "message.out" &&
      (e.data.msg as { response?: { id?: string } }).response?.id === ask
    )!;
    const back = events.find((e) =>
      e.type === "message.in" &&
      (e.data.link as { hash?: string } | null)?.hash === out2.hash
    );
    assert.ok(back, "the response's message.in links to its message.out");
    await assertVerifiesAndReplays(chains);
  });
});

Deno.test("request/response: a bad timeout or past limits.requests waiting, a request is an error the handler sees", async () => {
  await withTempDir(async (dir) => {
    const { manifest } = await project(dir, { requests: 0 });
    const r = await runCli([
      "run",
      manifest,
      "--send",
      '"ask"',
      "--send",
      '"ask-never"',
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [answer, never] = r.stdout.trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.match(
      answer.error,
      /quota exceeded: more than 0 requests waiting \(limits\.requests\)/,
    );
    // A timeout of 0 ms is refused by name, before any quota.
    assert.match(never.error, /timeout-ms must be 1 to 2147483647, got 0/);
  });
});
