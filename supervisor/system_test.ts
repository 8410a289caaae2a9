// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChainEvent, readEvents, verifyDir } from "../chain/mod.ts";
import { replayChain, VirtualClock, WorkerPool } from "../runtime/mod.ts";
import {
  buildTestComponent,
  type TestComponent,
} from "../runtime/testdata/components.ts";
import { HoldingPool } from "../runtime/testdata/holding.ts";
import { HANG_MS } from "../tools/wait.ts";
import { loadManifest } from "./manifest.ts";
import { ActorSystem, type SystemOptions } from "./system.ts";

async function events(dir: string, actor: string): Promise<ChainEvent[]> {
  const out: ChainEvent[] = [];
  for await (const e of readEvents(join(dir, "chains", `${actor}.jsonl`))) {
    out.push(e);
  }
  return out;
}

function childEvents(list: ChainEvent[]): string[] {
  return list.filter((e) => e.type === "child.event").map((e) =>
    `${e.data.child} ${e.data.event}`
  );
}

function count(list: ChainEvent[], type: string): number {
  return list.filter((e) => e.type === type).length;
}

interface Tree {
  dir: string;
  system: ActorSystem;
  fatal: string[];
}

/**
 * A supervisor `sup` (exports on-child-event) with children `sup.a`,
 * `sup.bad` (of the given kind) and `sup.c`, started in a temp dir.
 */
async function withTree(
  bad: TestComponent,
  supervision: Record<string, unknown>,
  fn: (tree: Tree) => Promise<void>,
  badLimits: Record<string, unknown> = {},
  badSupervision: Record<string, unknown> = {},
  run: { pool?: WorkerPool; system?: SystemOptions } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "theater_sup_" });
  const pool = run.pool ?? new WorkerPool({ size: 2 });
  const fatal: string[] = [];
  try {
    for (const kind of ["supervisor", "echo", bad] as const) {
      await buildTestComponent(kind, dir);
    }
    const write = (name: string, body: Record<string, unknown>) =>
      Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(body));
    await write("echo", { name: "echo", component: "./echo.wasm" });
    await write("a", { name: "a", component: "./echo.wasm" });
    await write("c", { name: "c", component: "./echo.wasm" });
    await write("bad", {
      name: "bad",
      component: `./${bad}.wasm`,
      limits: { handle_timeout_ms: 300, memory_mb: 8, ...badLimits },
      supervision: badSupervision,
    });
    await write("sup", {
      name: "sup",
      component: "./supervisor.wasm",
      supervision,
      children: [
        { manifest: "./a.json" },
        { manifest: "./bad.json" },
        { manifest: "./c.json" },
      ],
    });
    const system = new ActorSystem({
      ...run.system,
      executor: pool,
      onFatal: (m) => fatal.push(m),
    });
    const init = await system.start(await loadManifest(join(dir, "sup.json")));
    assert.equal(init.ok, true, init.error);
    try {
      await fn({ dir, system, fatal });
    } finally {
      await system.shutdown("test over");
    }
    const report = await verifyDir(join(dir, "chains"));
    assert.equal(report.ok, true, report.error?.message);
    assert.ok(report.links >= 3, `cross-links checked: ${report.links}`);
  } finally {
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("children start with their parent, which hears about it", async () => {
  await withTree("echo", {}, async ({ dir, system }) => {
    assert.deepEqual(system.children("sup"), ["sup.a", "sup.bad", "sup.c"]);
    await system.idle();
    const sup = await events(dir, "sup");
    assert.deepEqual(childEvents(sup), [
      "sup.a started",
      "sup.bad started",
      "sup.c started",
    ]);
    // on-child-event ran: the supervisor keeps the last event as its state.
    const last = sup.filter((e) => e.type === "handle.ok").at(-1);
    assert.deepEqual(last?.data.state, {
      child: "sup.c",
      event: "started",
      reason: null,
    });
    const a = await events(dir, "sup.a");
    const init = sup.find((e) => e.type === "actor.init");
    assert.deepEqual(a[0].data.link, { actor: "sup", hash: init?.hash });
  });
});

for (const kind of ["trap", "loop", "membomb", "junk"] as const) {
  Deno.test(`a ${kind} child is restarted; siblings keep answering`, async () => {
    await withTree(kind, {}, async ({ dir, system }) => {
      const a1 = await system.send("sup.a", { n: 1 });
      const crash = await system.send("sup.bad", "go");
      assert.equal(crash.ok, false);
      assert.equal(crash.crashed, true);
      const [a2, c2, after] = await Promise.all([
        system.send("sup.a", { n: 2 }),
        system.send("sup.c", { n: 3 }),
        system.send("sup.bad", "again"),
      ]);
      assert.deepEqual([a1.ok, a2.ok, c2.ok], [true, true, true]);
      assert.equal(after.ok, false, "the restarted child is still hostile");
      await system.idle();
      const sup = await events(dir, "sup");
      assert.deepEqual(childEvents(sup).slice(3, 5), [
        "sup.bad failed",
        "sup.bad restarted",
      ]);
      const failed = sup.find((e) =>
        e.type === "child.event" && e.data.event === "failed"
      );
      assert.match(
        String(failed?.data.reason),
        {
          trap: /unreachable/,
          loop: /timed out after 300 ms/,
          membomb: /unreachable/,
          junk: /not valid JSON/,
        }[kind],
      );
      const bad = await events(dir, "sup.bad");
      assert.equal(
        count(bad, "actor.start"),
        3,
        "started, then restarted twice",
      );
      // Nothing acknowledged is lost: every reply has its events.
      const a = await events(dir, "sup.a");
      assert.equal(count(a, "handle.ok"), 2);
      assert.equal(count(a, "message.in"), 2);
    });
  });
}

for (
  const [strategy, restarted] of [
    ["one-for-one", ["sup.bad"]],
    ["one-for-all", ["sup.a", "sup.bad", "sup.c"]],
    ["rest-for-one", ["sup.bad", "sup.c"]],
  ] as const
) {
  Deno.test(`${strategy}: restarts ${restarted.join(", ")}`, async () => {
    await withTree("trap", { strategy }, async ({ dir, system }) => {
      await system.send("sup.bad", "go");
      await system.idle();
      for (const child of ["sup.a", "sup.bad", "sup.c"]) {
        const starts = count(await events(dir, child), "actor.start");
        assert.equal(
          starts,
          (restarted as readonly string[]).includes(child) ? 2 : 1,
          child,
        );
      }
      const sup = childEvents(await events(dir, "sup"));
      assert.deepEqual(
        sup.filter((e) => e.endsWith("restarted")).sort(),
        restarted.map((c) => `${c} restarted`),
      );
    });
  });
}

Deno.test("a restart storm past the intensity makes the root give up", async () => {
  await withTree(
    "trap",
    { max_restarts: 2, period_ms: 60_000 },
    async ({ dir, system, fatal }) => {
      for (let i = 0; i < 3; i++) await system.send("sup.bad", i);
      await system.idle();
      assert.equal(fatal.length, 1);
      assert.match(fatal[0], /sup gave up on sup\.bad: more than 2 restarts/);
      assert.equal(system.failure, fatal[0]);
      const sup = childEvents(await events(dir, "sup"));
      assert.ok(sup.includes("sup.bad given-up"));
      assert.deepEqual(system.children("sup"), []);
      for (const child of ["sup.a", "sup.bad", "sup.c"]) {
        const list = await events(dir, child);
        assert.equal(list.at(-1)?.type, "actor.stop", child);
      }
    },
  );
});

Deno.test("a temporary child is not restarted", async () => {
  await withTree(
    "trap",
    {},
    async ({ dir, system }) => {
      await system.send("sup.bad", "go");
      await system.idle();
      assert.deepEqual(system.children("sup"), ["sup.a", "sup.c"]);
      const sup = childEvents(await events(dir, "sup"));
      assert.deepEqual(sup.slice(3), ["sup.bad failed", "sup.bad stopped"]);
    },
    {},
    { restart: "temporary" },
  );
});

Deno.test("a crash in the parent's own handler leaves the children running", async () => {
  await withTree("echo", {}, async ({ dir, system }) => {
    const crash = await system.send("sup", "trap");
    assert.equal(crash.ok, false);
    const a = await system.send("sup.a", 1);
    assert.equal(a.ok, true);
    const again = await system.send("sup", "hello");
    assert.equal(again.ok, true);
    assert.equal(count(await events(dir, "sup"), "handle.error"), 1);
  });
});

Deno.test("spawn starts a linked child after the handler commits", async () => {
  await withTree("echo", {}, async ({ dir, system }) => {
    const d = await system.send("sup", "spawn");
    assert.equal(d.reply, "sup.echo-1");
    await system.idle();
    assert.deepEqual(system.children("sup").at(-1), "sup.echo-1");
    const reply = await system.send("sup.echo-1", { hi: 1 });
    assert.equal(reply.ok, true);
    const sup = await events(dir, "sup");
    const call = sup.find((e) =>
      e.type === "host.call" && e.data.function === "spawn"
    );
    assert.deepEqual(call?.data.result, { ok: "sup.echo-1" });
    const child = await events(dir, "sup.echo-1");
    assert.deepEqual(child[0].data.link, { actor: "sup", hash: call?.hash });
    assert.ok(childEvents(sup).includes("sup.echo-1 started"));
    const second = await system.send("sup", "spawn");
    assert.equal(second.reply, "sup.echo-2");
  });
});

Deno.test("a message to an unknown actor is an error to the sender", async () => {
  await withTree("relay", {}, async ({ dir, system }) => {
    await assert.rejects(system.send("nobody", 1), /no actor "nobody"/);
    const d = await system.send("sup.bad", "nobody");
    assert.equal(d.ok, true);
    const ok = await system.send("sup.bad", "sup.a");
    assert.equal(ok.ok, true);
    await system.idle();
    const relay = await events(dir, "sup.bad");
    const sends = relay.filter((e) => e.type === "host.call");
    assert.deepEqual(sends.map((e) => e.data.result), [
      { err: 'no actor "nobody" is running' },
      { ok: null },
    ]);
    const a = await events(dir, "sup.a");
    const got = a.find((e) => e.type === "message.in");
    assert.equal(got?.data.from, "sup.bad");
    assert.equal(got?.data.msg, "ping");
    const out = relay.find((e) => e.type === "message.out");
    assert.deepEqual(got?.data.link, { actor: "sup.bad", hash: out?.hash });
  });
});

Deno.test("restart_from init runs init again after a crash", async () => {
  await withTree(
    "trap",
    {},
    async ({ dir, system }) => {
      await system.send("sup.bad", "go");
      await system.idle();
      const bad = await events(dir, "sup.bad");
      const types = bad.map((e) => e.type);
      const restart = types.lastIndexOf("actor.start");
      assert.ok(restart > 0);
      assert.equal(types[restart + 1], "actor.init", types.join(" "));
    },
    {},
    { restart_from: "init" },
  );
});

Deno.test("fairness: all 100 of a sibling's replies are recorded before the first time-out of a child busy on its message", async () => {
  // sup.bad holds its worker until the pool's watchdog, on this test's
  // clock, cuts it off at its limit (300 ms) plus the grace (1000 ms).
  const clock = new VirtualClock();
  const pool = new HoldingPool(["sup.bad"], {
    size: 2,
    clock,
    holdMs: HANG_MS,
  });
  const recorded: string[] = [];
  await withTree(
    "loop",
    {},
    async ({ system, fatal }) => {
      const busy = system.send("sup.bad", 1);
      for (let i = 0; i < 100; i++) {
        const d = await system.send("sup.a", i);
        assert.equal(d.ok, true);
      }
      let ended = false;
      busy.finally(() => ended = true);
      clock.advance(1299);
      for (let i = 0; i < 10; i++) await Promise.resolve();
      assert.equal(ended, false, "cut off before its limit and grace");
      clock.advance(1);
      const timedOut = await busy;
      assert.equal(timedOut.crashed, true);
      assert.equal(timedOut.error, "trap: timed out after 300 ms");
      await system.idle();
      const replies = recorded.filter((r) => r === "sup.a handle.ok");
      assert.equal(replies.length, 100);
      const timeout = recorded.indexOf("sup.bad handle.error");
      assert.ok(timeout !== -1, "the time-out is recorded");
      assert.ok(
        recorded.lastIndexOf("sup.a handle.ok") < timeout,
        `the time-out came before a reply: ${recorded.join(", ")}`,
      );
      assert.deepEqual(fatal, []);
    },
    {},
    {},
    {
      pool,
      system: {
        clock,
        onEvent: (actor, e) => {
          if (actor !== "sup") recorded.push(`${actor} ${e.type}`);
        },
      },
    },
  );
});

Deno.test("mailbox: a send to a full mailbox is refused, never queued without bound", async () => {
  await withTree("echo", {}, async ({ system }) => {
    const sends = Array.from(
      { length: 1500 },
      (_, i) => system.send("sup.a", i).then(() => "ok", (e) => e.message),
    );
    const results = await Promise.all(sends);
    const refused = results.filter((r) => r !== "ok");
    assert.equal(results.filter((r) => r === "ok").length, 1000);
    assert.equal(refused.length, 500);
    assert.match(
      refused[0],
      /not delivered: the mailbox of sup\.a is full \(limits\.mailbox = 1000\)/,
    );
    // Once drained, it takes messages again.
    assert.equal((await system.send("sup.a", "again")).ok, true);
  });
});

Deno.test("mailbox: a guest's send to a full mailbox gets err", async () => {
  await withTree("relay", {}, async ({ dir, system }) => {
    // sup.bad relays "ping" to the actor its message names. Fill sup.a's
    // mailbox (limit 1000) from outside, then have sup.bad send to it.
    const fill = Array.from(
      { length: 1000 },
      (_, i) => system.send("sup.a", i).catch(() => {}),
    );
    const relayed = await system.send("sup.bad", "sup.a");
    await Promise.all(fill);
    assert.equal(relayed.ok, true);
    await system.idle();
    const bad = await events(dir, "sup.bad");
    const send = bad.find((e) =>
      e.type === "host.call" && e.data.function === "send"
    );
    assert.deepEqual(send?.data.result, {
      err: 'the mailbox of "sup.a" is full',
    });
  });
});

Deno.test("restart: messages sent while siblings restart wait for the restart, and none is lost", async () => {
  await withTree(
    "trap",
    { strategy: "one-for-all", max_restarts: 10, period_ms: 60000 },
    async ({ dir, system }) => {
      const crash = system.send("sup.bad", 1);
      const during = Array.from(
        { length: 20 },
        (_, i) => system.send(i % 2 ? "sup.a" : "sup.c", i),
      );
      assert.equal((await crash).crashed, true);
      const delivered = await Promise.all(during);
      assert.ok(delivered.every((d) => d.ok), "every message was answered");
      await system.idle();
      for (const actor of ["sup.a", "sup.c"]) {
        const list = await events(dir, actor);
        assert.equal(count(list, "handle.error"), 0, actor);
        assert.equal(count(list, "message.in"), 10, actor);
        // Stopped and started again exactly once, in that order.
        const life = list.filter((e) => e.type.startsWith("actor."))
          .map((e) => e.type);
        assert.deepEqual(life.slice(0, 4), [
          "actor.start",
          "actor.init",
          "actor.stop",
          "actor.start",
        ]);
        const replayed = await replayChain(
          join(dir, "chains", `${actor}.jsonl`),
          { search: [dir] },
        );
        assert.equal(replayed.ok, true, replayed.divergence?.detail);
      }
    },
  );
});
