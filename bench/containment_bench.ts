// Copyright the Theater authors. MIT license.
/**
 * What containment costs on the recorded path, measured in one run:
 *
 * - the document gate (size, depth, exact numbers, surrogates, then parse)
 *   against the gate it replaced (size, depth, parse), on a small state and
 *   on a 16 KB state full of numbers;
 * - a guest call that makes three host calls (quota accounting on each)
 *   against the same call with quotas so high they never bind — the same
 *   code runs, so this shows that the accounting itself is noise — and
 *   against a bare export call.
 *
 * @module
 */
import { loadBindings } from "../runtime/_guest.ts";
import { GuestActor } from "../runtime/_guest.ts";
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
};
const guest = new GuestActor("c", instantiate, component, directory);
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
