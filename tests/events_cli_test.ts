// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChainWriter } from "../chain/mod.ts";
import { runCli, withTempDir } from "./_helpers.ts";

/** A run directory where `a` sends `b` one message. */
async function twoActors(dir: string): Promise<void> {
  const start = (actor: string) => ({
    component: "00".repeat(32),
    manifest: { name: actor },
    params: null,
    link: null,
  });
  const a = await ChainWriter.open(join(dir, "a.jsonl"), {
    actor: "a",
    fsync: "none",
  });
  const b = await ChainWriter.open(join(dir, "b.jsonl"), {
    actor: "b",
    fsync: "none",
  });
  await a.append("actor.start", start("a"), { ts: 1000 });
  await b.append("actor.start", start("b"), { ts: 1001 });
  const out = await a.append("message.out", { to: "b", msg: "hi" }, {
    ts: 1002,
  });
  await b.append("message.in", {
    from: "a",
    msg: "hi",
    link: { actor: "a", hash: out.hash },
  }, { ts: 1003 });
  await a.close();
  await b.close();
}

Deno.test("events: a run directory is one timeline, interleaved by time, links named", async () => {
  await withTempDir(async (dir) => {
    await twoActors(dir);
    const r = await runCli(["events", dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
      ["a 0", "b 0", "a 1", "b 1"],
    );
    assert.match(lines[3], /message\.in .* from a: "hi"\s+<- a#1$/);
  });
});

Deno.test("events: a bad type is a usage error, --from past the end exits 1", async () => {
  await withTempDir(async (dir) => {
    await twoActors(dir);
    const chain = join(dir, "a.jsonl");
    let r = await runCli(["events", chain, "--type", "foo"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--type: no event type "foo" \(types: actor\.start/);
    r = await runCli(["events", chain, "--from", "50"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /no events from seq 50: the chain has events 0 to 1/,
    );
    r = await runCli(["events", join(dir, "missing.jsonl")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing\.jsonl: .*(No such file|not found)/i);
  });
});

Deno.test("events --follow shows events appended while it runs, and stops on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    await twoActors(dir);
    const chain = join(dir, "a.jsonl");
    const r = await runCli(["events", chain, "--follow"], {
      signal: "SIGTERM",
      // Once it has shown the chain so far, an event is appended; SIGTERM
      // once it has shown that one too.
      signalWhen: async ({ stdout }) => {
        await stdout.until((l) => /message\.out/.test(l), "a's last event");
        const writer = await ChainWriter.open(chain, {
          actor: "a",
          fsync: "none",
        });
        await writer.append("actor.stop", { reason: "late" });
        await writer.close();
        await stdout.until((l) => /actor\.stop .* late/.test(l), "the new one");
      },
      timeoutMs: 60_000,
    });
    assert.ok(r.signalled, r.signalError ?? r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.killed, false);
    assert.match(r.stdout, /actor\.stop .* late/);
  });
});

Deno.test("events --follow holds back a line still being written until its newline comes", async () => {
  await withTempDir(async (tmp) => {
    // The run directory holds the chains only; the copy is beside it.
    const dir = join(tmp, "run");
    await Deno.mkdir(dir);
    await twoActors(dir);
    const chain = join(dir, "a.jsonl");
    // The next event's line, made on a copy of the chain, is then written
    // to the chain in two parts while the follower runs.
    const lines = (await Deno.readTextFile(chain)).trim().split("\n");
    const last = JSON.parse(lines.at(-1)!);
    await Deno.copyFile(chain, join(tmp, "copy.jsonl"));
    const copy = await ChainWriter.open(join(tmp, "copy.jsonl"), {
      actor: "a",
      fsync: "none",
    });
    const stop = await copy.append("actor.stop", { reason: "torn" });
    await copy.close();
    assert.equal(stop.parent, last.hash);
    const line = (await Deno.readTextFile(join(tmp, "copy.jsonl")))
      .trim().split("\n").at(-1)!;
    // The run directory is followed: an event appended to b after the
    // first part of a's line shows only after a poll that read that part,
    // so the rest is written once b's event is out.
    const r = await runCli(["events", dir, "--follow", "--json"], {
      signal: "SIGTERM",
      signalWhen: async ({ stdout }) => {
        const json =
          (match: (e: Record<string, unknown>) => boolean) => (l: string) => {
            try {
              return match(JSON.parse(l));
            } catch {
              return false;
            }
          };
        await stdout.until(json((e) => e.hash === last.hash), "a's last event");
        const file = await Deno.open(chain, { append: true });
        try {
          await file.write(new TextEncoder().encode(line.slice(0, 40)));
          const b = await ChainWriter.open(join(dir, "b.jsonl"), {
            actor: "b",
            fsync: "none",
          });
          const marker = await b.append("actor.stop", { reason: "marker" });
          await b.close();
          await stdout.until(
            json((e) => e.hash === marker.hash),
            "b's event, appended after half of a's line",
          );
          await file.write(new TextEncoder().encode(line.slice(40) + "\n"));
        } finally {
          file.close();
        }
        await stdout.until(json((e) => e.hash === stop.hash), "a's whole line");
      },
      timeoutMs: 60_000,
    });
    assert.ok(r.signalled, r.signalError ?? r.stderr);
    assert.equal(r.code, 0, r.stderr);
    const shown = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    // The whole event once, never a half line (that would be an error).
    assert.equal(
      shown.filter((e) => e.actor === "a" && e.type === "actor.stop").length,
      1,
    );
    assert.equal(shown.at(-1).hash, stop.hash);
  });
});
