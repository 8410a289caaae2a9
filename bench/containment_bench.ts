// Copyright the Theater authors. MIT license.
/**
 * What containment costs on the recorded path, measured in one run:
 *
 * - the document gate (size, depth, exact numbers, surrogates, then parse)
 *   against the gate it replaced (size, depth, parse), on a small state and
 *   on a 16 KB state full of numbers;
 * - the time-limit instrumentation (a fuel counter at every loop header
 *   and function entry): a tight loop of 1,000,000 iterations and the
 *   counter's `handle`, each instrumented against the plain module;
 * - a guest call that makes three host calls (quota accounting on each)
 *   against the same call with quotas so high they never bind — the same
 *   code runs, so this shows that the accounting itself is noise — and
 *   against a bare export call.
 *
 * @module
 */
import { GuestActor, loadBindings } from "../runtime/_guest.ts";
import {
  FUEL,
  instrument,
  INTERRUPT_FUNCTION,
  INTERRUPT_MODULE,
} from "../runtime/_interrupt.ts";
import { capMemory } from "../runtime/_wasm.ts";
import { instantiateCore } from "../runtime/instance.ts";
import {
  checkDocument,
  compileCores,
  DEFAULT_LIMITS,
  loadComponent,
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENT_DEPTH,
  quotaOf,
} from "../runtime/mod.ts";

/** The gate as it was before containment: size, depth, parse. */
function oldGate(text: string): string | null {
  if (text.length > MAX_DOCUMENT_BYTES / 3) {
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_DOCUMENT_BYTES) return "too big";
  }
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  if (max > MAX_DOCUMENT_DEPTH) return "too deep";
  try {
    JSON.parse(text);
  } catch {
    return "not JSON";
  }
  return null;
}

const small = '{"count":41,"at":1764028800000}';
const big = JSON.stringify({
  items: Array.from({ length: 400 }, (_, i) => ({
    id: i,
    price: i * 1.25,
    name: `item ${i}`,
  })),
});

for (const [name, doc] of [["small state", small], ["16 KB state", big]]) {
  Deno.bench(`gate before: size, depth, parse (${name})`, {
    group: `gate ${name}`,
    baseline: true,
  }, () => {
    oldGate(doc);
  });
  Deno.bench(`gate now: + exact numbers, surrogates (${name})`, {
    group: `gate ${name}`,
  }, () => {
    checkDocument(doc);
  });
}

const COUNTER = new URL("../examples/counter/counter.wasm", import.meta.url)
  .pathname;
const loaded = await loadComponent(COUNTER);
const component = {
  bindings: loaded.bindings,
  modules: compileCores(loaded, { memoryMb: 16 }),
};
const instantiate = await loadBindings(loaded.bindings);
const directory = new Map();
const STATE = '{"count":1,"at":0}';
const defaults = quotaOf(DEFAULT_LIMITS);
const unbounded = {
  hostCalls: Number.MAX_SAFE_INTEGER,
  recordedBytes: Number.MAX_SAFE_INTEGER,
  sends: Number.MAX_SAFE_INTEGER,
  children: Number.MAX_SAFE_INTEGER,
  timers: Number.MAX_SAFE_INTEGER,
  requests: Number.MAX_SAFE_INTEGER,
  blobMb: Number.MAX_SAFE_INTEGER,
};
const guest = new GuestActor("c", { instantiate, component, directory });
// "inc" makes three host calls: now, log and (through the state) none else.
Deno.bench('guest call "inc", quotas that never bind', {
  group: "guest call",
  baseline: true,
}, () => {
  guest.call("handle", [STATE, '"inc"'], { children: [], quota: unbounded });
});
Deno.bench('guest call "inc", default quotas', { group: "guest call" }, () => {
  guest.call("handle", [STATE, '"inc"'], { children: [], quota: defaults });
});

// The instrumentation on its own.
const { parse } = await import("@bytecodealliance/jco");
const loopWat = `(module (func (export "run") (param $n i32) (result i32)
  (local $acc i32)
  (block $done (loop $next
    (br_if $done (i32.eqz (local.get $n)))
    (local.set $acc (i32.add (local.get $acc) (local.get $n)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br $next)))
  (local.get $acc)))`;
const loopBytes = new Uint8Array(await parse(loopWat));
const interrupt = {
  [INTERRUPT_MODULE]: { [INTERRUPT_FUNCTION]: () => FUEL },
};
const plainLoop = new WebAssembly.Instance(new WebAssembly.Module(loopBytes))
  .exports.run as (n: number) => number;
const fueledLoop = new WebAssembly.Instance(
  new WebAssembly.Module(instrument(loopBytes)),
  interrupt,
).exports.run as (n: number) => number;
Deno.bench("tight loop, 1M iterations, plain", {
  group: "instrumentation: loop",
  baseline: true,
}, () => {
  plainLoop(1_000_000);
});
Deno.bench("tight loop, 1M iterations, instrumented", {
  group: "instrumentation: loop",
}, () => {
  fueledLoop(1_000_000);
});

const bareImports = {
  "theater:actor/runtime": {
    log: () => {},
    now: () => 0n,
    random: (len: number) => new Uint8Array(len),
    selfId: () => "c",
  },
  "theater:actor/message": { send: () => undefined },
  "theater:actor/supervisor": {
    spawn: () => "c.x-1",
    stop: () => undefined,
    restart: () => undefined,
    children: () => [],
  },
};

/** The same component's actor export, plain and instrumented. */
async function pair(path: string) {
  const c = await loadComponent(path);
  const plain = Object.fromEntries(
    Object.entries(c.cores).map(([name, bytes]) => [
      name,
      new WebAssembly.Module(capMemory(bytes, 64 * 2 ** 20)),
    ]),
  );
  const fueled = compileCores(c, { memoryMb: 64 });
  const bindings = await loadBindings(c.bindings);
  return {
    plain: bindings((n) => plain[n], bareImports).actor,
    fueled: bindings(
      (n) => fueled[n],
      bareImports,
      instantiateCore,
    ).actor,
  };
}

for (
  const [name, path, state, msg] of [
    ["counter (WAT)", COUNTER, STATE, '"get"'],
    [
      "kv (TypeScript on QuickJS)",
      new URL("../examples/kv/kv.wasm", import.meta.url).pathname,
      '{"entries":{"a":"1","b":"2"},"updated_at":0}',
      '{"op":"keys"}',
    ],
  ]
) {
  const actors = await pair(path);
  Deno.bench(`${name} handle, plain`, {
    group: `instrumentation: ${name}`,
    baseline: true,
  }, () => {
    actors.plain.handle(state, msg);
  });
  Deno.bench(`${name} handle, instrumented`, {
    group: `instrumentation: ${name}`,
  }, () => {
    actors.fueled.handle(state, msg);
  });
}
