// Copyright the Theater authors. MIT license.
// Chains in NATS JetStream with the real server (Debian's nats-server,
// started here with JetStream on a free loopback port): a run publishes
// every event, pull copies the run back byte for byte, and a second
// writer of an actor is refused — by our check when it starts behind the
// stream, and by JetStream itself when two copies race.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster } from "../cluster/mod.ts";
import { runCli, THEATER_FLAGS, withTempDir } from "./_helpers.ts";

const SUPERVISOR = new URL(
  "../examples/supervisor/manifest.json",
  import.meta.url,
).pathname;
const NET = [...THEATER_FLAGS, "--allow-net"];
const NATS = Deno.env.get("NATS_SERVER") ?? "/usr/sbin/nats-server";
const hasNats = await Deno.stat(NATS).then(() => true, () => false);

/** Starts nats-server with JetStream on a free port; returns its URL. */
async function natsServer(dir: string) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(NATS, {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return {
        url,
        stop: async () => {
          child.kill("SIGTERM");
          await child.status;
        },
      };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill("SIGKILL");
  throw new Error("nats-server did not start");
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
        const run = await runCli([
          "run",
          SUPERVISOR,
          "--chain-dir",
          local,
          "--nats",
          nats.url,
          "--run-id",
          "r1",
          "--send",
          '{"op":"work","n":4}',
        ], { flags: NET });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /network: NATS at/);
        // Resume on the same copy: the stream and the chain agree.
        const again = await runCli([
          "run",
          SUPERVISOR,
          "--chain-dir",
          local,
          "--nats",
          nats.url,
          "--run-id",
          "r1",
          "--send",
          '{"op":"work","n":5}',
        ], { flags: NET });
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
        const stale = await runCli([
          "run",
          SUPERVISOR,
          "--chain-dir",
          join(dir, "other"),
          "--nats",
          nats.url,
          "--run-id",
          "r1",
          "--send",
          '{"op":"work","n":6}',
        ], { flags: NET });
        assert.equal(stale.code, 2, stale.stderr);
        assert.match(stale.stderr, /another node writes this actor/);

        // Two copies that race: JetStream keeps the first, refuses the other.
        const a = await Cluster.connect(nats.url);
        const b = await Cluster.connect(nats.url);
        try {
          const path = join(dir, "empty.jsonl");
          const first = await a.run("race").attach("x", path);
          const second = await b.run("race").attach("x", path);
          const line = new TextEncoder().encode('{"seq":0}');
          await first({} as never, line);
          await assert.rejects(
            () => second({} as never, line),
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
