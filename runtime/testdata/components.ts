// Copyright the Theater authors. MIT license.
/**
 * Small hostile or broken components for tests, built from WAT on demand
 * with jco's in-process wasm-tools.
 *
 * @module
 */
import { join } from "node:path";
import { buildWatComponent } from "../build_wat.ts";

/** The kinds of test component {@linkcode buildTestComponent} makes. */
export type TestComponent =
  | "echo"
  | "trap"
  | "err"
  | "junk"
  | "loop"
  | "membomb"
  | "wasi"
  | "noexport"
  | "core"
  | "garbage";

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

function actorWat(body: string, extraImport = ""): string {
  return `(module
  ${extraImport}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{}")
  (data (i32.const 32) "not json")
  (data (i32.const 48) "handler refused")
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
  } else {
    bytes = await buildWatComponent(path, { source: actorWat(BODIES[kind]) });
  }
  await Deno.writeFile(path, bytes);
  return path;
}
