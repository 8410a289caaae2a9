// Copyright the Theater authors. MIT license.
// The fetcher example end to end: an origin served here on 127.0.0.1, a run
// that polls it on a timer, then the origin stopped and the run replayed
// to the same head.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertVerifiesAndReplays,
  BUILD_FLAGS,
  chainEvents,
  jsonLines,
  runCli,
  THEATER_FLAGS,
  waitFor,
  withTempDir,
} from "../../tests/_helpers.ts";

const HERE = new URL(".", import.meta.url).pathname;

Deno.test("fetcher: polls a granted origin on a timer, keeps bodies in the store, answers requests, and replays after the origin is gone", async () => {
  const build = await runCli(["build", HERE], { flags: BUILD_FLAGS });
  assert.equal(build.code, 0, build.stderr);
  let served = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      if (new URL(req.url).pathname !== "/status.json") {
        return new Response("no", { status: 404 });
      }
      served++;
      return Response.json({
        items: Array.from({ length: served }, (_, i) => i),
      });
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    await withTempDir(async (dir) => {
      // The example's manifest, granting this test's origin instead.
      const manifest = JSON.parse(
        await Deno.readTextFile(join(HERE, "manifest.json")),
      );
      manifest.params = { url: `${origin}/status.json`, every_ms: 150 };
      manifest.grants.http.origins = [origin];
      await Deno.copyFile(
        join(HERE, "fetcher.wasm"),
        join(dir, "fetcher.wasm"),
      );
      await Deno.writeTextFile(
        join(dir, "manifest.json"),
        JSON.stringify(manifest),
      );
      const run = await runCli(["run", join(dir, "manifest.json")], {
        flags: [...THEATER_FLAGS, "--allow-net"],
        stdin: async (write, { status }) => {
          await write('"start"\n');
          // Three polls reached the origin: then stop. Each poll's step ends
          // before "stop" is handled, so the summary counts them all.
          await waitFor("three polls at the origin", () => served >= 3, {
            seen: () => `${served} polls served`,
            ended: status,
          });
          await write('"stop"\n"summary"\n{"body":"latest"}\n');
        },
      });
      assert.equal(run.code, 0, run.stderr);
      const replies = jsonLines(run.stdout).map((l) => l.reply);
      assert.equal(replies[0], "started");
      assert.equal(replies[1], "stopped");
      const summary = replies[2] as {
        polls: number;
        ok: number;
        last: { items: number; body: string };
      };
      assert.ok(summary.polls >= 3, `only ${summary.polls} polls`);
      assert.equal(summary.ok, summary.polls);
      assert.equal(summary.last.items, served);
      const body = JSON.parse(String(replies[3]));
      assert.equal(body.items.length, served);
      const chains = join(dir, "chains");
      const events = await chainEvents(join(chains, "fetcher.jsonl"));
      // Every poll came from the timer, and was answered to itself.
      const polls = events.filter((e) =>
        e.type === "message.in" && e.data.msg === "poll"
      );
      assert.equal(polls.length, summary.polls);
      assert.ok(polls.every((e) => String(e.data.from).startsWith("timer:")));
      assert.ok(events.some((e) =>
        e.type === "message.in" &&
        String(e.data.from).startsWith("fetcher") &&
        typeof e.data.msg === "object" && e.data.msg !== null &&
        "response" in e.data.msg
      ));
      await server.shutdown();
      await assertVerifiesAndReplays(chains);
    });
  } finally {
    await server.shutdown().catch(() => {});
  }
});
