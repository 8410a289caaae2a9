// Copyright the Theater authors. MIT license.
// Chains in NATS JetStream with the real server (Debian's nats-server,
// started here with JetStream on a free loopback port): a run publishes
// every event, pull copies the run back byte for byte, and a second
// writer of an actor is refused — by our check when it starts behind the
// stream, and by JetStream itself when two copies race.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  eventLine,
  generateKeys,
  parseSignerKey,
  sealEvent,
} from "../chain/mod.ts";
import {
  type AckedReply,
  checkOneWriter,
  Cluster,
  ClusterNode,
  PLACEMENTS_BUCKET,
  Witness,
} from "../cluster/mod.ts";
import {
  ActorSystem,
  loadManifest,
  type Remote,
  type Replication,
} from "../supervisor/mod.ts";
import { Runs, startServer, type TheaterServer } from "../server/mod.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  BUILD_FLAGS,
  hasNats,
  natsServer,
  natsTest,
  runCli,
  THEATER_FLAGS,
  waitFor,
  withTempDir,
} from "./_helpers.ts";

const SUPERVISOR = new URL(
  "../examples/supervisor/manifest.json",
  import.meta.url,
).pathname;
const COUNTER = new URL(
  "../examples/counter/manifest.json",
  import.meta.url,
).pathname;
const NET = [...THEATER_FLAGS, "--allow-net"];

/**
 * A test with a real nats-server and a connected Cluster, both stopped
 * after it (skipped where nats-server is missing, except in CI).
 */
function clusterTest(
  name: string,
  fn: (
    ctx: {
      dir: string;
      nats: Awaited<ReturnType<typeof natsServer>>;
      cluster: Cluster;
    },
  ) => Promise<void>,
): void {
  natsTest(name, async ({ dir, nats }) => {
    const cluster = await Cluster.connect(nats.url);
    try {
      await fn({ dir, nats, cluster });
    } finally {
      await cluster.close();
    }
  });
}

/** `theater run <manifest> --nats URL --run-id RUN` with messages. */
function runOn(
  url: string,
  manifest: string,
  options: { run: string; chainDir?: string; sends: string[] },
) {
  return runCli([
    "run",
    manifest,
    ...(options.chainDir ? ["--chain-dir", options.chainDir] : []),
    "--nats",
    url,
    "--run-id",
    options.run,
    ...options.sends.flatMap((m) => ["--send", m]),
  ], { flags: NET });
}

Deno.test({
  name:
    "cluster: a run published to JetStream, pulled back byte for byte, verified and replayed; a second writer refused",
  // CI installs nats-server (.ci/run): there, a missing server fails.
  ignore: !hasNats && Deno.env.get("CI") !== "true",
  async fn() {
    await withTempDir(async (dir) => {
      const nats = await natsServer(join(dir, "js"));
      try {
        const local = join(dir, "local");
        const run = await runOn(nats.url, SUPERVISOR, {
          run: "r1",
          chainDir: local,
          sends: ['{"op":"work","n":4}'],
        });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /network: NATS at/);
        // Resume on the same copy: the stream and the chain agree.
        const again = await runOn(nats.url, SUPERVISOR, {
          run: "r1",
          chainDir: local,
          sends: ['{"op":"work","n":5}'],
        });
        assert.equal(again.code, 0, again.stderr);
        const pulled = join(dir, "pulled");
        const pull = await runCli(["pull", "--nats", nats.url, "r1", pulled], {
          flags: NET,
        });
        assert.equal(pull.code, 0, pull.stderr);
        assert.match(
          pull.stdout,
          /2 chains of run r1: supervisor, supervisor\.worker/,
        );
        for (const name of ["supervisor.jsonl", "supervisor.worker.jsonl"]) {
          assert.equal(
            await Deno.readTextFile(join(pulled, name)),
            await Deno.readTextFile(join(local, name)),
            name,
          );
        }
        const verify = await runCli(["verify", pulled]);
        assert.equal(verify.code, 0, verify.stderr);
        // The pulled run replays with the components from the object store.
        const replay = await runCli(["replay", pulled]);
        assert.equal(replay.code, 0, replay.stderr + replay.stdout);
        assert.match(replay.stdout, /same head/);

        // A copy that starts behind the stream does not write.
        const stale = await runOn(nats.url, SUPERVISOR, {
          run: "r1",
          chainDir: join(dir, "other"),
          sends: ['{"op":"work","n":6}'],
        });
        assert.equal(stale.code, 2, stale.stderr);
        assert.match(stale.stderr, /another node writes this actor/);

        // Two copies that race: JetStream keeps the first, refuses the other.
        const a = await Cluster.connect(nats.url);
        const b = await Cluster.connect(nats.url);
        try {
          const path = join(dir, "empty.jsonl");
          const first = await a.run("race").attach("x", path);
          const second = await b.run("race").attach("x", path);
          // Each copy's own first event (they differ, as two writers' do).
          const step = (ts: number) => {
            const event = sealEvent({
              v: 1,
              seq: 0,
              actor: "x",
              parent: null,
              ts,
              type: "actor.stop",
              data: { reason: "test" },
            });
            return [{
              event,
              line: new TextEncoder().encode(eventLine(event)),
            }];
          };
          await first(step(1));
          await assert.rejects(
            () => second(step(2)),
            /refused by JetStream \(.*wrong last sequence.*\): another writer has this actor/,
          );
          // The stream holds the first copy's event, once.
          assert.equal(
            await a.lastSequence("race", "x"),
            await b.lastSequence("race", "x"),
          );
          assert.notEqual(await a.lastSequence("race", "x"), null);
        } finally {
          await a.close();
          await b.close();
        }
      } finally {
        await nats.stop();
      }
    });
  },
});

/**
 * An actor that breaks the contract: it keeps a count in a global, which
 * a fresh instance (a resumed run) starts again from 0, while a replay of
 * the whole chain carries it on: it misbehaves on replay.
 */
const FLAKY = `import { defineActor } from "./theater_sdk.ts";
let calls = 0;
export default defineActor<{ n: number }, unknown, number>({
  init: () => ({ n: 0 }),
  handle: () => {
    calls++;
    return { state: { n: calls }, reply: calls };
  },
});
`;

Deno.test({
  name:
    "witness: co-signs what replays, and alerts with actor, seq and reason on a forged event and on a component that misbehaves on replay",
  ignore: !hasNats && Deno.env.get("CI") !== "true",
  async fn() {
    await withTempDir(async (dir) => {
      const nats = await natsServer(join(dir, "js"));
      try {
        const keygen = await runCli([
          "keygen",
          "--out",
          join(dir, "w"),
          "--name",
          "w1",
        ]);
        assert.equal(keygen.code, 0, keygen.stderr);
        const run = await runOn(nats.url, SUPERVISOR, {
          run: "good",
          chainDir: join(dir, "good"),
          sends: ['{"op":"work","n":4}'],
        });
        assert.equal(run.code, 0, run.stderr);
        // A non-deterministic TypeScript actor, recorded.
        assert.equal((await runCli(["new", "flaky"], { cwd: dir })).code, 0);
        await Deno.writeTextFile(join(dir, "flaky", "actor.ts"), FLAKY);
        const build = await runCli(["build", join(dir, "flaky")], {
          flags: BUILD_FLAGS,
        });
        assert.equal(build.code, 0, build.stderr);
        // Two runs: the second resumes the chain with a fresh instance.
        for (const sends of [['"a"', '"b"'], ['"c"']]) {
          const flaky = await runOn(
            nats.url,
            join(dir, "flaky", "manifest.json"),
            {
              run: "flaky",
              sends,
            },
          );
          assert.equal(flaky.code, 0, flaky.stderr);
        }
        const witness = (args: string[] = []) =>
          runCli([
            "witness",
            "--nats",
            nats.url,
            "--key",
            join(dir, "w.key"),
            "--dir",
            join(dir, "witnessed"),
            ...args,
          ], { flags: NET });
        const first = await witness();
        assert.equal(first.code, 1, first.stderr);
        assert.match(first.stdout, /^good\/supervisor: cosigned \(\d+ events/m);
        assert.match(first.stdout, /^good\/supervisor\.worker: cosigned/m);
        assert.match(first.stderr, /^flaky\/flaky#\d+: diverged: /m);
        assert.doesNotMatch(first.stdout, /flaky\/flaky: cosigned/);
        const pulled = join(dir, "pulled");
        assert.equal(
          (await runCli(["pull", "--nats", nats.url, "good", pulled], {
            flags: NET,
          })).code,
          0,
        );
        const cosigned = await runCli([
          "verify",
          pulled,
          "--cosigned-by",
          join(dir, "w.pub"),
        ]);
        assert.equal(cosigned.code, 0, cosigned.stderr);
        assert.match(cosigned.stdout, /2 cosignatures signed by w1/);
        const flakyCopy = join(dir, "flaky-copy");
        await runCli(["pull", "--nats", nats.url, "flaky", flakyCopy], {
          flags: NET,
        });
        const notCosigned = await runCli([
          "verify",
          flakyCopy,
          "--cosigned-by",
          join(dir, "w.pub"),
        ]);
        assert.equal(notCosigned.code, 1);
        assert.match(notCosigned.stderr, /not co-signed by w1/);
        // What the witness reported about the run came with it: verify
        // shows it and fails.
        const shown = await runCli(["verify", flakyCopy]);
        assert.equal(shown.code, 1, shown.stdout);
        assert.match(shown.stderr, /^witness w1: flaky#\d+: diverged: /m);
        assert.match(
          shown.stderr,
          /1 witness alert \(witness-alerts\.ndjson\)/,
        );

        // A forged event, published straight into the stream.
        const chain = (await Deno.readTextFile(
          join(dir, "good", "supervisor.worker.jsonl"),
        )).trim().split("\n");
        const last = JSON.parse(chain.at(-1)!);
        const forged = {
          ...last,
          seq: last.seq + 1,
          parent: last.hash,
          type: "message.in",
          data: { from: "external", msg: "forged", link: null },
        };
        const nc = await connect({ servers: nats.url.slice("nats://".length) });
        try {
          await jetstream(nc).publish(
            "theater.chain.good.supervisor.worker",
            JSON.stringify(forged),
          );
        } finally {
          await nc.close();
        }
        const second = await witness(["--run", "good"]);
        assert.equal(second.code, 1);
        assert.match(
          second.stderr,
          new RegExp(
            `^good/supervisor\\.worker#${forged.seq}: broken: line ${
              forged.seq + 1
            }: `,
            "m",
          ),
        );
        const cluster = await Cluster.connect(nats.url);
        try {
          const alerts = await cluster.alerts();
          assert.ok(
            alerts.some((a) =>
              a.run === "good" && a.actor === "supervisor.worker" &&
              a.seq === forged.seq && /^broken: /.test(String(a.reason))
            ),
            JSON.stringify(alerts),
          );
          assert.ok(
            alerts.some((a) =>
              a.run === "flaky" && a.actor === "flaky" &&
              /^diverged: /.test(String(a.reason))
            ),
          );
        } finally {
          await cluster.close();
        }
      } finally {
        await nats.stop();
      }
    });
  },
});

Deno.test({
  name: "cluster: runs started through theater serve --nats are published too",
  ignore: !hasNats && Deno.env.get("CI") !== "true",
  async fn() {
    await withTempDir(async (dir) => {
      const nats = await natsServer(join(dir, "js"));
      const cluster = await Cluster.connect(nats.url);
      const token = "12".repeat(32);
      const server = await startServer({
        dir: join(dir, "runs"),
        token,
        port: 0,
        cacheDir: false,
        replication: (run) => cluster.run(run),
      });
      try {
        const call = (path: string, body?: unknown) =>
          fetch(server.url + path, {
            method: body === undefined ? "DELETE" : "POST",
            headers: { authorization: `Bearer ${token}` },
            body: body === undefined ? undefined : JSON.stringify(body),
          }).then((r) => r.json());
        await call("/api/runs", { manifest: SUPERVISOR, id: "served" });
        await call("/api/runs/served/actors/supervisor/request", {
          msg: { op: "work", n: 2 },
        });
        await call("/api/runs/served");
        const pulled = join(dir, "pulled");
        const actors = await cluster.pull("served", pulled);
        assert.deepEqual(actors, ["supervisor", "supervisor.worker"]);
        for (const actor of actors) {
          assert.equal(
            await Deno.readTextFile(join(pulled, `${actor}.jsonl`)),
            await Deno.readTextFile(
              join(dir, "runs", "served", `${actor}.jsonl`),
            ),
          );
        }
      } finally {
        await server.close();
        await cluster.close();
        await nats.stop();
      }
    });
  },
});

clusterTest(
  "witness: a witness that follows reads only what is new, co-signs only the chains that grew, and reports a broken chain once",
  async ({ dir, nats, cluster }) => {
    const key = await parseSignerKey(
      (await generateKeys("w1")).privateKey,
    );
    const manifest = await loadManifest(COUNTER);
    const run = async (msgs: string[]) => {
      const system = new ActorSystem({
        chainDir: join(dir, "local"),
        fsync: "none",
        replication: cluster.run("follow"),
      });
      await system.start(manifest);
      for (const m of msgs) await system.send("counter", m);
      await system.shutdown("test");
    };
    await run(["inc", "inc"]);
    const witness = new Witness(cluster, {
      key,
      dir: join(dir, "witness"),
    });
    const first = await witness.round();
    assert.deepEqual(first.map((f) => f.status), ["cosigned"]);
    const size = (f: { reason: string }) => Number(f.reason.split(" ")[0]);
    // Nothing new: nothing read, replayed or signed again.
    assert.deepEqual(await witness.round(), []);
    // The chain grows (a resumed run): only the new messages are read,
    // and the copy is the chain, byte for byte.
    await run(["inc"]);
    const second = await witness.round();
    assert.deepEqual(second.map((f) => f.status), ["cosigned"]);
    assert.ok(size(second[0]) > size(first[0]));
    assert.equal(
      await Deno.readTextFile(
        join(dir, "witness", "follow", "counter.jsonl"),
      ),
      await Deno.readTextFile(join(dir, "local", "counter.jsonl")),
    );
    // An event forged into the stream: broken at its seq, once.
    const chain = (await Deno.readTextFile(
      join(dir, "local", "counter.jsonl"),
    )).trim().split("\n");
    const last = JSON.parse(chain.at(-1)!);
    const nc = await connect({ servers: nats.url.slice("nats://".length) });
    try {
      await jetstream(nc).publish(
        "theater.chain.follow.counter",
        JSON.stringify({ ...last, seq: last.seq + 1, parent: last.hash }),
      );
    } finally {
      await nc.close();
    }
    const third = await witness.round();
    assert.equal(third.length, 1);
    assert.equal(third[0].status, "broken");
    assert.equal(third[0].seq, last.seq + 1);
    assert.match(third[0].reason, new RegExp(`^line ${last.seq + 2}: `));
    assert.deepEqual(await witness.round(), []);
  },
);

clusterTest(
  "cluster: a copy of an actor that another node has moved past is refused at its first write; its run stops with the reason and shuts down cleanly",
  async ({ dir, cluster }) => {
    const manifest = await loadManifest(COUNTER);
    const fatal: string[] = [];
    const zombie = new ActorSystem({
      chainDir: join(dir, "zombie"),
      fsync: "none",
      replication: cluster.run("z"),
      onFatal: (m) => fatal.push(m),
    });
    await zombie.start(manifest);
    // Another node takes the actor over from the stream and goes on.
    await cluster.pull("z", join(dir, "other"));
    const other = new ActorSystem({
      chainDir: join(dir, "other"),
      fsync: "none",
      replication: cluster.run("z"),
    });
    await other.start(manifest);
    assert.deepEqual((await other.send("counter", "inc")).reply, {
      count: 1,
    });
    await assert.rejects(
      () => zombie.send("counter", "inc"),
      /refused by JetStream \(wrong last sequence.*\): another writer has this actor/,
    );
    assert.equal(fatal.length, 1);
    assert.match(fatal[0], /^counter: .*another writer has this actor/);
    await zombie.shutdown("test");
    await other.shutdown("test");
    // The stream holds one chain: the other node's.
    await cluster.pull("z", join(dir, "pulled"));
    assert.equal(
      await Deno.readTextFile(join(dir, "pulled", "counter.jsonl")),
      await Deno.readTextFile(join(dir, "other", "counter.jsonl")),
    );
  },
);

clusterTest(
  "cluster: a taker whose copy was pulled before the old writer's last acknowledged step is refused, not forked (issue 25's repeated seq)",
  async ({ dir, cluster }) => {
    const manifest = await loadManifest(COUNTER);
    const old = new ActorSystem({
      chainDir: join(dir, "old"),
      fsync: "none",
      replication: cluster.run("z"),
    });
    await old.start(manifest);
    await old.send("counter", "inc");
    // The taker pulls; then the old node (paused, woken) records one more
    // step, acknowledged by the stream and answered.
    await cluster.pull("z", join(dir, "taker"));
    const last = await old.send("counter", "inc");
    assert.deepEqual(last.reply, { count: 2 });
    const taker = new ActorSystem({
      chainDir: join(dir, "taker"),
      fsync: "none",
      replication: cluster.run("z"),
    });
    await assert.rejects(
      () => taker.start(manifest),
      /the stream holds events up to 7, this copy only up to 4: another node writes this actor/,
    );
    await taker.shutdown("test");
    await old.shutdown("test");
    // One chain, holding the acknowledged reply at its seq; a fresh pull
    // resumes after it.
    const pulled = join(dir, "pulled");
    await cluster.pull("z", pulled);
    const chain = await Deno.readTextFile(join(pulled, "counter.jsonl"));
    assert.deepEqual(
      checkOneWriter({
        actor: "counter",
        chain,
        acked: [{ seq: last.event.seq, reply: last.reply }],
      }),
      [],
    );
    const again = new ActorSystem({
      chainDir: pulled,
      fsync: "none",
      replication: cluster.run("z"),
    });
    await again.start(manifest);
    assert.deepEqual((await again.send("counter", "inc")).reply, { count: 3 });
    await again.shutdown("test");
  },
);

/**
 * Root manifests `<dir>/<name>.json` of counters (counter.wasm copied
 * beside them: a component must be in its manifest's folder), by name.
 */
async function counterApps(
  dir: string,
  names: string[],
): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(
    new URL("../examples/counter/counter.wasm", import.meta.url).pathname,
    join(dir, "counter.wasm"),
  );
  const out: Record<string, string> = {};
  for (const name of names) {
    out[name] = join(dir, `${name}.json`);
    await Deno.writeTextFile(
      out[name],
      JSON.stringify({
        name,
        component: "./counter.wasm",
        params: { start: 0 },
        chain: { fsync: "none" },
      }),
    );
  }
  return out;
}

/** A run's other nodes, for a Runs in a cluster with nothing elsewhere. */
const NOWHERE: Remote = {
  send: () => Promise.resolve({ ok: false, error: "no other node" }),
  watch: () => () => {},
};

clusterTest(
  "cluster: a resume the stream refuses (the old writer woke and wrote between the taker's check and its actor.resume) leaves no copy of the actor on the taker, which a fresh pull then resumes (the stalled round of seed 1470124621)",
  async ({ dir, cluster }) => {
    const apps = await counterApps(join(dir, "apps"), ["ping", "tock"]);
    const old = new ActorSystem({
      chainDir: join(dir, "old"),
      replication: cluster.run("demo"),
    });
    await old.start(await loadManifest(apps.ping));
    await old.send("ping", "inc");
    // The old node's step lands once the taker's attach has checked the
    // stream, before the taker's actor.resume is published.
    const real = cluster.run("demo");
    let wake: (() => Promise<unknown>) | null = null;
    const replication = (): Replication => ({
      attach: async (actor, path) => {
        const publish = await real.attach(actor, path);
        const step = wake;
        wake = null;
        await step?.();
        return publish;
      },
      keepComponent: (sha256, bytes) => real.keepComponent(sha256, bytes),
    });
    const taker = new Runs(join(dir, "taker"), {
      cacheDir: false,
      replication,
      remote: () => NOWHERE,
    });
    try {
      await taker.start(apps.tock, { id: "demo" });
      await taker.live("demo").system.send("tock", "inc");
      const pull = () =>
        cluster.pull("demo", taker.folder("demo"), {
          skip: (actor) => actor === "tock",
        });
      await pull();
      wake = () => old.send("ping", "inc");
      await assert.rejects(
        () => taker.start(apps.ping, { id: "demo" }),
        /refused by JetStream \(wrong last sequence.*\): another writer has this actor/,
      );
      // Before the fix ping stayed registered here, its chain taking no
      // more events: the takeover saw it "running" and stopped trying,
      // and the first message to it stopped the whole run, tock too.
      assert.deepEqual(taker.live("demo").system.actors, ["tock"]);
      await assert.rejects(
        () => taker.live("demo").system.send("ping", "inc"),
        /no actor "ping" is running/,
      );
      assert.deepEqual(
        (await taker.live("demo").system.send("tock", "inc")).reply,
        { count: 2 },
      );
      // The old node stops writing (its placement moved); a fresh pull
      // resumes ping after its last acknowledged step.
      await old.shutdown("test");
      await pull();
      await taker.start(apps.ping, { id: "demo" });
      const next = await taker.live("demo").system.send("ping", "inc");
      assert.deepEqual(next.reply, { count: 3 });
    } finally {
      await taker.shutdown("test");
      await old.shutdown("test");
    }
    const pulled = join(dir, "pulled");
    await cluster.pull("demo", pulled);
    assert.deepEqual(
      checkOneWriter({
        actor: "ping",
        chain: await Deno.readTextFile(join(pulled, "ping.jsonl")),
      }),
      [],
    );
  },
);

clusterTest(
  "cluster: a node whose write for one actor is refused (another node took over its root) gives up that root only: its other roots go on and answer",
  async ({ dir, cluster }) => {
    const apps = await counterApps(join(dir, "apps"), ["ping", "tock"]);
    const zombie = new Runs(join(dir, "zombie"), {
      cacheDir: false,
      replication: (run) => cluster.run(run),
      remote: () => NOWHERE,
    });
    const other = new ActorSystem({
      chainDir: join(dir, "other"),
      replication: cluster.run("demo"),
    });
    try {
      await zombie.start(apps.ping, { id: "demo" });
      await zombie.start(apps.tock, { id: "demo" });
      const system = zombie.live("demo").system;
      await system.send("ping", "inc");
      await system.send("tock", "inc");
      // Another node claims ping's placement and resumes it.
      await cluster.pull("demo", join(dir, "other"), {
        skip: (actor) => actor !== "ping",
      });
      await other.start(await loadManifest(apps.ping));
      assert.deepEqual((await other.send("ping", "inc")).reply, { count: 2 });
      await assert.rejects(
        () => system.send("ping", "inc"),
        /refused by JetStream \(wrong last sequence.*\): another writer has this actor/,
      );
      await waitFor(
        "the zombie to give up ping",
        () => !system.actors.includes("ping"),
        { seen: () => system.actors },
      );
      // Before the fix the refusal stopped the zombie's whole run.
      assert.equal(zombie.live("demo").stopped, null);
      assert.match(
        zombie.lost("demo", "ping")!,
        /another writer has this actor/,
      );
      assert.deepEqual(system.actors, ["tock"]);
      assert.deepEqual((await system.send("tock", "inc")).reply, { count: 2 });
      assert.equal(zombie.lost("demo", "tock"), null);
    } finally {
      await zombie.shutdown("test");
      await other.shutdown("test");
    }
    // ping's chain is the other node's; tock's, the zombie's, unbroken.
    const pulled = join(dir, "pulled");
    await cluster.pull("demo", pulled);
    for (const actor of ["ping", "tock"]) {
      assert.deepEqual(
        checkOneWriter({
          actor,
          chain: await Deno.readTextFile(join(pulled, `${actor}.jsonl`)),
        }),
        [],
        actor,
      );
    }
    assert.equal(
      await Deno.readTextFile(join(pulled, "ping.jsonl")),
      await Deno.readTextFile(join(dir, "other", "ping.jsonl")),
    );
  },
);

clusterTest(
  "cluster: a root placed on a live node that does not run it is resumed there, and the node that still runs it (paused while another claimed it) hands it over; its other roots stay",
  async ({ dir, nats, cluster }) => {
    const apps = await counterApps(join(dir, "apps"), ["ping", "tock"]);
    const token = "34".repeat(32);
    const servers = new Map<string, TheaterServer>();
    const notices: string[] = [];
    const acked: AckedReply[] = [];
    try {
      for (const name of ["a", "b"]) {
        const node = await ClusterNode.join(cluster, {
          name,
          heartbeatMs: 100,
          deadAfterMs: 1000,
          onNotice: (line) => notices.push(`${name}: ${line}`),
        });
        servers.set(
          name,
          await startServer({
            dir: join(dir, name),
            token,
            port: 0,
            cacheDir: false,
            replication: (run) => cluster.run(run),
            node,
          }),
        );
      }
      const a = servers.get("a")!;
      const b = servers.get("b")!;
      const call = async (
        server: TheaterServer,
        path: string,
        body: unknown,
      ) => {
        const res = await fetch(`${server.url}/api${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
      };
      for (const actor of ["ping", "tock"]) {
        const placed = await call(a, "/runs", {
          manifest: apps[actor],
          id: "demo",
          node: "a",
        });
        assert.equal(placed.status, 201, JSON.stringify(placed.body));
      }
      const ask = async (server: TheaterServer, actor: string) => {
        const r = await call(server, `/runs/demo/actors/${actor}/request`, {
          msg: "inc",
          timeout_ms: 5000,
        });
        if (r.status !== 200) return null;
        if (actor === "ping") {
          acked.push({ seq: r.body.seq, reply: r.body.reply });
        }
        return r.body.reply as { count: number };
      };
      assert.deepEqual(await ask(a, "ping"), { count: 1 });
      assert.deepEqual(await ask(a, "tock"), { count: 1 });
      // b claims ping as if a had been paused past its heartbeat (a's
      // ping goes on meanwhile: a is the zombie).
      const nc = await connect({ servers: nats.url.slice("nats://".length) });
      try {
        const placements = await new Kvm(nc).open(PLACEMENTS_BUCKET);
        const e = (await placements.get("demo.ping"))!;
        await placements.update(
          "demo.ping",
          JSON.stringify({ ...e.json<object>(), node: "b" }),
          e.revision,
        );
      } finally {
        await nc.close();
      }
      // Before the fix nothing moved: b never resumed a root it had not
      // claimed itself, and a went on with ping until its next write.
      const runsHere = (server: TheaterServer, actor: string) => {
        try {
          return server.runs.live("demo").system.actors.includes(actor);
        } catch {
          return false;
        }
      };
      await waitFor(
        "ping running on b only, answering through either node",
        async () =>
          runsHere(b, "ping") && !runsHere(a, "ping") &&
          await ask(a, "ping") !== null && await ask(b, "ping") !== null,
        { seen: () => notices },
      );
      assert.ok(
        notices.some((l) =>
          /^a: ping of run demo is placed on node b: stopping it here/.test(l)
        ),
        notices.join("\n"),
      );
      assert.ok(runsHere(a, "tock"));
      assert.deepEqual(await ask(a, "tock"), { count: 2 });
      assert.deepEqual(await ask(b, "tock"), { count: 3 });
    } finally {
      for (const server of servers.values()) await server.close("test");
    }
    const pulled = join(dir, "pulled");
    await cluster.pull("demo", pulled);
    assert.deepEqual(
      checkOneWriter({
        actor: "ping",
        chain: await Deno.readTextFile(join(pulled, "ping.jsonl")),
        acked,
      }),
      [],
    );
  },
);
