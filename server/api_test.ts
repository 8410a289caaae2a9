// Copyright the Theater authors. MIT license.
// The management API, endpoint by endpoint, with every 4xx path, the
// token, the origin check, and SSE resume.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generateKeys,
  parseVerifierKey,
  type VerifierKey,
} from "../chain/mod.ts";
import { readSse, startServer, type TheaterServer } from "./mod.ts";

const COUNTER = new URL("../examples/counter/manifest.json", import.meta.url)
  .pathname;
const SUPERVISOR = new URL(
  "../examples/supervisor/manifest.json",
  import.meta.url,
).pathname;
const TOKEN = "ab".repeat(32);

async function withServer(
  fn: (s: TheaterServer, api: Api) => Promise<void>,
  options: { verifiers?: VerifierKey[] } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "theater_api_" });
  const server = await startServer({
    dir,
    token: TOKEN,
    port: 0,
    cacheDir: false,
    verifiers: options.verifiers,
  });
  try {
    await fn(server, api(server.url));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

type Api = (
  path: string,
  init?: { method?: string; body?: unknown; headers?: Record<string, string> },
) => Promise<{ status: number; body: Record<string, unknown> }>;

function api(base: string): Api {
  return async (path, init = {}) => {
    const res = await fetch(base + path, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...init.headers,
      },
      body: init.body === undefined
        ? undefined
        : typeof init.body === "string"
        ? init.body
        : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {} };
  };
}

type SseEvent = { id: string; event: string; data: Record<string, unknown> };

/**
 * Opens an SSE stream; resolves once its headers came (the server has
 * subscribed by then), with a reader of its first `count` events.
 */
async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ take(count: number): Promise<SseEvent[]> }> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  return {
    async take(count) {
      const out: SseEvent[] = [];
      // A hang bound: the events that did come are what the test sees.
      const timer = setTimeout(() => abort.abort(), 10_000);
      try {
        for await (const m of readSse(res.body!)) {
          out.push({ id: m.id, event: m.event, data: JSON.parse(m.data) });
          if (out.length === count) {
            abort.abort();
            return out;
          }
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
      return out;
    },
  };
}

/** Reads SSE events until `count` have come; returns their ids and data. */
async function sse(
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<SseEvent[]> {
  return await (await openSse(url, headers)).take(count);
}

Deno.test("api: every call needs the token; another origin is refused; the OpenAPI document is served", async () => {
  await withServer(async (s, call) => {
    const none = await fetch(`${s.url}/api/runs`);
    assert.equal(none.status, 401);
    assert.match((await none.json()).error, /Authorization: Bearer/);
    const wrong = await call("/api/runs", {
      headers: { authorization: `Bearer ${"cd".repeat(32)}` },
    });
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.body.error), /token is wrong/);
    const origin = await call("/api/runs", {
      headers: { origin: "http://evil.example" },
    });
    assert.equal(origin.status, 403);
    const own = await call("/api/runs", { headers: { origin: s.url } });
    assert.equal(own.status, 200);
    const doc = await call("/api/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, "3.1.0");
    const paths = Object.keys(doc.body.paths as object);
    for (
      const p of [
        "/api/runs",
        "/api/runs/{run}",
        "/api/runs/{run}/actors/{actor}/send",
        "/api/runs/{run}/actors/{actor}/request",
        "/api/runs/{run}/actors/{actor}/stop",
        "/api/runs/{run}/actors/{actor}/restart",
        "/api/runs/{run}/actors/{actor}/chain",
        "/api/runs/{run}/actors/{actor}/state",
        "/api/runs/{run}/verify",
        "/api/runs/{run}/actors/{actor}/verify",
        "/api/runs/{run}/actors/{actor}/replay",
        "/api/runs/{run}/events",
        "/api/runs/{run}/actors/{actor}/events",
      ]
    ) assert.ok(paths.includes(p), p);
    const missing = await call("/api/nothing");
    assert.equal(missing.status, 404);
  });
});

Deno.test("api: start, list, request, send, chain, state and diff, verify, replay, stop", async () => {
  await withServer(async (_s, call) => {
    const started = await call("/api/runs", {
      method: "POST",
      body: { manifest: COUNTER, id: "c1" },
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    assert.equal(started.body.status, "running");
    const again = await call("/api/runs", {
      method: "POST",
      body: { manifest: COUNTER, id: "c1" },
    });
    assert.equal(again.status, 409);
    const list = await call("/api/runs");
    assert.deepEqual(
      (list.body.runs as { id: string }[]).map((r) => r.id),
      ["c1"],
    );
    const reply = await call("/api/runs/c1/actors/counter/request", {
      method: "POST",
      body: { msg: "inc" },
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.reply, { count: 1 });
    const accepted = await call("/api/runs/c1/actors/counter/send", {
      method: "POST",
      body: { msg: { op: "add", n: 41 } },
    });
    assert.equal(accepted.status, 202);
    const get = await call("/api/runs/c1/actors/counter/request", {
      method: "POST",
      body: { msg: "get" },
    });
    assert.deepEqual(get.body.reply, { count: 42 });
    const info = await call("/api/runs/c1");
    const actors = info.body.actors as { id: string; events: number }[];
    assert.equal(actors[0].id, "counter");
    const chain = await call("/api/runs/c1/actors/counter/chain?from=2&to=4");
    const events = chain.body.events as { seq: number; type: string }[];
    assert.deepEqual(events.map((e) => e.seq), [2, 3, 4]);
    assert.equal(events[0].type, "message.in");
    const all = (await call("/api/runs/c1/actors/counter/chain")).body
      .events as { seq: number; type: string }[];
    const okAt = all.filter((e) => e.type.startsWith("handle.")).map((e) =>
      e.seq
    );
    const state = await call(
      `/api/runs/c1/actors/counter/state?at=${okAt[1]}&from=${okAt[0]}`,
    );
    assert.equal((state.body.state as { count: number }).count, 42);
    assert.equal((state.body.before as { count: number }).count, 1);
    assert.ok(
      (state.body.changes as string[]).some((c) =>
        c.startsWith("~ $.count: 1 -> 42")
      ),
      JSON.stringify(state.body.changes),
    );
    const verify = await call("/api/runs/c1/verify");
    assert.equal(verify.body.ok, true);
    const one = await call("/api/runs/c1/actors/counter/verify");
    assert.equal(one.body.ok, true);
    const stopped = await call("/api/runs/c1", { method: "DELETE" });
    assert.equal(stopped.body.status, "stopped");
    // A stopped run: read, verified and replayed, not driven.
    const replay = await call("/api/runs/c1/actors/counter/replay", {
      method: "POST",
    });
    assert.equal(replay.body.ok, true, JSON.stringify(replay.body));
    const dead = await call("/api/runs/c1/actors/counter/request", {
      method: "POST",
      body: { msg: "inc" },
    });
    assert.equal(dead.status, 409);
    assert.match(String(dead.body.error), /not running/);
    const last = (await call("/api/runs/c1/actors/counter/chain")).body
      .events as { type: string }[];
    assert.equal(last.at(-1)!.type, "actor.stop");
  });
});

Deno.test("api: bad requests are 4xx JSON errors naming the field, never a 500", async () => {
  await withServer(async (_s, call) => {
    await call("/api/runs", { method: "POST", body: { manifest: COUNTER } });
    const cases: [string, string, unknown, number, RegExp][] = [
      ["POST", "/api/runs", "{not json", 400, /the body/],
      ["POST", "/api/runs", {}, 400, /field "manifest"/],
      [
        "POST",
        "/api/runs",
        { manifest: COUNTER, extra: 1 },
        400,
        /field "extra": unknown field/,
      ],
      ["POST", "/api/runs", { manifest: "/nope.json" }, 400, /nope\.json/],
      ["POST", "/api/runs", { manifest: COUNTER, id: "../x" }, 400, /run id/],
      [
        "POST",
        "/api/runs",
        { manifest: COUNTER, id: "n", node: "b" },
        400,
        /field "node": this server is not in a cluster/,
      ],
      ["GET", "/api/cluster", undefined, 404, /not in a cluster/],
      ["GET", "/api/runs/nope", undefined, 404, /no run nope/],
      ["GET", "/api/runs/bad%20id", undefined, 400, /run id/],
      [
        "POST",
        "/api/runs/counter/actors/counter/request",
        {},
        400,
        /field "msg": is required/,
      ],
      [
        "POST",
        "/api/runs/counter/actors/counter/request",
        { msg: 1, timeout_ms: -1 },
        400,
        /field "timeout_ms"/,
      ],
      [
        "POST",
        "/api/runs/counter/actors/counter/send",
        '{"msg": 1e400}',
        400,
        /the body/,
      ],
      [
        "POST",
        "/api/runs/counter/actors/ghost/send",
        { msg: 1 },
        404,
        /no actor ghost/,
      ],
      [
        "POST",
        "/api/runs/counter/actors/ghost/restart",
        {},
        404,
        /no actor "ghost"/,
      ],
      [
        "GET",
        "/api/runs/counter/actors/ghost/chain",
        undefined,
        404,
        /no chain for actor ghost/,
      ],
      [
        "GET",
        "/api/runs/counter/actors/..%2Fx/chain",
        undefined,
        400,
        /actor id/,
      ],
      [
        "GET",
        "/api/runs/counter/actors/counter/chain?from=x",
        undefined,
        400,
        /query "from"/,
      ],
      [
        "GET",
        "/api/runs/counter/actors/counter/state",
        undefined,
        400,
        /query "at" is required/,
      ],
      [
        "GET",
        "/api/runs/counter/actors/counter/state?at=99999",
        undefined,
        404,
        /no event 99999/,
      ],
      ["GET", "/api/runs/counter/events", undefined, 200, /./],
    ];
    for (const [method, path, body, status, message] of cases) {
      if (path.endsWith("/events")) continue;
      const r = await call(path, { method, body });
      assert.equal(
        r.status,
        status,
        `${method} ${path}: ${JSON.stringify(r.body)}`,
      );
      assert.match(String(r.body.error), message, `${method} ${path}`);
    }
    const bad = await call("/api/runs/counter/events", {
      headers: { "last-event-id": "garbage" },
    });
    assert.equal(bad.status, 400);
    // A root whose init fails: 422 with why, and the run is not running.
    const broken = await Deno.makeTempDir();
    await Deno.copyFile(
      new URL("../examples/kv/kv.wasm", import.meta.url),
      join(broken, "kv.wasm"),
    );
    await Deno.writeTextFile(
      join(broken, "manifest.json"),
      JSON.stringify({ name: "kv", component: "./kv.wasm", params: 5 }),
    );
    const failed = await call("/api/runs", {
      method: "POST",
      body: { manifest: join(broken, "manifest.json"), id: "broken" },
    });
    assert.equal(failed.status, 422, JSON.stringify(failed.body));
    assert.match(
      String(failed.body.error),
      /kv failed to start: .*params must be null or an object/,
    );
    assert.equal((await call("/api/runs/broken")).body.status, "stopped");
    await Deno.remove(broken, { recursive: true });
    // A full mailbox is said at once: 429, never a silent drop.
    const small = await Deno.makeTempDir();
    await Deno.copyFile(
      new URL("../examples/counter/counter.wasm", import.meta.url),
      join(small, "counter.wasm"),
    );
    await Deno.writeTextFile(
      join(small, "manifest.json"),
      JSON.stringify({
        name: "counter",
        component: "./counter.wasm",
        chain: { fsync: "every-event" },
        limits: { mailbox: 2 },
      }),
    );
    assert.equal(
      (await call("/api/runs", {
        method: "POST",
        body: { manifest: join(small, "manifest.json"), id: "small" },
      })).status,
      201,
    );
    const flood = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          call("/api/runs/small/actors/counter/send", {
            method: "POST",
            body: { msg: "inc" },
          }),
      ),
    );
    const statuses = new Set(flood.map((r) => r.status));
    assert.deepEqual([...statuses].sort(), [202, 429]);
    assert.match(
      String(flood.find((r) => r.status === 429)!.body.error),
      /the mailbox of counter is full \(limits\.mailbox = 2\)/,
    );
    await Deno.remove(small, { recursive: true });
    const big = await call("/api/runs/counter/actors/counter/send", {
      method: "POST",
      body: JSON.stringify({ msg: "x".repeat(3 * 1024 * 1024) }),
    });
    assert.equal(big.status, 413);
  });
});

Deno.test("api: live events as SSE, resumed from Last-Event-ID, for an actor and a run", async () => {
  await withServer(async (s, call) => {
    await call("/api/runs", { method: "POST", body: { manifest: COUNTER } });
    // Recorded so far: start and init (seq 0, 1).
    const first = await sse(
      `${s.url}/api/runs/counter/actors/counter/events`,
      2,
    );
    assert.deepEqual(first.map((e) => e.id), ["counter:0", "counter:1"]);
    assert.equal(first[0].event, "actor.start");
    // Resume after seq 1, then a live message arrives.
    // Subscribed once the headers came: the message after that is live.
    const stream = await openSse(
      `${s.url}/api/runs/counter/actors/counter/events`,
      { "last-event-id": "counter:1" },
    );
    const live = stream.take(3);
    await call("/api/runs/counter/actors/counter/request", {
      method: "POST",
      body: { msg: "inc" },
    });
    const got = await live;
    assert.deepEqual(got.map((e) => e.id), [
      "counter:2",
      "counter:3",
      "counter:4",
    ]);
    assert.equal(got[0].event, "message.in");
    // A bare seq works for an actor's stream; the run's stream takes a list.
    const bare = await sse(
      `${s.url}/api/runs/counter/actors/counter/events?from=3`,
      1,
    );
    assert.equal(bare[0].id, "counter:4");
    const run = await sse(`${s.url}/api/runs/counter/events`, 1, {
      "last-event-id": "counter:3",
    });
    assert.equal(run[0].id, "counter:4");
    assert.equal(run[0].data.actor, "counter");
  });
});

Deno.test("api: a supervision tree: stop and restart a child, the tree and its status", async () => {
  await withServer(async (_s, call) => {
    const started = await call("/api/runs", {
      method: "POST",
      body: { manifest: SUPERVISOR, id: "tree" },
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const actors = started.body.actors as {
      id: string;
      parent: string | null;
    }[];
    const child = actors.find((a) => a.parent !== null)!;
    assert.ok(child, JSON.stringify(actors));
    const restarted = await call(
      `/api/runs/tree/actors/${child.id}/restart`,
      { method: "POST", body: { reason: "test" } },
    );
    assert.equal(restarted.status, 200);
    const after = (restarted.body.actors as { id: string; restarts: number }[])
      .find((a) => a.id === child.id)!;
    assert.equal(after.restarts, 1);
    const stopped = await call(`/api/runs/tree/actors/${child.id}/stop`, {
      method: "POST",
      body: {},
    });
    assert.equal(stopped.status, 200);
    assert.ok(
      !(stopped.body.actors as { id: string }[]).some((a) => a.id === child.id),
    );
    assert.deepEqual(
      (stopped.body.ended as { id: string }[]).find((e) => e.id === child.id),
      { id: child.id, status: "stopped", reason: "stopped through the API" },
    );
    const events = (await call(`/api/runs/tree/actors/${child.id}/chain`)).body
      .events as { type: string; data: { reason?: string } }[];
    assert.ok(
      events.some((e) => e.type === "actor.stop" && e.data.reason === "test"),
    );
    assert.equal(events.at(-1)!.type, "actor.stop");
    const tree = (await call("/api/runs/tree/verify")).body;
    assert.equal(tree.ok, true, JSON.stringify(tree.error));
  });
});

Deno.test("api: a tampered chain is reported by verify, and replay refuses it", async () => {
  await withServer(async (s, call) => {
    await call("/api/runs", { method: "POST", body: { manifest: COUNTER } });
    await call("/api/runs/counter/actors/counter/request", {
      method: "POST",
      body: { msg: "inc" },
    });
    await call("/api/runs/counter", { method: "DELETE" });
    const path = join(s.runs.dir, "counter", "counter.jsonl");
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace('"count":1', '"count":9'));
    const v = await call("/api/runs/counter/actors/counter/verify");
    assert.equal(v.body.ok, false);
    assert.equal((v.body.error as { reason: string }).reason, "bad-hash");
    const dir = await call("/api/runs/counter/verify");
    assert.equal(dir.body.ok, false);
    const replay = await call("/api/runs/counter/actors/counter/replay", {
      method: "POST",
    });
    assert.equal(replay.status, 422);
    assert.match(
      String(replay.body.error),
      /refusing to replay a chain that does not verify/,
    );
    // State reads refuse the altered chain too, never a 500.
    const state = await call("/api/runs/counter/actors/counter/state?at=5");
    assert.equal(state.status, 422, JSON.stringify(state.body));
  });
});

Deno.test("api: a chain's signed checkpoint is checked against the server's keys", async () => {
  const keys = await generateKeys("ops");
  const other = await generateKeys("other");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(
      new URL("../examples/counter/counter.wasm", import.meta.url),
      join(dir, "counter.wasm"),
    );
    await Deno.writeTextFile(join(dir, "ops.key"), keys.privateKey);
    await Deno.writeTextFile(
      join(dir, "manifest.json"),
      JSON.stringify({
        name: "counter",
        component: "./counter.wasm",
        chain: { checkpoint: { key: "./ops.key", every: 3 } },
      }),
    );
    const verifiers = [
      await parseVerifierKey(other.publicKey),
      await parseVerifierKey(keys.publicKey),
    ];
    await withServer(async (s, call) => {
      await call("/api/runs", {
        method: "POST",
        body: { manifest: join(dir, "manifest.json"), id: "signed" },
      });
      await call("/api/runs/signed/actors/counter/request", {
        method: "POST",
        body: { msg: "inc" },
      });
      await call("/api/runs/signed", { method: "DELETE" });
      const ok = await call("/api/runs/signed/actors/counter/verify");
      assert.equal(ok.body.ok, true);
      const cp = ok.body.checkpoint as { status: string; signer: string };
      assert.equal(cp.status, "ok", JSON.stringify(cp));
      assert.equal(cp.signer, "ops");
      // A checkpoint for a tree the chain does not hold is bad.
      const file = join(s.runs.dir, "signed", "counter.checkpoint");
      const text = await Deno.readTextFile(file);
      await Deno.writeTextFile(
        join(s.runs.dir, "signed", "counter.jsonl"),
        (await Deno.readTextFile(join(s.runs.dir, "signed", "counter.jsonl")))
          .split("\n").slice(0, 2).join("\n") + "\n",
      );
      const cut = await call("/api/runs/signed/actors/counter/verify");
      assert.equal((cut.body.checkpoint as { status: string }).status, "bad");
      await Deno.writeTextFile(file, text.replace(/— ops .*/, "— ops AAAA"));
      const forged = await call("/api/runs/signed/actors/counter/verify");
      assert.equal(
        (forged.body.checkpoint as { status: string }).status,
        "bad",
      );
    }, { verifiers });
    // Without keys the checkpoint is reported, not checked.
    await withServer(async (s, call) => {
      await Deno.mkdir(join(s.runs.dir, "r"), { recursive: true });
      await Deno.copyFile(
        new URL("../examples/counter/recorded/counter.jsonl", import.meta.url),
        join(s.runs.dir, "r", "counter.jsonl"),
      );
      await Deno.writeTextFile(
        join(s.runs.dir, "r", "counter.checkpoint"),
        "x",
      );
      const r = await call("/api/runs/r/actors/counter/verify");
      assert.equal(
        (r.body.checkpoint as { status: string }).status,
        "unchecked",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
