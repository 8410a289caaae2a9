// Copyright the Theater authors. MIT license.
/**
 * The component layer alone (jco 1.11.2 "sync" bindings, in process, no
 * recording): a bare `handle` call into the counter through the jco
 * export and through {@linkcode ActorInstance}, and instantiate time. Run
 * with `--v8-flags=--expose-gc` to also print memory per instance for
 * 1,000 counter instances when the file loads.
 *
 * @module
 */
import {
  type ActorInstance,
  compileComponent,
  type HostImports,
  instantiate,
  loadComponent,
} from "../runtime/mod.ts";
import {
  createInstance,
  instantiateCore,
  loadBindings,
} from "../runtime/instance.ts";

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const component = compileComponent(
  await loadComponent(COUNTER, { cacheDir: false }),
  { memoryMb: 16 },
);
const bindings = await loadBindings(component.bindings);
const refuse = () => ({ ok: false, error: "no" }) as const;
const host: HostImports = {
  runtime: {
    log: () => {},
    now: () => 0,
    random: (len) => new Uint8Array(len),
    selfId: () => "c",
  },
  message: { send: refuse, sender: () => "external", request: refuse },
  timers: { after: refuse, every: refuse, cancel: () => false },
  store: { put: refuse, get: () => null },
  http: { fetch: refuse },
  supervisor: {
    spawn: refuse,
    stop: refuse,
    restart: refuse,
    children: () => [],
  },
};
const STATE = '{"count":1,"at":0}';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  const keep: ActorInstance[] = [];
  gc();
  const before = Deno.memoryUsage();
  for (let i = 0; i < 1000; i++) {
    const a = createInstance(bindings, component.modules, host);
    a.handle(STATE, '"inc"');
    keep.push(a);
  }
  gc();
  const after = Deno.memoryUsage();
  const kib = (n: number) => (n / 1000 / 1024).toFixed(1);
  console.log(
    `1,000 counter instances: ${kib(after.rss - before.rss)} KiB RSS, ${
      kib(after.external - before.external)
    } KiB external, ${kib(after.heapUsed - before.heapUsed)} KiB heap each`,
  );
  keep.length = 0;
}

const raw = bindings((name) => component.modules[name], {
  "theater:actor/runtime": {
    log() {},
    now: () => 0n,
    random() {},
    selfId() {},
  },
}, instantiateCore).actor;
Deno.bench('bare jco export: handle(state, "get")', {
  group: "handle",
  baseline: true,
}, () => {
  raw.handle(STATE, '"get"');
});

const actor = await instantiate(component, host);
Deno.bench('ActorInstance.handle(state, "get")', { group: "handle" }, () => {
  actor.handle(STATE, '"get"');
});

Deno.bench('ActorInstance.handle(state, "inc"): log + now', {
  group: "handle",
}, () => {
  actor.handle(STATE, '"inc"');
});

Deno.bench("instantiate the counter (sync, bindings loaded)", {
  group: "instantiate",
  baseline: true,
}, () => {
  createInstance(bindings, component.modules, host);
});

Deno.bench("instantiate the counter (await instantiate)", {
  group: "instantiate",
}, async () => {
  await instantiate(component, host);
});
