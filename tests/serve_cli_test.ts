// Copyright the Theater authors. MIT license.
// `theater serve` as a user runs it, and the clients that talk to it:
// ps, send, logs (and logs -f); SIGTERM stops every run cleanly.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  runCli,
  serveProcess,
  THEATER_FLAGS,
  waitFor,
  withTempDir,
} from "./_helpers.ts";

const COUNTER = new URL("../examples/counter/manifest.json", import.meta.url)
  .pathname;
const NET = [...THEATER_FLAGS, "--allow-net"];

Deno.test("serve: a token made once, ps, send, logs and logs -f, and a clean stop on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    const tokenFile = join(dir, "config", "token");
    const server = await serveProcess(dir, tokenFile);
    const client = ["--server", server.url, "--token-file", tokenFile];
    try {
      assert.equal((await Deno.stat(tokenFile)).mode! & 0o777, 0o600);
      const token = (await Deno.readTextFile(tokenFile)).trim();
      const started = await fetch(`${server.url}/api/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ manifest: COUNTER }),
      });
      assert.equal(started.status, 201, await started.text());
      const ps = await runCli(["ps", ...client], { flags: NET });
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /^counter {2}running/m);
      assert.match(ps.stdout, /counter {2}running {2}restarts 0 {2}mailbox 0/);
      const send = await runCli(
        ["send", ...client, "--to", "counter", '"inc"'],
        {
          flags: NET,
        },
      );
      assert.equal(send.code, 0, send.stderr);
      assert.deepEqual(JSON.parse(send.stdout), {
        actor: "counter",
        reply: { count: 1 },
      });
      const nobody = await runCli(
        ["send", ...client, "--to", "nobody", '"inc"'],
        { flags: NET },
      );
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /no actor nobody is running/);
      const bare = await runCli(["send", ...client, "--to", "counter", "inc"], {
        flags: NET,
      });
      assert.equal(bare.code, 2);
      const logs = await runCli(["logs", ...client], { flags: NET });
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(
        logs.stdout,
        /^counter#2 message\.in from external: "inc"$/m,
      );
      // logs -f shows a message sent while it follows; SIGINT ends it.
      const follow = runCli(["logs", ...client, "-f"], {
        flags: NET,
        signal: "SIGINT",
        signalWhen: async ({ stdout }) => {
          // The history came: it follows. Then a message, then its line.
          await stdout.until(
            (l) => l.includes('message.in from external: "inc"'),
            "the history line of the first inc",
          );
          const sent = await runCli(
            ["send", ...client, "--to", "counter", '{"op":"add","n":5}'],
            { flags: NET },
          );
          assert.equal(sent.code, 0, sent.stderr);
          await stdout.until(
            (l) => /message\.in from external: \{.*"op":"add"/.test(l),
            "the line of the message sent while following",
          );
        },
        timeoutMs: 60_000,
      });
      const followed = await follow;
      assert.ok(followed.signalled, followed.stdout + followed.stderr);
      assert.equal(followed.code, 0, followed.stderr);
      assert.match(
        followed.stdout,
        /message\.in from external: \{("n":5,"op":"add"|"op":"add","n":5)\}/,
      );
      const away = await runCli([
        "ps",
        "--server",
        "http://127.0.0.1:9",
        "--token-file",
        tokenFile,
      ], {
        flags: NET,
      });
      assert.equal(away.code, 1);
      assert.match(away.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
      const noToken = await runCli([
        "ps",
        "--server",
        server.url,
        "--token-file",
        join(dir, "none"),
      ], {
        flags: NET,
      });
      assert.equal(noToken.code, 2);
      assert.match(noToken.stderr, /cannot read the token in .*none/);
    } finally {
      server.child.kill("SIGTERM");
    }
    const status = await server.child.status;
    assert.equal(status.code, 0);
    const stderr = await server.stderr;
    assert.match(stderr, /a new token was written/);
    assert.match(stderr, /SIGTERM: stopping every run/);
    await server.stdout;
    const chain =
      (await Deno.readTextFile(join(dir, "runs", "counter", "counter.jsonl")))
        .trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(chain.at(-1).type, "actor.stop");
    assert.match(chain.at(-1).data.reason, /the server got SIGTERM/);
    // A second start keeps the token and resumes nothing by itself.
    const again = await serveProcess(dir, tokenFile);
    again.child.kill("SIGTERM");
    assert.equal((await again.child.status).code, 0);
    assert.doesNotMatch(await again.stderr, /a new token/);
    await again.stdout;
  });
});

Deno.test("serve: killed (kill -9) while messages flow, a new server resumes the run and every chain verifies", async () => {
  await withTempDir(async (dir) => {
    const tokenFile = join(dir, "token");
    const first = await serveProcess(dir, tokenFile);
    const token = (await Deno.readTextFile(tokenFile)).trim();
    const headers = { authorization: `Bearer ${token}` };
    const started = await fetch(`${first.url}/api/runs`, {
      method: "POST",
      headers,
      body: JSON.stringify({ manifest: COUNTER }),
    });
    assert.equal(started.status, 201, await started.text());
    // Replies acknowledged before the kill must all be in the chain.
    let acknowledged = 0;
    const flow = (async () => {
      for (let i = 0; i < 10_000; i++) {
        try {
          const r = await fetch(
            `${first.url}/api/runs/counter/actors/counter/request`,
            { method: "POST", headers, body: JSON.stringify({ msg: "inc" }) },
          );
          if (r.status !== 200) break;
          const body = await r.json();
          acknowledged = Math.max(acknowledged, body.reply.count);
        } catch {
          break;
        }
      }
    })();
    // Mid-flow: after the 20th acknowledged reply.
    await waitFor("20 acknowledged replies", () => acknowledged >= 20, {
      seen: () => `${acknowledged} acknowledged`,
      ended: flow,
    });
    first.child.kill("SIGKILL");
    await first.child.status;
    await flow;
    await first.stderr;
    await first.stdout;
    assert.ok(acknowledged > 0, "no reply before the kill");
    const second = await serveProcess(dir, tokenFile);
    try {
      const resumed = await fetch(`${second.url}/api/runs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ manifest: COUNTER }),
      });
      assert.equal(resumed.status, 201, await resumed.text());
      const get = await fetch(
        `${second.url}/api/runs/counter/actors/counter/request`,
        { method: "POST", headers, body: JSON.stringify({ msg: "get" }) },
      );
      const count = (await get.json()).reply.count;
      assert.ok(
        count >= acknowledged,
        `count ${count} after resume, but ${acknowledged} was acknowledged`,
      );
      const verify = await fetch(`${second.url}/api/runs/counter/verify`, {
        headers,
      });
      assert.equal((await verify.json()).ok, true);
    } finally {
      second.child.kill("SIGTERM");
      await second.child.status;
      await second.stderr;
      await second.stdout;
    }
    const events = (await Deno.readTextFile(
      join(dir, "runs", "counter", "counter.jsonl"),
    )).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(events.some((e) => e.type === "actor.resume"));
  });
});
