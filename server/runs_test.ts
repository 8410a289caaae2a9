// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { VirtualClock, WorkerPool } from "../runtime/mod.ts";
import { buildTestComponent } from "../runtime/testdata/components.ts";
import { ActorSystem, loadManifest } from "../supervisor/mod.ts";
import { requestWithin } from "./runs.ts";

Deno.test("requestWithin: the outcome when it comes in time; null once the run's clock passes timeoutMs first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "theater_within_" });
  const pool = new WorkerPool({ size: 1 });
  const clock = new VirtualClock();
  const system = new ActorSystem({ executor: pool, clock });
  try {
    await buildTestComponent("echo", dir);
    await Deno.writeTextFile(
      join(dir, "echo.json"),
      JSON.stringify({
        name: "echo",
        component: "./echo.wasm",
        chain: { fsync: "none" },
      }),
    );
    await system.start(await loadManifest(join(dir, "echo.json")));
    // Time stands still: however slow the machine, the answer comes first.
    const answer = await requestWithin(system, {
      to: "echo",
      msg: 1,
      timeoutMs: 100,
    });
    assert.deepEqual(answer, { ok: true, reply: null, seq: 3 });
    // The clock passes the time-out before the worker can have answered.
    const late = requestWithin(system, { to: "echo", msg: 2, timeoutMs: 100 });
    clock.advance(99);
    clock.advance(1);
    assert.equal(await late, null);
    assert.equal(clock.pending, 0, "no timer left behind");
    // The step still goes to the chain.
    await system.idle();
    const d = await system.send("echo", 3);
    assert.equal(d.event.seq, 7);
  } finally {
    await system.shutdown("test over");
    pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});
