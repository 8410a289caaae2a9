// Copyright the Theater authors. MIT license.
import assert from "node:assert/strict";
import { join } from "node:path";
import { compileComponent, loadComponent } from "./component.ts";
import {
  type CompiledComponent,
  GuestTrap,
  type HostImports,
  instantiate,
  type Result,
} from "./instance.ts";
import type { Request } from "./testdata/instance_worker.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

async function compiled(
  path: string,
  memoryMb = 16,
): Promise<CompiledComponent> {
  return compileComponent(await loadComponent(path, { cacheDir: false }), {
    memoryMb,
  });
}

/** A host that records what the guest calls, with overridable parts. */
function recordingHost(
  overrides: { send?: HostImports["message"]["send"]; now?: () => number } = {},
): { host: HostImports; calls: string[] } {
  const calls: string[] = [];
  const no = (what: string) => (): Result<never> => {
    calls.push(what);
    return { ok: false, error: `no ${what}` };
  };
  const host: HostImports = {
    runtime: {
      log: (msg) => void calls.push(`log(${msg})`),
      now: () => {
        calls.push("now()");
        return overrides.now?.() ?? 1700000000000;
      },
      random: (len) => {
        calls.push(`random(${len})`);
        return new Uint8Array(len).fill(4);
      },
      selfId: () => (calls.push("self-id()"), "me"),
    },
    message: {
      send: (to, msg) => {
        calls.push(`send(${to}, ${msg})`);
        return overrides.send?.(to, msg) ?? { ok: true, value: null };
      },
      sender: () => "external",
      request: no("request"),
    },
    timers: {
      after: no("after"),
      every: no("every"),
      cancel: () => false,
    },
    store: { put: no("put"), get: () => null },
    http: { fetch: no("fetch") },
    supervisor: {
      spawn: no("spawn"),
      stop: no("stop"),
      restart: no("restart"),
      children: () => (calls.push("children()"), []),
    },
  };
  return { host, calls };
}

Deno.test("the counter: init and handle round trip, host calls observed", async () => {
  const { host, calls } = recordingHost();
  const actor = await instantiate(await compiled(COUNTER), host);
  assert.equal(actor.supervised, false);
  const init = actor.init('{"start":41}');
  assert.deepEqual(init, { ok: true, value: '{"count":41,"at":0}' });
  assert.deepEqual(calls, []);

  const inc = actor.handle('{"count":41,"at":0}', '"inc"');
  assert.deepEqual(inc, {
    ok: true,
    value: { state: '{"count":42,"at":1700000000000}', reply: '{"count":42}' },
  });
  assert.deepEqual(calls, ["log(count is now 42)", "now()"]);

  calls.length = 0;
  const add = actor.handle('{"count":42,"at":5}', '{"op":"add","n":100}');
  assert.ok(add.ok);
  assert.equal(add.value.reply, '{"count":142}');
  assert.equal(JSON.parse(add.value.state).count, 142);
  assert.deepEqual(calls, ["log(count is now 142)", "now()"]);

  calls.length = 0;
  const roll = actor.handle('{"count":3,"at":5}', '"roll"');
  assert.deepEqual(roll, {
    ok: true,
    value: { state: '{"count":3,"at":5}', reply: '{"count":3,"roll":5}' },
  });
  assert.deepEqual(calls, ["random(1)"]);

  calls.length = 0;
  const get = actor.handle('{"count":7,"at":5}', '"get"');
  assert.deepEqual(get, {
    ok: true,
    value: { state: '{"count":7,"at":5}', reply: '{"count":7}' },
  });
  assert.deepEqual(calls, []);
});

Deno.test("an err result is a value, and the instance goes on", async () => {
  const actor = await instantiate(
    await compiled(COUNTER),
    recordingHost().host,
  );
  assert.deepEqual(actor.handle('{"count":1}', '"bogus"'), {
    ok: false,
    error: "unknown message",
  });
  const err = await instantiate(
    await compiled(join(TESTDATA, "err.wasm")),
    recordingHost().host,
  );
  assert.deepEqual(err.handle("{}", "1"), {
    ok: false,
    error: "handler refused",
  });
  assert.equal(err.trapped, false);
  assert.deepEqual(actor.handle('{"count":1,"at":0}', '"get"').ok, true);
});

Deno.test("a trap is thrown as GuestTrap and the instance is dead after it", async () => {
  const actor = await instantiate(
    await compiled(join(TESTDATA, "trap.wasm")),
    recordingHost().host,
  );
  assert.deepEqual(actor.init("{}"), { ok: true, value: "{}" });
  assert.throws(
    () => actor.handle("{}", "1"),
    (e) =>
      e instanceof GuestTrap && e.message === "handle trapped: unreachable" &&
      e.cause instanceof WebAssembly.RuntimeError,
  );
  assert.equal(actor.trapped, true);
  assert.throws(
    () => actor.init("{}"),
    (e) =>
      e instanceof GuestTrap && /init: the instance trapped earlier/.test(
        e.message,
      ),
  );
});

Deno.test("a host function that throws traps the guest; one that returns err does not", async () => {
  const relay = await compiled(join(TESTDATA, "relay.wasm"));
  const refused = recordingHost({
    send: () => ({ ok: false, error: "nobody" }),
  });
  const a = await instantiate(relay, refused.host);
  assert.deepEqual(a.handle('{"n":1}', '"peer"'), {
    ok: true,
    value: { state: '{"n":1}', reply: null },
  });
  assert.deepEqual(refused.calls, ['send(peer, "ping")']);

  const boom = new Error("host bug");
  const b = await instantiate(
    relay,
    recordingHost({
      send: () => {
        throw boom;
      },
    }).host,
  );
  assert.throws(
    () => b.handle("{}", '"peer"'),
    (e) =>
      e instanceof GuestTrap && e.cause === boom &&
      e.message === "handle trapped: host bug",
  );
});

Deno.test("strings come back as the guest made them: JSON is the caller's check", async () => {
  const junk = await instantiate(
    await compiled(join(TESTDATA, "junk.wasm")),
    recordingHost().host,
  );
  assert.deepEqual(junk.handle("{}", "1"), {
    ok: true,
    value: { state: "not json", reply: null },
  });
});

Deno.test("memory growth stops at the compiled limit", async () => {
  const bomb = await instantiate(
    await compiled(join(TESTDATA, "membomb.wasm"), 2),
    recordingHost().host,
  );
  assert.throws(() => bomb.handle("{}", "1"), GuestTrap);
});

Deno.test("the supervised export is there when the component has it", async () => {
  const sup = await instantiate(
    await compiled(join(TESTDATA, "supervisor.wasm")),
    recordingHost().host,
  );
  assert.equal(sup.supervised, true);
  assert.deepEqual(sup.onChildEvent?.("{}", '{"child":"x"}'), {
    ok: true,
    value: '{"child":"x"}',
  });
});

Deno.test("many instances share one compilation and keep their own memory", async () => {
  const component = await compiled(COUNTER);
  const actors = await Promise.all(
    Array.from(
      { length: 200 },
      () => instantiate(component, recordingHost().host),
    ),
  );
  actors.forEach((a, i) => {
    const r = a.handle(`{"count":${i},"at":0}`, '"inc"');
    assert.ok(r.ok);
    assert.equal(r.value.reply, `{"count":${i + 1}}`);
  });
});

Deno.test("instantiate runs in a worker with no permissions at all", async () => {
  const worker = new Worker(
    new URL("./testdata/instance_worker.ts", import.meta.url),
    { type: "module", deno: { permissions: "none" } } as WorkerOptions,
  );
  try {
    const answer = new Promise<
      { results: unknown[]; hostCalls: string[]; read: string }
    >((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    worker.postMessage(
      {
        component: await compiled(COUNTER),
        calls: [
          ["init", ['{"start":9}']],
          ["handle", ['{"count":9,"at":0}', '"inc"']],
        ],
      } satisfies Request,
    );
    const { results, hostCalls, read } = await answer;
    assert.deepEqual(results, [
      { ok: true, value: '{"count":9,"at":0}' },
      {
        ok: true,
        value: { state: '{"count":10,"at":1234}', reply: '{"count":10}' },
      },
    ]);
    assert.deepEqual(hostCalls, ["log count is now 10", "now"]);
    assert.equal(read, "NotCapable");
  } finally {
    worker.terminate();
  }
});
