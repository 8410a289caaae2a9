// Copyright the Theater authors. MIT license.
/**
 * Hostile actors for the containment tests, hand-written in WAT against
 * the canonical ABI of `theater:actor` and built with jco's wasm-tools.
 * Each misbehaves in one way that once ended, stalled or exhausted the
 * whole runtime; `echo` is the well-behaved sibling.
 *
 * @module
 */
import { join } from "node:path";
import { buildWatComponent } from "../../runtime/build_wat.ts";

/** Every kind {@linkcode buildHostile} makes. */
export const HOSTILE_KINDS = [
  "echo",
  "reply-inf",
  "state-inf",
  "state-surrogate",
  "reply-bigint",
  "send-inf",
  "spawn-inf",
  "init-inf",
  "init-trap",
  "init-spin",
  "boot-loop",
  "log-escapes",
  "forkbomb",
  "self-flood",
  "log-flood",
  "random-flood",
  "table-bomb",
  "self-ping",
  "start-spin",
  "busy",
  "call-then-spin",
  "send-then-stop",
  "stop-self",
] as const;

/** A kind of hostile actor. */
export type HostileKind = typeof HOSTILE_KINDS[number];

// Fixed addresses: strings below 256, the return area at 256, host-call
// return areas at 320.., a 900 KB scratch buffer at 64 KiB, the heap from
// 2 MiB up.
const SELF = 320;
const SEND_RET = 336;
const RANDOM_RET = 352;
const SPAWN_RET = 368;
const BUF = 65536;

const STR = {
  empty: [16, "{}"],
  inf: [24, "1e400"],
  surrogate: [32, '"\\\\ud800"'],
  bigint: [48, "9007199254740993"],
  sent: [64, '"sent"'],
  spawned: [72, '"spawned"'],
  hostile: [88, "./hostile.json"],
  forkbomb: [104, "./forkbomb.json"],
  flooded: [120, '"flooded"'],
  rolled: [136, '"rolled"'],
  pinged: [144, '"pinged"'],
  ping: [152, '"ping"'],
} as const;

/** `ptr len` of a fixed string, as WAT operands. */
function str(name: keyof typeof STR): string {
  const [at, text] = STR[name];
  // Each `\\\\` in the WAT source is one byte.
  const bytes = text.replace(/\\\\/g, "\\").length;
  return `(i32.const ${at}) (i32.const ${bytes})`;
}

const echo =
  "(call $reply (local.get 0) (local.get 1) (local.get 2) (local.get 3))";
const initOk = `(call $ok ${str("empty")})`;
const selfId = `(call $self (i32.const ${SELF}))`;
const sendTo = (msg: string) =>
  `(call $send (i32.load (i32.const ${SELF})) (i32.load (i32.const ${
    SELF + 4
  })) ${msg} (i32.const ${SEND_RET}))`;

/**
 * What `log-escapes` logs: it sets the terminal's title, clears the
 * screen, turns text red (a C1 CSI), goes back to the start of the line
 * and writes a status line theater did not print.
 */
export const LOG_ESCAPES =
  "\x1b]0;pwned\x07\x1b[2J\x9b31m\r\x1b[2Ktheater run: stopped cleanly\n";

/** `(data (i32.const at) "...")` holding `text`, every byte escaped. */
function dataBytes(at: number, text: string): string {
  const hex = [...new TextEncoder().encode(text)].map((b) =>
    `\\${b.toString(16).padStart(2, "0")}`
  ).join("");
  return `(data (i32.const ${at}) "${hex}")`;
}

/** init and handle bodies (and extras) of each kind. */
const KINDS: Record<
  HostileKind,
  { init?: string; handle: string; extra?: string }
> = {
  echo: { handle: echo },
  "reply-inf": {
    handle: `(call $reply (local.get 0) (local.get 1) ${str("inf")})`,
  },
  "state-inf": { handle: `(call $ok ${str("inf")})` },
  "state-surrogate": { handle: `(call $ok ${str("surrogate")})` },
  "reply-bigint": {
    handle: `(call $reply (local.get 0) (local.get 1) ${str("bigint")})`,
  },
  "send-inf": {
    handle: `${selfId} ${sendTo(str("inf"))}
      (call $reply (local.get 0) (local.get 1) ${str("sent")})`,
  },
  "spawn-inf": {
    handle: `(call $spawn ${str("hostile")} (i32.const 1) ${
      str("inf")
    } (i32.const ${SPAWN_RET}))
      (call $reply (local.get 0) (local.get 1) ${str("spawned")})`,
  },
  "init-inf": { init: `(call $ok ${str("inf")})`, handle: echo },
  "init-trap": { init: "unreachable", handle: echo },
  // An init that runs until its time limit, every time.
  "init-spin": { init: "(loop $spin (br $spin)) unreachable", handle: echo },
  // Its init sends it a message, and its handler spins until its time
  // limit: with restart_from "init", it crashes again after every restart.
  "boot-loop": {
    init: `${selfId} ${sendTo(str("ping"))} ${initOk}`,
    handle: "(loop $spin (br $spin)) unreachable",
  },
  forkbomb: {
    init: `(call $spawn ${str("forkbomb")} (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const ${SPAWN_RET}))
      (call $spawn ${str("forkbomb")} (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const ${SPAWN_RET}))
      ${initOk}`,
    handle: echo,
  },
  "self-flood": {
    // A JSON string of exactly 900,000 bytes, sent to itself 100 times.
    handle: `(i32.store8 (i32.const ${BUF}) (i32.const 34))
      (memory.fill (i32.const ${BUF + 1}) (i32.const 97) (i32.const 899998))
      (i32.store8 (i32.const ${BUF + 899999}) (i32.const 34))
      ${selfId}
      (local.set $i (i32.const 0))
      (block $done
        (loop $again
          (br_if $done (i32.ge_u (local.get $i) (i32.const 100)))
          ${sendTo(`(i32.const ${BUF}) (i32.const 900000)`)}
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (call $reply (local.get 0) (local.get 1) ${str("flooded")})`,
  },
  "log-flood": {
    handle: `(memory.fill (i32.const ${BUF}) (i32.const 97) (i32.const 65536))
      (loop $again
        (call $log (i32.const ${BUF}) (i32.const 65536))
        (br $again))
      unreachable`,
  },
  "random-flood": {
    handle: `(local.set $i (i32.const 0))
      (block $done
        (loop $again
          (br_if $done (i32.ge_u (local.get $i) (i32.const 200)))
          (call $random (i32.const 65536) (i32.const ${RANDOM_RET}))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (call $reply (local.get 0) (local.get 1) ${str("rolled")})`,
  },
  "table-bomb": {
    handle: `(loop $grow
        (br_if $grow
          (i32.ne (table.grow $t (ref.null func) (i32.const 1000000))
            (i32.const -1))))
      unreachable`,
    extra: "(table $t 1 funcref)",
  },
  "self-ping": {
    handle: `${selfId} ${sendTo(str("ping"))}
      (call $reply (local.get 0) (local.get 1) ${str("pinged")})`,
  },
  "start-spin": {
    handle: echo,
    extra: `(func $spin (loop $forever (br $forever)))
  (start $spin)`,
  },
  busy: { handle: "(loop $spin (br $spin)) unreachable" },
  // Not hostile: a parent's last words to a child, then stop(child), in
  // one handler; the message is a JSON string naming the child.
  "send-then-stop": {
    handle: `(call $send (i32.add (local.get 2) (i32.const 1))
        (i32.sub (local.get 3) (i32.const 2)) ${
      str("ping")
    } (i32.const ${SEND_RET}))
      (call $stop (i32.add (local.get 2) (i32.const 1))
        (i32.sub (local.get 3) (i32.const 2)) (i32.const ${SPAWN_RET}))
      (call $reply (local.get 0) (local.get 1) ${str("sent")})`,
  },
  // Not hostile: an actor that stops itself (a normal exit) on any message.
  "stop-self": {
    handle: `${selfId}
      (call $stop (i32.load (i32.const ${SELF})) (i32.load (i32.const ${
      SELF + 4
    })) (i32.const ${SPAWN_RET}))
      (call $reply (local.get 0) (local.get 1) ${str("sent")})`,
  },
  "log-escapes": {
    handle: `(call $log (i32.const 4096) (i32.const ${
      new TextEncoder().encode(LOG_ESCAPES).length
    })) ${echo}`,
    extra: dataBytes(4096, LOG_ESCAPES),
  },
  "call-then-spin": {
    handle: `(call $log ${str("ping")}) ${selfId}
      (loop $spin (br $spin)) unreachable`,
  },
};

function wat(kind: HostileKind): string {
  const k = KINDS[kind];
  const data = Object.values(STR).map(([at, text]) =>
    `(data (i32.const ${at}) "${text.replaceAll('"', '\\"')}")`
  ).join("\n  ");
  return `(module
  (import "theater:actor/runtime@0.1.0" "log" (func $log (param i32 i32)))
  (import "theater:actor/runtime@0.1.0" "random" (func $random (param i32 i32)))
  (import "theater:actor/runtime@0.1.0" "self-id" (func $self (param i32)))
  (import "theater:actor/message@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32)))
  (import "theater:actor/supervisor@0.1.0" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32)))
  (import "theater:actor/supervisor@0.1.0" "stop" (func $stop (param i32 i32 i32)))
  (memory (export "memory") 33)
  (global $heap (mut i32) (i32.const 2097152))
  ${data}
  ${k.extra ?? ""}
  (func $realloc (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32)
    (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.xor (i32.sub (local.get $align) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (block $fits
      (loop $grow
        (br_if $fits
          (i32.le_u (global.get $heap)
            (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then unreachable))
        (br $grow)))
    (if (local.get $old)
      (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
    (local.get $p))
  (func $ok (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.store8 (i32.const 268) (i32.const 0))
    (i32.const 256))
  (func $reply (param i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get 0))
    (i32.store (i32.const 264) (local.get 1))
    (i32.store8 (i32.const 268) (i32.const 1))
    (i32.store (i32.const 272) (local.get 2))
    (i32.store (i32.const 276) (local.get 3))
    (i32.const 256))
  ;; The heap starts over after every call (as in examples/counter), so
  ;; repeated calls do not leak what cabi_realloc handed out.
  (func (export "cabi_post_theater:actor/actor@0.1.0#init") (param i32)
    (global.set $heap (i32.const 2097152)))
  (func (export "cabi_post_theater:actor/actor@0.1.0#handle") (param i32)
    (global.set $heap (i32.const 2097152)))
  (func (export "theater:actor/actor@0.1.0#init") (param i32 i32) (result i32)
    ${k.init ?? initOk})
  (func (export "theater:actor/actor@0.1.0#handle")
    (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    ${k.handle})
)`;
}

/** Writes `<dir>/<kind>.wasm` and returns its path. */
export async function buildHostile(
  kind: HostileKind,
  dir: string,
): Promise<string> {
  const path = join(dir, `${kind}.wasm`);
  await Deno.writeFile(
    path,
    await buildWatComponent(path, { source: wat(kind) }),
  );
  return path;
}
