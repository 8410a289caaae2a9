// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { compileCores, loadComponent } from "./component.ts";
import {
  type ActorExecutor,
  InProcessExecutor,
  WorkerPool,
} from "./executor.ts";
import {
  buildTestComponent,
  type TestComponent,
} from "./testdata/components.ts";
import { holdingComponent } from "./testdata/holding.ts";
import { VirtualClock } from "./virtual_clock.ts";
import { HANG_MS, waitFor } from "../tools/wait.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;

async function register(
  executor: ActorExecutor,
  actor: string,
  path: string,
  options: { timeoutMs?: number; memoryMb?: number } = {},
): Promise<void> {
  const c = await loadComponent(path);
  const memoryMb = options.memoryMb ?? 16;
  const component = {
    key: `${c.sha256}:${memoryMb}`,
    bindings: c.bindings,
    modules: compileCores(c, { memoryMb }),
  };
  if (executor instanceof InProcessExecutor) await executor.prepare(component);
  executor.register(actor, {
    component,
    timeoutMs: options.timeoutMs ?? 2000,
    context: () => ({ children: [] }),
  });
}

async function withTests(
  fn: (
    dir: string,
    build: (k: TestComponent) => Promise<string>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir, (k) => buildTestComponent(k, dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const make of [
    () => new InProcessExecutor(),
    () => new WorkerPool({ size: 2 }),
  ]
) {
  const name = make().constructor.name;
  Deno.test(`${name}: the counter runs init and handle with host calls`, async () => {
    const executor = make();
    try {
      await register(executor, "c", COUNTER);
      const init = await executor.call("c", {
        fn: "init",
        args: ['{"start":2}'],
      });
      assert.equal(init.status, "ok");
      assert.equal(init.status === "ok" && init.value, '{"count":2,"at":0}');
      const inc = await executor.call("c", {
        fn: "handle",
        args: ['{"count":2,"at":0}', '"inc"'],
      });
      assert.equal(inc.status, "ok");
      assert.deepEqual(inc.calls.map((c) => c.function), ["log", "now"]);
      assert.deepEqual(inc.calls[0].args, ["count is now 3"]);
      const value = inc.status === "ok" ? inc.value : null;
      assert.ok(Array.isArray(value));
      assert.equal(value[1], '{"count":3}');
      const bad = await executor.call("c", {
        fn: "handle",
        args: ['{"count":2}', '"bogus"'],
      });
      assert.deepEqual([bad.status, bad.status === "err" && bad.error], [
        "err",
        "unknown message",
      ]);
    } finally {
      executor.close();
    }
  });
}

Deno.test("WorkerPool: trap, err and bad JSON come back as outcomes", async () => {
  await withTests(async (_dir, build) => {
    const pool = new WorkerPool({ size: 1 });
    try {
      for (const kind of ["trap", "err", "junk"] as const) {
        await register(pool, kind, await build(kind));
        const o = await pool.call(kind, { fn: "handle", args: ["{}", "1"] });
        const expected = { trap: "trap", err: "err", junk: "ok" }[kind];
        assert.equal(o.status, expected, kind);
      }
    } finally {
      pool.close();
    }
  });
});

Deno.test("WorkerPool: a looping handler is cut off and its worker-mates go on", async () => {
  await withTests(async (_dir, build) => {
    const pool = new WorkerPool({ size: 1 });
    try {
      await register(pool, "spin", await build("loop"), { timeoutMs: 300 });
      await register(pool, "echo", await build("echo"));
      const [spin, echo] = await Promise.all([
        pool.call("spin", { fn: "handle", args: ["{}", "1"] }),
        pool.call("echo", { fn: "handle", args: ['{"n":1}', "2"] }),
      ]);
      assert.deepEqual(spin, {
        calls: [],
        status: "trap",
        error: "timed out after 300 ms",
      });
      assert.equal(echo.status, "ok");
      const again = await pool.call("echo", {
        fn: "handle",
        args: ["{}", "3"],
      });
      assert.equal(again.status, "ok");
    } finally {
      pool.close();
    }
  });
});

Deno.test("WorkerPool: a memory bomb fails at its limit", async () => {
  await withTests(async (_dir, build) => {
    const pool = new WorkerPool({ size: 1 });
    try {
      await register(pool, "bomb", await build("membomb"), { memoryMb: 8 });
      const o = await pool.call("bomb", { fn: "handle", args: ["{}", "1"] });
      assert.equal(o.status, "trap");
      assert.match(o.status === "trap" ? o.error : "", /unreachable/);
    } finally {
      pool.close();
    }
  });
});

Deno.test("WorkerPool: guest code finds no Deno namespace and no Worker to escape with", async () => {
  // Bindings are generated code, but defence in depth: even bindings that
  // try to kill the host, read process facts or start a worker of their
  // own find nothing to do it with.
  const pool = new WorkerPool({ size: 1 });
  try {
    const probe = (expr: string) => ({
      key: `probe:${expr}`,
      bindings: `${expr};\nexport function instantiate() { return {}; }`,
      modules: {},
    });
    for (
      const expr of [
        'Deno.kill(Deno.pid, "SIGKILL")',
        "Deno.cwd()",
        "Deno.execPath()",
        'new Worker("data:text/javascript,", { type: "module" })',
      ]
    ) {
      pool.register("probe", {
        component: probe(expr),
        timeoutMs: 1000,
        context: () => ({ children: [] }),
      });
      const outcome = await pool.call("probe", { fn: "init", args: ["{}"] });
      assert.equal(outcome.status, "trap", expr);
      assert.match(
        (outcome as { error: string }).error,
        /instantiation failed: .*(not defined|undefined|not a constructor)/,
        expr,
      );
      pool.unregister("probe");
    }
  } finally {
    pool.close();
  }
  // Still here: the host process was not killed.
});

/** Lets promise reactions already due run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("WorkerPool: a call waits for a free worker, not for a busy actor; the watchdog alone ends the busy call", async () => {
  await withTests(async (_dir, build) => {
    const clock = new VirtualClock();
    const pool = new WorkerPool({ size: 2, clock });
    try {
      // Held far longer than the test should take: a bound on a hang.
      pool.register("busy", {
        component: holdingComponent(HANG_MS),
        timeoutMs: 1000,
        context: () => ({ children: [] }),
      });
      await register(pool, "echo", await build("echo"));
      // Its instance is made and warm: the next call starts at once, and
      // its deadline runs from its dispatch.
      assert.equal(
        (await pool.call("busy", { fn: "init", args: ["{}"] })).status,
        "ok",
      );
      const order: string[] = [];
      const busy = pool.call("busy", { fn: "handle", args: ["{}", "1"] })
        .finally(() => order.push("busy"));
      for (let i = 0; i < 100; i++) {
        const outcome = await pool.call("echo", {
          fn: "handle",
          args: ["{}", String(i)],
        });
        assert.equal(outcome.status, "ok");
        order.push("echo");
      }
      assert.deepEqual(
        order,
        Array(100).fill("echo"),
        "every echo call was answered while the busy actor held its worker",
      );
      // The busy call ends at its limit plus the grace the watchdog gives
      // a guest to stop itself, and not a millisecond before.
      clock.advance(1999);
      await settle();
      assert.equal(order.length, 100, "the busy call ended before its time");
      clock.advance(1);
      assert.deepEqual(await busy, {
        calls: [],
        status: "trap",
        error: "timed out after 1000 ms",
      });
      assert.equal(order.at(-1), "busy");
      // Its worker was killed and replaced; the pool goes on.
      const again = await pool.call("echo", {
        fn: "handle",
        args: ["{}", "x"],
      });
      assert.equal(again.status, "ok");
    } finally {
      pool.close();
    }
  });
});

/**
 * The state of each of this process's worker threads (Linux: R running
 * or runnable, S sleeping, ...). Read by a shell, since Deno does not let
 * a process read its own /proc entry without every permission.
 */
async function workerStates(): Promise<string[]> {
  const script = `for t in /proc/${Deno.pid}/task/*; do
    echo "$(cat $t/comm) $(cut -d')' -f2- $t/stat)"; done 2>/dev/null`;
  const { stdout } = await new Deno.Command("sh", { args: ["-c", script] })
    .output();
  const states: string[] = [];
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const [comm, state] = line.trim().split(/\s+/);
    if (comm?.startsWith("worker")) states.push(state);
  }
  return states;
}

Deno.test("WorkerPool: a timed-out call stops in its worker; no thread spins on", async () => {
  // Deno's Worker.terminate() leaves a looping thread spinning forever, so
  // a time limit enforced by killing the worker would leak a core per
  // time-out. Instrumented guests stop themselves instead.
  await withTests(async (_dir, build) => {
    const pool = new WorkerPool({ size: 2 });
    try {
      await register(pool, "spinner", await build("loop"), { timeoutMs: 100 });
      for (let i = 0; i < 5; i++) {
        const outcome = await pool.call("spinner", {
          fn: "handle",
          args: ["{}", "1"],
        });
        assert.deepEqual(outcome, {
          calls: [],
          status: "trap",
          error: "timed out after 100 ms",
        });
      }
      assert.equal(pool.workers, 1, "the worker was not replaced");
      // A thread that spins is never asleep; an idle worker soon is.
      let seen: string[] = [];
      await waitFor("every worker thread asleep", async () => {
        seen = await workerStates();
        return seen.length > 0 && seen.every((s) => s === "S");
      }, { seen: () => `thread states ${seen.join(" ")}` });
    } finally {
      pool.close();
    }
  });
});
