// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChainEvent, eventLine, sealEvent } from "../chain/mod.ts";
import { chainEvents, runCli, withTempDir } from "./_helpers.ts";

/** `theater verify <subject> --checkpoint <cp> --pubkey <pub>`. */
function verifyAgainst(subject: string, cp: string, pub: string) {
  return runCli(["verify", subject, "--checkpoint", cp, "--pubkey", pub]);
}

const RECORDED = new URL(
  "../examples/counter/recorded/counter.jsonl",
  import.meta.url,
).pathname;

Deno.test("keygen, checkpoint, prove and verify without the chain", async () => {
  await withTempDir(async (dir) => {
    const chain = join(dir, "counter.jsonl");
    await Deno.copyFile(RECORDED, chain);
    const k = join(dir, "k");
    assert.equal(
      (await runCli(["keygen", "--out", k, "--name", "ci"])).code,
      0,
    );
    assert.equal((await Deno.stat(`${k}.key`)).mode! & 0o777, 0o600);
    const cp = join(dir, "cp");
    const made = await runCli([
      "checkpoint",
      chain,
      "--key",
      `${k}.key`,
      "--out",
      cp,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const ok = await verifyAgainst(chain, cp, `${k}.pub`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /ok against theater\/counter at tree size 16, signed by ci/,
    );

    const inc = join(dir, "inc.json");
    await runCli(["prove", chain, "--event", "9", "--out", inc]);
    const cons = join(dir, "cons.json");
    await runCli(["prove", chain, "--from", "4", "--out", cons]);
    await Deno.remove(chain);
    for (const proof of [inc, cons]) {
      const r = await runCli([
        "verify",
        "--proof",
        proof,
        "--checkpoint",
        cp,
        "--pubkey",
        `${k}.pub`,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const p = JSON.parse(await Deno.readTextFile(inc));
    p.event.data.msg = "forged";
    await Deno.writeTextFile(inc, JSON.stringify(p));
    const bad = await runCli([
      "verify",
      "--proof",
      inc,
      "--checkpoint",
      cp,
      "--pubkey",
      `${k}.pub`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the event's hash does not match its contents/);
  });
});

Deno.test("verify --checkpoint catches truncation and a bad signature", async () => {
  await withTempDir(async (dir) => {
    const chain = join(dir, "counter.jsonl");
    await Deno.copyFile(RECORDED, chain);
    const k = join(dir, "k");
    await runCli(["keygen", "--out", k]);
    const cp = join(dir, "cp");
    await runCli(["checkpoint", chain, "--key", `${k}.key`, "--out", cp]);
    const lines = (await Deno.readTextFile(chain)).split("\n");
    await Deno.writeTextFile(chain, lines.slice(0, 12).join("\n") + "\n");
    const cut = await verifyAgainst(chain, cp, `${k}.pub`);
    assert.equal(cut.code, 1);
    assert.match(
      cut.stderr,
      /has 12 events, fewer than the 16 of the checkpoint: it was truncated/,
    );
    const text = await Deno.readTextFile(cp);
    await Deno.writeTextFile(cp, text.replace("\n16\n", "\n12\n"));
    const forged = await verifyAgainst(chain, cp, `${k}.pub`);
    assert.equal(forged.code, 1);
    assert.match(
      forged.stderr,
      /no valid signature by theater on the checkpoint/,
    );
  });
});

Deno.test("run writes signed checkpoints every N events when the manifest asks", async () => {
  await withTempDir(async (dir) => {
    const counter = new URL(
      "../examples/counter/counter.wasm",
      import.meta.url,
    );
    await Deno.copyFile(counter, join(dir, "counter.wasm"));
    await runCli(["keygen", "--out", join(dir, "k")]);
    const manifest = join(dir, "m.json");
    await Deno.writeTextFile(
      manifest,
      JSON.stringify({
        name: "counter",
        component: "./counter.wasm",
        chain: { dir: "chains", checkpoint: { key: "./k.key", every: 4 } },
      }),
    );
    const r = await runCli(["run", manifest, "--quiet"], {
      stdin: '"inc"\n"inc"\n"roll"\n',
    });
    assert.equal(r.code, 0, r.stderr);
    const chain = join(dir, "chains", "counter.jsonl");
    const cp = join(dir, "chains", "counter.checkpoint");
    const events = (await Deno.readTextFile(chain)).trim().split("\n").length;
    assert.match(
      await Deno.readTextFile(cp),
      new RegExp(`^theater/counter\\n${events}\\n`),
    );
    const ok = await runCli([
      "verify",
      chain,
      "--checkpoint",
      cp,
      "--pubkey",
      join(dir, "k.pub"),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    // The whole run directory with every checkpoint it holds.
    const chains = join(dir, "chains");
    const original = await Deno.readTextFile(chain);
    const all = await runCli([
      "verify",
      chains,
      "--pubkey",
      join(dir, "k.pub"),
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /1 checkpoint signed by /);
    // Rewritten consistently (every hash and parent redone), the chain
    // verifies on its own, but not against the checkpoint beside it.
    let parent: string | null = null;
    const forged = (await chainEvents(chain)).map((e) => {
      const { hash: _, ...rest } = e;
      if (e.type === "handle.ok") {
        rest.data = { ...rest.data, reply: { count: 1000 } };
      }
      const sealed: ChainEvent = sealEvent({ ...rest, parent });
      parent = sealed.hash;
      return eventLine(sealed) + "\n";
    });
    await Deno.writeTextFile(chain, forged.join(""));
    assert.equal((await runCli(["verify", chains])).code, 0);
    const caught = await runCli([
      "verify",
      chains,
      "--pubkey",
      join(dir, "k.pub"),
    ]);
    assert.equal(caught.code, 1, caught.stdout);
    assert.match(caught.stderr, /counter/);
    await Deno.writeTextFile(chain, original);
    // A checkpoint that another key did not sign is refused.
    await runCli(["keygen", "--out", join(dir, "other")]);
    const other = await runCli([
      "verify",
      chains,
      "--pubkey",
      join(dir, "other.pub"),
    ]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /counter\.checkpoint: /);
    await Deno.writeTextFile(chain, original);
    const lines = (await Deno.readTextFile(chain)).split("\n");
    await Deno.writeTextFile(
      chain,
      lines.slice(0, events - 2).join("\n") + "\n",
    );
    const cut = await runCli([
      "verify",
      chain,
      "--checkpoint",
      cp,
      "--pubkey",
      join(dir, "k.pub"),
    ]);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /it was truncated/);
  });
});

Deno.test("verify --proof --old-checkpoint: a consistency proof must start from the auditor's signed root", async () => {
  await withTempDir(async (dir) => {
    const chain = join(dir, "counter.jsonl");
    await Deno.copyFile(RECORDED, chain);
    const k = join(dir, "k");
    await runCli(["keygen", "--out", k]);
    const checkpoint = async (size: number) => {
      const out = join(dir, `cp${size}`);
      const r = await runCli([
        "checkpoint",
        chain,
        "--key",
        `${k}.key`,
        "--size",
        String(size),
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return out;
    };
    const [old4, old5, now] = [
      await checkpoint(4),
      await checkpoint(5),
      await checkpoint(16),
    ];
    const proof = join(dir, "cons.json");
    await runCli(["prove", chain, "--from", "4", "--out", proof]);
    const check = (old: string | null) =>
      runCli([
        "verify",
        "--proof",
        proof,
        "--checkpoint",
        now,
        "--pubkey",
        `${k}.pub`,
        ...(old ? ["--old-checkpoint", old] : []),
      ]);
    let r = await check(old4);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /note:/);
    r = await check(null);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /first_root was not compared .* --old-checkpoint/);
    r = await check(old5);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /starts from a tree of 4, the old checkpoint has 5/);
    // Roots and path in base64, as checkpoints write them, read the same.
    const p = JSON.parse(await Deno.readTextFile(proof));
    const b64 = (hex: string) =>
      btoa(
        String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))),
      );
    p.first_root = b64(p.first_root);
    p.path = p.path.map(b64);
    await Deno.writeTextFile(proof, JSON.stringify(p));
    r = await check(old4);
    assert.equal(r.code, 0, r.stderr);
  });
});
