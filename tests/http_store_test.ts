// Copyright the Theater authors. MIT license.
// The content store and HTTP under a grant (WIT 0.2.0), end to end: a
// TypeScript actor built with `theater build`, an origin served by this
// test on 127.0.0.1, every outcome recorded, and the run replayed after
// the origin is gone.
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../chain/mod.ts";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  jsonLines,
  runCli,
  THEATER_FLAGS,
  waitFor,
  withTempDir,
} from "./_helpers.ts";

const NET_FLAGS = [...THEATER_FLAGS, "--allow-net"];
const SECRET = "s3cr3t-api-key-4f9d2c";

/** Fetches what it is told to and reports what came back; puts and gets blobs. */
const ACTOR = `import { ActorError, defineActor } from "./theater_sdk.ts";

type Msg = {
  fetch?: string;
  method?: string;
  body?: string;
  put?: string;
  times?: number;
  get?: string;
};

export default defineActor<{ n: number }, Msg, unknown>({
  init: () => ({ n: 0 }),
  handle(state, msg, host) {
    const next = { n: state.n + 1 };
    if (msg.put !== undefined) {
      return { state: next, reply: host.put(msg.put.repeat(msg.times ?? 1)) };
    }
    if (msg.get !== undefined) return { state: next, reply: host.getText(msg.get) };
    try {
      const r = host.fetch(msg.fetch!, { method: msg.method, body: msg.body });
      return {
        state: next,
        reply: { status: r.status, body: r.text(), echo: r.headers["x-echo"] ?? null },
      };
    } catch (e) {
      if (e instanceof ActorError) return { state: next, reply: { error: e.message } };
      throw e;
    }
  },
});
`;

/** An origin the test serves, counting the requests to each path. */
interface Origin {
  addr: Deno.NetAddr;
  /** Requests that arrived, by path. */
  hits: Map<string, number>;
  /** Answers what is held and stops the server. */
  shutdown(): Promise<void>;
}

/** An origin with the paths the test needs; closed by the caller. */
function serveOrigin(): Origin {
  const hits = new Map<string, number>();
  // "/slow" answers only when the origin is shut down: later than any
  // grant's time-out, whatever the machine's speed.
  const held = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      switch (url.pathname) {
        case "/doc":
          return Response.json({ items: [1, 2, 3] });
        case "/echo":
          // A careless server that echoes the credential back, in the body
          // and in a header.
          return new Response(`auth=${req.headers.get("authorization")}`, {
            headers: { "x-echo": req.headers.get("authorization") ?? "" },
          });
        case "/post":
          return new Response(`got ${req.method} ${await req.text()}`);
        case "/hop":
          return Response.redirect(new URL("/doc", url), 302);
        case "/away":
          return Response.redirect("http://127.0.0.1:9/elsewhere", 302);
        case "/big":
          return new Response("x".repeat(5000));
        case "/slow":
          await new Promise<void>((r) => held.add(r));
          return new Response("late");
        default:
          return new Response("not here", { status: 404 });
      }
    },
  );
  return {
    addr: server.addr,
    hits,
    shutdown() {
      for (const answer of held) answer();
      held.clear();
      return server.shutdown();
    },
  };
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function project(dir: string, grants: unknown): Promise<string> {
  assert.equal((await runCli(["new", "net"], { cwd: dir })).code, 0);
  const root = join(dir, "net");
  await Deno.writeTextFile(join(root, "actor.ts"), ACTOR);
  const manifest = JSON.parse(
    await Deno.readTextFile(join(root, "manifest.json")),
  );
  manifest.grants = grants;
  manifest.limits = { ...manifest.limits, handle_timeout_ms: 5000 };
  await Deno.writeTextFile(
    join(root, "manifest.json"),
    JSON.stringify(manifest, null, 2),
  );
  const build = await runCli(["build", root], { flags: BUILD_FLAGS });
  assert.equal(build.code, 0, build.stderr);
  return root;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...await filesUnder(path));
    else out.push(path);
  }
  return out;
}

Deno.test("http: every outcome is recorded, the secret never written, and the run replays without the network", async () => {
  const server = serveOrigin();
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const down = `http://127.0.0.1:${closedPort()}`;
  try {
    await withTempDir(async (dir) => {
      const root = await project(dir, {
        http: {
          origins: [origin, down],
          methods: ["GET", "POST"],
          max_response_bytes: 4096,
          max_request_bytes: 64,
          timeout_ms: 500,
          secret_headers: [{
            header: "Authorization",
            env: "TEST_API_KEY",
            prefix: "Bearer ",
          }],
        },
      });
      const lines = [
        { fetch: `${origin}/doc` },
        { fetch: `${origin}/hop` },
        { fetch: `${origin}/echo` },
        { fetch: `${origin}/post`, method: "POST", body: "hello" },
        { fetch: `${origin}/post`, method: "DELETE" },
        { fetch: `${origin}/post`, method: "POST", body: "x".repeat(100) },
        { fetch: "http://127.0.0.1:9/doc" },
        { fetch: `${origin}/away` },
        { fetch: `${origin}/big` },
        { fetch: `${down}/doc` },
        { fetch: `${origin}/slow` },
        { fetch: `${origin}/missing` },
      ];
      const run = await runCli(["run", join(root, "manifest.json")], {
        flags: NET_FLAGS,
        stdin: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
        env: { TEST_API_KEY: SECRET },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`network: .*127\\.0\\.0\\.1:${server.addr.port}.* only`),
      );
      const replies = jsonLines(run.stdout).map((r) =>
        r.reply as Record<string, unknown>
      );
      assert.deepEqual(replies[0], {
        status: 200,
        body: '{"items":[1,2,3]}',
        echo: null,
      });
      // A redirect within the grant is followed.
      assert.deepEqual(replies[1], replies[0]);
      // The host added the header; the actor sees it nowhere, even echoed.
      assert.equal(replies[2].body, "auth=Bearer [secret]");
      assert.equal(replies[2].echo, "Bearer [secret]");
      assert.equal(replies[3].body, "got POST hello");
      assert.match(String(replies[4].error), /method DELETE is not granted/);
      assert.match(
        String(replies[5].error),
        /request body of 100 bytes is over the grant's 64/,
      );
      assert.match(
        String(replies[6].error),
        /origin http:\/\/127\.0\.0\.1:9 is not granted/,
      );
      assert.match(
        String(replies[7].error),
        /redirect to http:\/\/127\.0\.0\.1:9\/elsewhere refused/,
      );
      assert.match(
        String(replies[8].error),
        /response body over the grant's 4096 bytes/,
      );
      assert.match(String(replies[9].error), /cannot reach/);
      assert.match(String(replies[10].error), /timed out after 500 ms/);
      assert.equal(replies[11].status, 404);

      const chains = join(root, "chains");
      const events = await chainEvents(join(chains, "net.jsonl"));
      const fetches = events.filter((e) =>
        e.type === "host.call" && e.data.function === "fetch"
      );
      assert.equal(fetches.length, lines.length);
      // The request and the full response are in the chain.
      const first = fetches[0].data as Record<string, Record<string, unknown>>;
      assert.equal(first.args[0 as unknown as string] !== undefined, true);
      assert.equal(
        atob(String((first.result.ok as Record<string, unknown>).body)),
        '{"items":[1,2,3]}',
      );
      // That the header was set is recorded, with a keyed hash: no value.
      const echo = fetches[2].data.result as {
        ok: { secrets: { header: string; hmac: string }[] };
      };
      assert.deepEqual(echo.ok.secrets.map((s) => s.header), ["authorization"]);
      assert.match(echo.ok.secrets[0].hmac, /^[0-9a-f]{64}$/);
      for (const file of await filesUnder(chains)) {
        const bytes = await Deno.readFile(file);
        const text = new TextDecoder("latin1").decode(bytes);
        assert.ok(
          !text.includes(SECRET) && !text.includes(btoa(SECRET)),
          `${file} holds the secret`,
        );
      }
      await server.shutdown();
      // Replay feeds the recorded responses: the origin is gone, and the
      // replay has no network permission at all.
      await assertVerifiesAndReplays(chains);
    });
  } finally {
    await server.shutdown().catch(() => {});
  }
});

Deno.test("store: put and get round trip, recorded by hash and size; verify <dir> reports a missing or altered blob", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir, {
      http: { origins: ["http://127.0.0.1:9"] },
    });
    const big = "blob ".repeat(10_000);
    const put = await runCli(["run", join(root, "manifest.json")], {
      flags: NET_FLAGS,
      stdin: JSON.stringify({ put: "blob ", times: 10_000 }) + "\n",
    });
    assert.equal(put.code, 0, put.stderr);
    const hash = String(jsonLines(put.stdout)[0].reply);
    // The chain has the blob's hash and size, never its bytes.
    const chain = join(root, "chains", "net.jsonl");
    assert.ok(!(await Deno.readTextFile(chain)).includes("blob blob"));
    assert.match(hash, /^[0-9a-f]{64}$/);
    // A second run (resumed) reads it back, and so does its own put.
    const get = await runCli(["run", join(root, "manifest.json")], {
      flags: NET_FLAGS,
      stdin: [{ get: hash }, { get: "0".repeat(64) }, { put: "small" }]
        .map((l) => JSON.stringify(l)).join("\n") + "\n",
    });
    assert.equal(get.code, 0, get.stderr);
    const replies = jsonLines(get.stdout).map((r) => r.reply);
    assert.equal(replies[0], big);
    assert.equal(replies[1], null);
    const chains = join(root, "chains");
    const calls = (await chainEvents(join(chains, "net.jsonl"))).filter((e) =>
      e.type === "host.call" && e.data.interface === "theater:actor/store"
    );
    assert.deepEqual(calls[0].data.args, [{ sha256: hash, size: big.length }]);
    assert.deepEqual(calls[1].data.result, { size: big.length });
    await assertVerifiesAndReplays(chains);
    const ok = await runCli(["verify", chains]);
    assert.match(ok.stdout, /2 blobs in store\//);

    const blob = join(chains, "store", hash);
    const bytes = await Deno.readFile(blob);
    await Deno.writeTextFile(blob, big.replace("blob", "blub"));
    const altered = await runCli(["verify", chains]);
    assert.equal(altered.code, 1);
    assert.match(
      altered.stderr,
      new RegExp(`blob ${hash} \\(event \\d+\\) does not match its hash`),
    );
    const replay = await runCli(["replay", join(chains, "net.jsonl")]);
    assert.equal(replay.code, 1);
    assert.match(replay.stdout + replay.stderr, /is not in the run's store/);
    await Deno.remove(blob);
    const missing = await runCli(["verify", chains]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /is missing from/);
    await Deno.writeFile(blob, bytes);
    assert.equal((await runCli(["verify", chains])).code, 0);
  });
});

Deno.test("store: killed (kill -9) in a storm of puts, the run resumes and every blob its chain names is there", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir, {
      http: { origins: ["http://127.0.0.1:9"] },
    });
    const manifest = join(root, "manifest.json");
    const killed = await runCli(["run", manifest, "--quiet"], {
      flags: NET_FLAGS,
      stdin: async (write) => {
        for (let i = 0; i < 2000; i++) {
          await write(
            JSON.stringify({ put: `blob-${i} `, times: 20_000 }) + "\n",
          );
        }
      },
      holdStdin: true,
      // Mid-storm: after the 20th acknowledged put.
      signal: "SIGKILL",
      signalWhen: { stdout: /^\{/, count: 20 },
      timeoutMs: 120_000,
    });
    assert.ok(killed.signalled, `not killed mid-storm: ${killed.stderr}`);
    assert.notEqual(killed.code, 0);
    const stored = jsonLines(killed.stdout).length;
    assert.ok(stored >= 20, `${stored} puts answered before the kill`);
    const resumed = await runCli(["run", manifest, "--quiet"], {
      flags: NET_FLAGS,
      stdin: "",
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    // Every answered put's blob is in the store, whole.
    for (const line of jsonLines(killed.stdout)) {
      const hash = String(line.reply);
      const bytes = await Deno.readFile(join(root, "chains", "store", hash));
      assert.equal(sha256Hex(bytes), hash);
    }
    await assertVerifiesAndReplays(join(root, "chains"));
  });
});

Deno.test("http: a component that imports http is refused without a grant, and a grant needs the network permission", async () => {
  await withTempDir(async (dir) => {
    const root = await project(dir, {
      http: { origins: ["http://127.0.0.1:9"] },
    });
    const manifest = JSON.parse(
      await Deno.readTextFile(join(root, "manifest.json")),
    );
    // The run needs the permission its grants name.
    const noNet = await runCli([
      "run",
      join(root, "manifest.json"),
      "--send",
      "{}",
    ]);
    assert.equal(noNet.code, 2, noNet.stderr);
    assert.match(
      noNet.stderr,
      /no network permission for 127\.0\.0\.1:9 \(run theater with --allow-net=127\.0\.0\.1:9/,
    );
    delete manifest.grants;
    await Deno.writeTextFile(
      join(root, "plain.json"),
      JSON.stringify(manifest),
    );
    const refused = await runCli([
      "run",
      join(root, "plain.json"),
      "--send",
      "{}",
    ], {
      flags: NET_FLAGS,
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /imports theater:actor\/http(@0\.2\.0)?, but .*plain\.json grants no HTTP/,
    );
    assert.match(refused.stderr, /network: none/);
    // A secret header whose variable is not set is refused at start.
    manifest.grants = {
      http: {
        origins: ["http://127.0.0.1:9"],
        secret_headers: [{ header: "x-key", env: "THEATER_TEST_UNSET_KEY" }],
      },
    };
    await Deno.writeTextFile(
      join(root, "unset.json"),
      JSON.stringify(manifest),
    );
    const unset = await runCli([
      "run",
      join(root, "unset.json"),
      "--send",
      "{}",
    ], {
      flags: NET_FLAGS,
    });
    assert.equal(unset.code, 2, unset.stderr);
    assert.match(
      unset.stderr,
      /field "grants\.http\.secret_headers\[0\]\.env": the environment variable THEATER_TEST_UNSET_KEY is not set/,
    );
    // A bad grant names its field.
    manifest.grants = { http: { origins: ["http://127.0.0.1:9/api"] } };
    await Deno.writeTextFile(join(root, "bad.json"), JSON.stringify(manifest));
    const bad = await runCli(["run", join(root, "bad.json")], {
      flags: NET_FLAGS,
    });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /field "grants\.http\.origins\[0\]": must be scheme:\/\/host\[:port\] only/,
    );
  });
});

Deno.test("new --template fetcher: HTTP under a grant, the store, a timer and a request, out of the box", async () => {
  const server = serveOrigin();
  const hits = server.hits;
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    await withTempDir(async (dir) => {
      const made = await runCli(["new", "poller", "--template", "fetcher"], {
        cwd: dir,
      });
      assert.equal(made.code, 0, made.stderr);
      const root = join(dir, "poller");
      const path = join(root, "manifest.json");
      const manifest = JSON.parse(await Deno.readTextFile(path));
      assert.deepEqual(manifest.grants.http.origins, ["http://127.0.0.1:8787"]);
      manifest.grants.http.origins = [origin];
      manifest.params.url = `${origin}/doc`;
      await Deno.writeTextFile(path, JSON.stringify(manifest));
      const build = await runCli(["build", root], { flags: BUILD_FLAGS });
      assert.equal(build.code, 0, build.stderr);
      assert.match(build.stdout + build.stderr, /http-actor-world/);
      const run = await runCli(["run", path], {
        flags: NET_FLAGS,
        stdin: async (write, { status }) => {
          await write('"start"\n"poll"\n');
          // The poll sent and one from the timer reached the origin.
          await waitFor(
            "two polls at the origin",
            () => hits.get("/doc")! >= 2,
            {
              seen: () => `${hits.get("/doc") ?? 0} requests to /doc`,
              ended: status,
            },
          );
          await write('"stop"\n"status"\n"body"\n');
        },
      });
      assert.equal(run.code, 0, run.stderr);
      const replies = jsonLines(run.stdout).map((l) => l.reply);
      // "poll" has no reply.
      assert.deepEqual(replies.slice(0, 3), ["started", null, "stopped"]);
      const status = replies[3] as { polls: number; last: { status: number } };
      // One poll sent, at least one from the timer.
      assert.ok(status.polls >= 2, JSON.stringify(status));
      assert.equal(status.last.status, 200);
      assert.equal(replies[4], '{"items":[1,2,3]}');
      await server.shutdown();
      await assertVerifiesAndReplays(join(root, "chains"));
    });
  } finally {
    await server.shutdown().catch(() => {});
  }
});
