// Copyright the Theater authors. MIT license.
/**
 * Small hostile or broken components for tests, built from WAT on demand
 * with jco's in-process wasm-tools.
 *
 * @module
 */
import { join } from "node:path";
import { buildWatComponent } from "../build_wat.ts";

/** Every kind of test component {@linkcode buildTestComponent} makes. */
export const TEST_COMPONENTS = [
  "echo",
  "supervisor",
  "relay",
  "trap",
  "err",
  "junk",
  "loop",
  "membomb",
  "wasi",
  "noexport",
  "core",
  "garbage",
  "truncated",
] as const;

/** The kinds of test component {@linkcode buildTestComponent} makes. */
export type TestComponent = typeof TEST_COMPONENTS[number];

const ACTOR = "theater:actor/actor@0.1.0";

// Each body is the handle export's code; it may use $ok and $err.
const BODIES: Record<string, string> = {
  echo: "(call $ok (local.get 0) (local.get 1))",
  trap: "unreachable",
  err: "(call $err (i32.const 48) (i32.const 15))",
  junk: "(call $ok (i32.const 32) (i32.const 8))",
  loop: "(loop $spin (br $spin)) unreachable",
  membomb: `(loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable`,
};

const SPAWN_IMPORT =
  `(import "theater:actor/supervisor@0.1.0" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32)))`;
const SEND_IMPORT =
  `(import "theater:actor/message@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32)))`;

// "spawn..." spawns ./echo.json and replies with the child's id as a JSON
// string; "trap..." traps; any other message is echoed. on-child-event keeps the event as
// the new state, so tests can see it arrived.
const SUPERVISOR_BODY =
  `(if (i32.eq (i32.load8_u (i32.add (local.get 2) (i32.const 1))) (i32.const 116))
      (then unreachable))
    (if (i32.eq (i32.load8_u (i32.add (local.get 2) (i32.const 1))) (i32.const 115))
      (then
        (call $spawn (i32.const 80) (i32.const 11) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 512))
        (i32.store8 (i32.const 600) (i32.const 34))
        (memory.copy (i32.const 601) (i32.load (i32.const 516)) (i32.load (i32.const 520)))
        (i32.store8 (i32.add (i32.const 601) (i32.load (i32.const 520))) (i32.const 34))
        (i32.store8 (i32.const 256) (i32.const 0))
        (i32.store (i32.const 260) (local.get 0))
        (i32.store (i32.const 264) (local.get 1))
        (i32.store8 (i32.const 268) (i32.const 1))
        (i32.store (i32.const 272) (i32.const 600))
        (i32.store (i32.const 276) (i32.add (i32.load (i32.const 520)) (i32.const 2)))
        (return (i32.const 256))))
    (call $ok (local.get 0) (local.get 1))`;

const SUPERVISED_EXPORT =
  `(func (export "theater:actor/supervised@0.1.0#on-child-event")
    (param i32 i32 i32 i32) (result i32)
    (call $ok (local.get 2) (local.get 3)))`;

// The message is a JSON string naming an actor: send it "ping".
const RELAY_BODY =
  `(call $send (i32.add (local.get 2) (i32.const 1)) (i32.sub (local.get 3) (i32.const 2))
      (i32.const 96) (i32.const 6) (i32.const 512))
    (call $ok (local.get 0) (local.get 1))`;

function actorWat(body: string, extraImport = "", extraFuncs = ""): string {
  return `(module
  ${extraImport}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{}")
  (data (i32.const 32) "not json")
  (data (i32.const 48) "handler refused")
  (data (i32.const 80) "./echo.json")
  (data (i32.const 96) "\\22ping\\22")
  (func $realloc (export "cabi_realloc")
    (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8))))
    (local.get $p))
  (func $ok (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.store8 (i32.const 268) (i32.const 0))
    (i32.const 256))
  (func $err (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 1))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.const 256))
  (func (export "${ACTOR}#init") (param i32 i32) (result i32)
    (call $ok (i32.const 16) (i32.const 2)))
  (func (export "${ACTOR}#handle") (param i32 i32 i32 i32) (result i32)
    ${body})
  ${extraFuncs}
)`;
}

const WASI_WIT = `package theater:hostile;

package wasi:cli@0.2.0 {
  interface environment {
    get-arguments: func() -> list<string>;
  }
}

package theater:actor@0.1.0 {
  interface actor {
    init: func(params: string) -> result<string, string>;
    handle: func(state: string, msg: string) -> result<tuple<string, option<string>>, string>;
  }
  interface supervised {
    on-child-event: func(state: string, event: string) -> result<string, string>;
  }
}

world wasi-actor {
  import wasi:cli/environment@0.2.0;
  export theater:actor/actor@0.1.0;
}

world no-actor {
  export theater:actor/supervised@0.1.0;
}
`;

/**
 * Writes a test component of the given kind into `dir` and returns its
 * path. `echo` is a well-behaved actor; the rest misbehave as named.
 */
export async function buildTestComponent(
  kind: TestComponent,
  dir: string,
): Promise<string> {
  const path = join(dir, `${kind}.wasm`);
  let bytes: Uint8Array;
  if (kind === "garbage") {
    bytes = new TextEncoder().encode("this is not a component at all\n");
  } else if (kind === "truncated") {
    // A component header and the first half of a component.
    const whole = await buildWatComponent(path, {
      source: actorWat(BODIES.echo),
    });
    bytes = whole.subarray(0, whole.length >> 1);
  } else if (kind === "core") {
    const { parse } = await import("@bytecodealliance/jco");
    bytes = await parse(actorWat(BODIES.echo));
  } else if (kind === "wasi") {
    bytes = await buildWatComponent(path, {
      source: actorWat(
        BODIES.echo,
        `(import "wasi:cli/environment@0.2.0" "get-arguments" (func (param i32)))`,
      ),
      wit: WASI_WIT,
      world: "wasi-actor",
    });
  } else if (kind === "noexport") {
    bytes = await buildWatComponent(path, {
      source: `(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "theater:actor/supervised@0.1.0#on-child-event")
    (param i32 i32 i32 i32) (result i32) unreachable))`,
      wit: WASI_WIT,
      world: "no-actor",
    });
  } else if (kind === "supervisor") {
    bytes = await buildWatComponent(path, {
      source: actorWat(SUPERVISOR_BODY, SPAWN_IMPORT, SUPERVISED_EXPORT),
      world: "supervisor-world",
    });
  } else if (kind === "relay") {
    bytes = await buildWatComponent(path, {
      source: actorWat(RELAY_BODY, SEND_IMPORT),
    });
  } else {
    bytes = await buildWatComponent(path, { source: actorWat(BODIES[kind]) });
  }
  await Deno.writeFile(path, bytes);
  return path;
}
