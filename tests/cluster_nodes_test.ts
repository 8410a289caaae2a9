// Copyright the Theater authors. MIT license.
// Three `theater serve --node` processes and a `theater witness --follow`
// process on one real nats-server: actors placed on nodes send and
// request across them, recorded and linked on both chains; kill -9 of a
// node in a stream of requests resumes its actor on another node with
// every acknowledged reply in the chain and nothing forked; the pulled
// run verifies, replays and carries the witness's cosignatures.
import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  natsServer,
  natsTest,
  runCli,
  serveProcess,
  THEATER_FLAGS,
  theaterCommand,
} from "./_helpers.ts";
import { waitFor } from "../tools/wait.ts";
import { checkOneWriter } from "../cluster/mod.ts";

const NET = [...THEATER_FLAGS, "--allow-net"];

/** Counts, forwards (`tell`) and asks (`ask`); logs responses it gets. */
const ACTOR = `import { defineActor } from "./theater_sdk.ts";

interface State {
  count: number;
  log: unknown[];
}

type Msg =
  | "inc"
  | "get"
  | { op: "tell"; to: string; msg: unknown }
  | { op: "ask"; to: string; msg: unknown }
  | { op: "flood"; to: string; n: number }
  | { response: unknown };

export default defineActor<State, Msg, unknown>({
  init: () => ({ count: 0, log: [] }),
  handle(state, msg, host) {
    if (msg === "inc") {
      const count = state.count + 1;
      return { state: { ...state, count }, reply: count };
    }
    if (msg === "get") return { state, reply: state };
    if (typeof msg === "object" && msg !== null && "response" in msg) {
      return { state: { ...state, log: [...state.log, msg.response] } };
    }
    if (msg.op === "tell") {
      host.send(msg.to, msg.msg as never);
      return { state, reply: "sent" };
    }
    if (msg.op === "flood") {
      for (let i = 0; i < msg.n; i++) host.send(msg.to, "inc" as never);
      return { state, reply: "flooded" };
    }
    return { state, reply: host.request(msg.to, msg.msg as never, 5000) };
  },
});
`;

/** Every message of a subject of the chain stream, as text. */
async function streamMessages(url: string, subject: string) {
  const nc = await connect({ servers: url.slice("nats://".length) });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("THEATER", {
      subjects_filter: subject,
    });
    const total = info.state.subjects?.[subject] ?? 0;
    const out: string[] = [];
    for (let seq = 1; out.length < total; seq++) {
      const m = await jsm.streams.getMessage("THEATER", { seq }).catch(
        () => null,
      );
      if (m?.subject === subject) out.push(m.string());
      if (seq > info.state.last_seq) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/**
 * Builds the actor and writes one manifest per name, all running it, with
 * the `limits` given for a name.
 */
async function relay(
  dir: string,
  names: string[],
  limits: Record<string, Record<string, number>> = {},
): Promise<string> {
  assert.equal((await runCli(["new", "relay"], { cwd: dir })).code, 0);
  const root = join(dir, "relay");
  await Deno.writeTextFile(join(root, "actor.ts"), ACTOR);
  await Deno.remove(join(root, "actor_test.ts"));
  const build = await runCli(["build", root], { flags: BUILD_FLAGS });
  assert.equal(build.code, 0, build.stderr);
  for (const name of names) {
    await Deno.writeTextFile(
      join(root, `${name}.json`),
      JSON.stringify({
        name,
        component: "./relay.wasm",
        chain: { fsync: "batch" },
        ...(limits[name] ? { limits: limits[name] } : {}),
      }),
    );
  }
  return root;
}

/** Three `theater serve --node` processes on one nats-server, and their API. */
interface Nodes {
  dir: string;
  nats: Awaited<ReturnType<typeof natsServer>>;
  nodes: Record<string, Awaited<ReturnType<typeof serveProcess>>>;
  tokenFile: string;
  /** Killed after the test: the nodes, and any process the test adds. */
  procs: Deno.ChildProcess[];
  /** A call of a node's API: GET without a body, POST with one. */
  api(
    node: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A request to an actor of run "demo" through a node's API. */
  request(
    node: string,
    actor: string,
    msg: unknown,
    timeoutMs?: number,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

/**
 * A test with a real nats-server and nodes a, b and c, all killed after it
 * (skipped where nats-server is missing, except in CI).
 */
function nodesTest(name: string, fn: (ctx: Nodes) => Promise<void>): void {
  natsTest(name, async ({ dir, nats }) => {
    const procs: Deno.ChildProcess[] = [];
    try {
      const tokenFile = join(dir, "token");
      const nodes: Nodes["nodes"] = {};
      for (const name of ["a", "b", "c"]) {
        nodes[name] = await serveProcess(join(dir, name), tokenFile, {
          args: ["--nats", nats.url, "--node", name],
        });
        procs.push(nodes[name].child);
      }
      const token = (await Deno.readTextFile(tokenFile)).trim();
      const api: Nodes["api"] = async (node, path, body) => {
        const res = await fetch(`${nodes[node].url}/api${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${token}` },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
      };
      const request: Nodes["request"] = (node, actor, msg, timeoutMs) =>
        api(node, `/runs/demo/actors/${actor}/request`, {
          msg,
          timeout_ms: timeoutMs ?? 2000,
        });
      await fn({ dir, nats, nodes, tokenFile, procs, api, request });
    } finally {
      for (const p of procs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await p.status;
      }
    }
  });
}

nodesTest(
  "cluster nodes: three serve processes and a witness; cross-node send and request recorded and linked; kill -9 of a node resumes its actor elsewhere with every acknowledged reply kept; pulled run verifies, replays, cosigned",
  async ({ dir, nats, nodes, tokenFile, procs, api, request }) => {
    const root = await relay(dir, ["ping", "pong", "counter"]);
    const keygen = await runCli([
      "keygen",
      "--out",
      join(dir, "w1"),
      "--name",
      "w1",
    ]);
    assert.equal(keygen.code, 0, keygen.stderr);
    const witness = theaterCommand([
      "witness",
      "--nats",
      nats.url,
      "--key",
      join(dir, "w1.key"),
      "--dir",
      join(dir, "witnessed"),
      "--follow",
      "--interval-ms",
      "1000",
    ], {
      flags: NET,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    procs.push(witness);
    let said = "";
    const saying = (async () => {
      for await (
        const text of witness.stdout.pipeThrough(new TextDecoderStream())
      ) said += text;
    })();
    const warned = new Response(witness.stderr).text();
    // A second node under a live node's name is refused (it waits one
    // beat period to see the name's heartbeat go on); --node needs a
    // cluster.
    const twin = await runCli([
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--dir",
      join(dir, "twin"),
      "--token-file",
      tokenFile,
      "--nats",
      nats.url,
      "--node",
      "a",
    ], { flags: NET, timeoutMs: 30_000 });
    assert.equal(twin.code, 2, twin.stdout + twin.stderr);
    assert.match(twin.stderr, /--node a: node a is already in the cluster/);
    const lone = await runCli(["serve", "--node", "x"], { flags: NET });
    assert.equal(lone.code, 2);
    assert.match(lone.stderr, /--node needs --nats URL/);

    // Placement: by the API, then the least loaded node.
    const placed: Record<string, unknown> = {};
    for (
      const [name, node] of [["ping", "a"], ["pong", "b"], [
        "counter",
        undefined,
      ]]
    ) {
      const r = await api("a", "/runs", {
        manifest: join(root, `${name}.json`),
        id: "demo",
        ...(node ? { node } : {}),
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      placed[name!] = r.body.node;
    }
    assert.deepEqual(placed, { ping: "a", pong: "b", counter: "c" });
    const cluster = await api("b", "/cluster");
    assert.deepEqual(
      (cluster.body.nodes as { name: string }[]).map((n) => n.name),
      ["a", "b", "c"],
    );
    const bad = await api("a", "/runs", {
      manifest: join(root, "ping.json"),
      id: "demo2",
      node: "nowhere",
    });
    assert.equal(bad.status, 409);
    assert.match(
      String(bad.body.error),
      /node nowhere is not in the cluster/,
    );

    // Bad input on an actor's subject (anyone on the NATS server can
    // publish there): refused by the document gate and the shape, and
    // nothing is recorded.
    const before = (await chainEvents(
      join(dir, "a", "runs", "demo", "ping.jsonl"),
    )).length;
    const nc = await connect({ servers: nats.url.slice("nats://".length) });
    try {
      for (
        const [body, why] of [
          ['{"kind":"send","msg":1e400}', /out of range|1e400|finite/i],
          ["not json", /JSON|token/i],
          [
            '{"kind":"actor","msg":1,"from":"timer:t-1","link":null,"size":1}',
            /from/,
          ],
          ['{"kind":"bogus"}', /kind/],
        ] as const
      ) {
        const r = (await nc.request("theater.to.demo.ping", body)).json<
          { ok: boolean; status: number; error: string }
        >();
        assert.equal(r.ok, false, body);
        assert.equal(r.status, 400, body);
        assert.match(r.error, why, `${body}: ${r.error}`);
      }
    } finally {
      await nc.close();
    }
    assert.equal(
      (await chainEvents(join(dir, "a", "runs", "demo", "ping.jsonl")))
        .length,
      before,
    );

    // Across nodes: a request from ping (a) to pong (b), a message from
    // ping to counter (c), and the API of b reaching counter on c.
    const asked = await request("a", "ping", {
      op: "ask",
      to: "pong",
      msg: "inc",
    });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    const rq = asked.body.reply as string;
    assert.match(rq, /^rq-/);
    assert.deepEqual(
      (await request("a", "ping", {
        op: "tell",
        to: "counter",
        msg: "inc",
      }))
        .body.reply,
      "sent",
    );
    const log = await waitFor("pong's response in ping's log", async () => {
      const l = ((await request("a", "ping", "get")).body.reply as {
        log: unknown[];
      }).log;
      return l.length > 0 ? l : null;
    });
    assert.deepEqual(log, [{ id: rq, from: "pong", reply: 1 }]);
    const viaB = await request("b", "counter", "inc");
    assert.deepEqual(viaB.body.reply, 2, JSON.stringify(viaB.body));
    const nobody = await request("a", "nobody", "inc");
    assert.equal(nobody.status, 404);
    assert.match(
      String(nobody.body.error),
      /no actor "nobody" of run demo/,
    );

    // A stream of requests to pong, four at a time, through nodes a and
    // c; kill -9 node b (which runs pong) with requests in flight, and
    // go on until pong has answered 40 in all.
    const acked: { seq: number; reply: number }[] = [];
    let killed: Promise<unknown> | null = null;
    const stream = async (via: string) => {
      while (acked.length < 40) {
        if (acked.length >= 20 && !killed) {
          nodes.b.child.kill("SIGKILL");
          killed = nodes.b.child.status;
        }
        // A request that fails (pong between nodes) is tried again.
        await waitFor(`pong answering through ${via}`, async () => {
          const r = await request(via, "pong", "inc").catch(() => null);
          if (r?.status !== 200) return null;
          acked.push({
            seq: r.body.seq as number,
            reply: r.body.reply as number,
          });
          return true;
        }, { seen: () => `${acked.length} acknowledged` });
      }
    };
    await Promise.all(["a", "c", "a", "c"].map(stream));
    await killed;
    acked.sort((x, y) => x.seq - y.seq);
    assert.ok(acked.length >= 40, `pong answered ${acked.length} of 40`);
    const after = await api("a", "/cluster");
    const pong = (after.body.placements as { root: string; node: string }[])
      .find((p) => p.root === "pong")!;
    assert.ok(["a", "c"].includes(pong.node), JSON.stringify(pong));
    const b = (after.body.nodes as { name: string; alive: boolean }[])
      .find((n) => n.name === "b");
    assert.ok(!b || !b.alive);
    // pong's replies go on from its last acknowledged state.
    for (let i = 1; i < acked.length; i++) {
      assert.ok(acked[i].reply > acked[i - 1].reply, JSON.stringify(acked));
    }

    // A zombie: node c stops (SIGSTOP) long enough for its actors to be
    // resumed elsewhere, then wakes up still believing it runs them.
    // Its first write is refused by JetStream, and its part stops.
    nodes.c.child.kill("SIGSTOP");
    await waitFor("counter resumed on a", async () => {
      const onA = (await api("a", "/runs/demo")).body.actors as
        | { id: string }[]
        | undefined;
      return onA?.some((a) => a.id === "counter");
    });
    const counted = await request("a", "counter", "inc");
    assert.equal(counted.status, 200, JSON.stringify(counted.body));
    nodes.c.child.kill("SIGCONT");
    // A client still talking to c reaches the zombie's copy: its step
    // cannot be recorded, so no reply leaves, and c gives counter up (its
    // other roots, if it had any, would go on).
    const late = await request("c", "counter", "inc").catch(async (e) => {
      throw new Error(`${e.message}; c said: ${await nodes.c.stderr}`);
    });
    assert.notEqual(late.status, 200, JSON.stringify(late.body));
    const zombie = await waitFor("c giving counter up", async () => {
      const onC = await api("c", "/runs/demo").catch(async (e) => {
        throw new Error(`${e.message}; c said: ${await nodes.c.stderr}`);
      });
      const body = onC.body as {
        actors: { id: string }[];
        given_up: { id: string; reason: string }[];
      };
      if (body.actors.some((a) => a.id === "counter")) return false;
      return body.given_up.find((g) => g.id === "counter")?.reason ?? false;
    });
    assert.match(
      zombie,
      /refused by JetStream.*another writer has this actor/,
    );
    // The copy on a goes on, unforked.
    const after2 = await request("a", "counter", "inc");
    assert.equal(after2.status, 200, JSON.stringify(after2.body));

    // The witness co-signs every chain at its final head.
    const pulled = join(dir, "pulled");
    const heads = async () => {
      await Deno.remove(pulled, { recursive: true }).catch(() => {});
      const p = await runCli(
        ["pull", "--nats", nats.url, "demo", pulled],
        { flags: NET },
      );
      assert.equal(p.code, 0, p.stderr);
      return p;
    };
    let verified = null as Awaited<ReturnType<typeof runCli>> | null;
    // The witness co-signs in rounds: pull and verify until it has.
    await waitFor("a pulled run co-signed at every head", async () => {
      await heads();
      verified = await runCli([
        "verify",
        pulled,
        "--cosigned-by",
        join(dir, "w1.pub"),
      ]);
      return verified.code === 0;
    }, { timeoutMs: 60_000 }).catch(() => {});
    if (verified!.code !== 0) {
      witness.kill("SIGTERM");
      await saying;
      await new Deno.Command("cp", { args: ["-r", dir, "/tmp/keep"] })
        .output();
      assert.fail(
        `${verified!.stdout}${
          verified!.stderr
        }\nwitness said:\n${said}${await warned}`,
      );
    }
    assert.match(verified!.stdout, /3 cosignatures signed by w1/);
    await assertVerifiesAndReplays(pulled);

    // Every acknowledged reply is in pong's chain at its seq.
    const chain = await chainEvents(join(pulled, "pong.jsonl"));
    for (const { seq, reply } of acked) {
      assert.equal(chain[seq]?.type, "handle.ok", `seq ${seq}`);
      assert.equal(chain[seq].data.reply, reply, `seq ${seq}`);
    }
    assert.ok(chain.some((e) => e.type === "actor.resume"));
    // Each stream message is one whole step: a kill between the events
    // of a step leaves none of them in the stream.
    const steps = await streamMessages(nats.url, "theater.chain.demo.pong");
    // One writer: one linear chain of whole steps, the pulled copy the
    // stream's, every acknowledged reply at its seq.
    assert.deepEqual(
      checkOneWriter({
        actor: "pong",
        messages: steps,
        chain: await Deno.readTextFile(join(pulled, "pong.jsonl")),
        acked,
      }),
      [],
    );
    assert.ok(steps.length < chain.length, `${steps.length} messages`);
    assert.equal(steps.flatMap((m) => m.split("\n")).length, chain.length);
    for (const m of steps) {
      assert.notEqual(JSON.parse(m.split("\n").at(-1)!).type, "message.in");
    }
    // Nothing forked: what b wrote and the stream acknowledged is the
    // prefix the resumed chain goes on from.
    const local = await chainEvents(
      join(dir, "b", "runs", "demo", "pong.jsonl"),
    );
    const resumed = chain.findIndex((e) => e.type === "actor.resume");
    assert.ok(local.length >= resumed, "b had written up to the resume");
    for (let i = 0; i < resumed; i++) {
      assert.equal(local[i].hash, chain[i].hash, `event ${i}`);
    }
    // Linked across nodes: ping's request is pong's message.in link,
    // pong's response is ping's.
    const ping = await chainEvents(join(pulled, "ping.jsonl"));
    const out = ping.find((e) =>
      e.type === "message.out" && e.data.to === "pong"
    )!;
    assert.ok(out, "ping recorded its request to pong");
    assert.ok(
      chain.some((e) =>
        e.type === "message.in" &&
        (e.data.link as { hash?: string } | null)?.hash === out.hash
      ),
      "pong's message.in links to ping's message.out",
    );
    const answer = chain.find((e) =>
      e.type === "message.out" && e.data.to === "ping"
    )!;
    assert.ok(
      ping.some((e) =>
        e.type === "message.in" &&
        (e.data.link as { hash?: string } | null)?.hash === answer.hash
      ),
      "ping's message.in links to pong's response",
    );
  },
);

nodesTest(
  "cluster nodes: a flood from one node is refused by the receiver's mailbox on another, which goes on; two nodes killed at once, the third resumes both their actors from their last states",
  async ({ dir, nats, nodes, api, request: ask }) => {
    const request = (node: string, actor: string, msg: unknown) =>
      ask(node, actor, msg, 5000);
    const root = await relay(dir, ["flooder", "sink", "keep"], {
      sink: { mailbox: 5 },
    });
    for (
      const [name, node] of [["flooder", "a"], ["sink", "b"], ["keep", "c"]]
    ) {
      const r = await api("a", "/runs", {
        manifest: join(root, `${name}.json`),
        id: "demo",
        node,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }

    // A hundred messages in one step of flooder (a) to sink (b), whose
    // mailbox holds five: b refuses what does not fit, stays up, and
    // sink answers; what it took is what its chain holds.
    const flood = await request("a", "flooder", {
      op: "flood",
      to: "sink",
      n: 100,
    });
    assert.equal(flood.status, 200, JSON.stringify(flood.body));
    // While the flood drains, a request too finds the mailbox full. The
    // hundred sends leave a together, so once sink's mailbox is empty and
    // its count is what its chain holds, the flood is over.
    const sinkFile = join(dir, "b", "runs", "demo", "sink.jsonl");
    const fromFlooder = async () =>
      (await chainEvents(sinkFile)).filter((e) =>
        e.type === "message.in" && e.data.from === "flooder"
      ).length;
    const count = await waitFor("the flood drained into sink", async () => {
      const onB = (await api("b", "/runs/demo")).body.actors as
        | { id: string; mailbox: number }[]
        | undefined;
      if (onB?.find((a) => a.id === "sink")?.mailbox !== 0) return null;
      const got = await request("b", "sink", "get");
      if (got.status !== 200) {
        assert.match(String(got.body.error), /mailbox of sink is full/);
        return null;
      }
      const now = (got.body.reply as { count: number }).count;
      return now === await fromFlooder() ? now : null;
    });
    assert.ok(count >= 1 && count < 100, `sink took ${count} of 100`);
    assert.equal(await fromFlooder(), count);
    for (const name of ["sink", "keep", "keep"]) {
      const r = await request("a", name, "inc");
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const sinkBefore = count + 1;

    // b and c killed at once: a claims both placements and resumes
    // sink and keep where their chains in the stream end.
    nodes.b.child.kill("SIGKILL");
    nodes.c.child.kill("SIGKILL");
    await Promise.all([nodes.b.child.status, nodes.c.child.status]);
    let placed: Record<string, string> = {};
    await waitFor("sink and keep claimed and running on a", async () => {
      const cluster = await api("a", "/cluster");
      placed = Object.fromEntries(
        (cluster.body.placements as { root: string; node: string }[])
          .map((p) => [p.root, p.node]),
      );
      const running = (await api("a", "/runs/demo")).body.actors as
        | { id: string }[]
        | undefined;
      return placed.sink === "a" && placed.keep === "a" &&
        running?.some((a) => a.id === "sink") &&
        running?.some((a) => a.id === "keep");
    }, { seen: () => placed });
    assert.deepEqual(placed, { flooder: "a", sink: "a", keep: "a" });
    const sink = await request("a", "sink", "inc");
    assert.equal(sink.status, 200, JSON.stringify(sink.body));
    assert.equal(sink.body.reply, sinkBefore + 1);
    const keep = await request("a", "keep", "inc");
    assert.equal(keep.body.reply, 3, JSON.stringify(keep.body));

    // The run as the stream holds it verifies and replays.
    const pulled = join(dir, "pulled");
    const p = await runCli(["pull", "--nats", nats.url, "demo", pulled], {
      flags: NET,
    });
    assert.equal(p.code, 0, p.stderr);
    await assertVerifiesAndReplays(pulled);
    for (const name of ["sink", "keep"]) {
      const chain = await chainEvents(join(pulled, `${name}.jsonl`));
      assert.ok(chain.some((e) => e.type === "actor.resume"), name);
    }
  },
);

nodesTest(
  "cluster nodes: the node taking over a dead node's actor is killed while it does; the last node resumes the actor from the stream, unforked",
  async ({ dir, nats, nodes, api, request: ask }) => {
    const request = (node: string, msg: unknown) =>
      ask(node, "long", msg, 10_000);
    const root = await relay(dir, ["long"]);
    const started = await api("a", "/runs", {
      manifest: join(root, "long.json"),
      id: "demo",
      node: "c",
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    // A long chain, so that taking it over (pulling it from the stream,
    // verifying, resuming) takes a while: 2,000 messages it sends
    // itself, a hundred per step.
    for (let i = 0; i < 20; i++) {
      const r = await request("c", { op: "flood", to: "long", n: 100 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    let count = 0;
    await waitFor("long counting its 2,000 messages", async () => {
      const got = await request("c", "get");
      if (got.status === 200) {
        count = (got.body.reply as { count: number }).count;
      }
      return count >= 2000;
    }, { seen: () => count });
    assert.equal(count, 2000);

    // c dies; whichever of a and b claims the actor is killed as soon
    // as its claim shows, while it takes the actor over.
    nodes.c.child.kill("SIGKILL");
    await nodes.c.child.status;
    const taker = await waitFor("a node claiming long from c", async () => {
      const cluster = await api("a", "/cluster");
      const node = (cluster.body.placements as {
        root: string;
        node: string;
      }[]).find((p) => p.root === "long")?.node;
      return node && node !== "c" && node;
    });
    nodes[taker].child.kill("SIGKILL");
    await nodes[taker].child.status;
    const last = taker === "a" ? "b" : "a";
    let tried: unknown = null;
    const answered = await waitFor(
      `long resumed on ${last} and answering`,
      async () => {
        const running = (await api(last, "/runs/demo")).body.actors as
          | { id: string }[]
          | undefined;
        if (!running?.some((a) => a.id === "long")) return false;
        const r = await request(last, "inc");
        tried = r.body;
        return r.status === 200 && r;
      },
      { seen: () => tried },
    );
    assert.equal(answered.body.reply, 2001);

    // The stream's chain is one line of history: it verifies and
    // replays, and every resume follows the one before.
    const pulled = join(dir, "pulled");
    const p = await runCli(["pull", "--nats", nats.url, "demo", pulled], {
      flags: NET,
    });
    assert.equal(p.code, 0, p.stderr);
    await assertVerifiesAndReplays(pulled);
    const chain = await chainEvents(join(pulled, "long.jsonl"));
    assert.ok(chain.some((e) => e.type === "actor.resume"));
  },
);
