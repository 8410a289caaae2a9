// Copyright the Theater authors. MIT license.
/**
 * A test actor that sets timers and makes requests as its messages say,
 * built from WAT for WIT 0.2.0 (wit/theater.wit). For tests only.
 *
 * A message is a JSON string of commands separated by spaces:
 *
 * - `A<ms><name>`: `after(ms, "<name>")` (ms: four digits);
 * - `E<ms><name>`: `every(ms, "<name>")`;
 * - `R<ms><actor>`: `request(actor, "ping", ms)`;
 * - `C<id>`: `cancel(id)`.
 *
 * The reply is the ids given back, as one JSON string separated by spaces
 * (none when no command gives one); an `err` fails the handler with its
 * reason. Any other message (a timer's `"<name>"`, a response) is taken
 * and changes nothing. The state stays `{}`.
 *
 * @module
 */
import { buildWatComponent } from "../../runtime/build_wat.ts";

const WIT = new URL("../../wit/theater.wit", import.meta.url);

const WAT = `(module
  (import "theater:actor/timers@0.2.0" "after" (func $after (param i32 i32 i32 i32)))
  (import "theater:actor/timers@0.2.0" "every" (func $every (param i32 i32 i32 i32)))
  (import "theater:actor/timers@0.2.0" "cancel" (func $cancel (param i32 i32) (result i32)))
  (import "theater:actor/message@0.2.0" "request" (func $request (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 2)
  ;; Fixed places: the result at 256, an import's result at 512, a timer's
  ;; message at 1024, the reply at 2048; what the host passes from 8192.
  (global $heap (mut i32) (i32.const 8192))
  (global $out (mut i32) (i32.const 0))
  (data (i32.const 16) "{}")
  (data (i32.const 96) "\\22ping\\22")
  (func $realloc (export "cabi_realloc")
    (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8))))
    (local.get $p))
  ;; The id an import gave back, added to the reply.
  (func $append
    (if (global.get $out)
      (then
        (i32.store8 (i32.add (i32.const 2049) (global.get $out)) (i32.const 32))
        (global.set $out (i32.add (global.get $out) (i32.const 1)))))
    (memory.copy (i32.add (i32.const 2049) (global.get $out))
      (i32.load (i32.const 516)) (i32.load (i32.const 520)))
    (global.set $out (i32.add (global.get $out) (i32.load (i32.const 520)))))
  ;; Fails the handler with the err an import gave back. What the host
  ;; wrote is read before the next call: the heap can start over.
  (func $fail (result i32)
    (global.set $heap (i32.const 8192))
    (i32.store8 (i32.const 256) (i32.const 1))
    (i32.store (i32.const 260) (i32.load (i32.const 516)))
    (i32.store (i32.const 264) (i32.load (i32.const 520)))
    (i32.const 256))
  (func $done (param $sp i32) (param $sl i32) (result i32)
    (global.set $heap (i32.const 8192))
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get $sp))
    (i32.store (i32.const 264) (local.get $sl))
    (if (global.get $out)
      (then
        (i32.store8 (i32.const 2048) (i32.const 34))
        (i32.store8 (i32.add (i32.const 2049) (global.get $out)) (i32.const 34))
        (i32.store8 (i32.const 268) (i32.const 1))
        (i32.store (i32.const 272) (i32.const 2048))
        (i32.store (i32.const 276) (i32.add (global.get $out) (i32.const 2))))
      (else (i32.store8 (i32.const 268) (i32.const 0))))
    (i32.const 256))
  (func (export "theater:actor/actor@0.2.0#init") (param i32 i32) (result i32)
    (global.set $heap (i32.const 8192))
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (i32.const 16))
    (i32.store (i32.const 264) (i32.const 2))
    (i32.const 256))
  (func (export "theater:actor/actor@0.2.0#handle")
    (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $p i32) (local $end i32) (local $e i32) (local $op i32)
    (local $ms i32) (local $i i32) (local $np i32) (local $nl i32)
    (global.set $out (i32.const 0))
    (if (i32.lt_u (local.get $ml) (i32.const 2))
      (then (return (call $done (local.get $sp) (local.get $sl)))))
    (if (i32.ne (i32.load8_u (local.get $mp)) (i32.const 34))
      (then (return (call $done (local.get $sp) (local.get $sl)))))
    (local.set $p (i32.add (local.get $mp) (i32.const 1)))
    (local.set $end (i32.sub (i32.add (local.get $mp) (local.get $ml)) (i32.const 1)))
    (block $stop
      (loop $next
        (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $e (local.get $p))
        (block $found
          (loop $scan
            (br_if $found (i32.ge_u (local.get $e) (local.get $end)))
            (br_if $found (i32.eq (i32.load8_u (local.get $e)) (i32.const 32)))
            (local.set $e (i32.add (local.get $e) (i32.const 1)))
            (br $scan)))
        (local.set $op (i32.load8_u (local.get $p)))
        (local.set $ms (i32.const 0))
        (local.set $i (i32.const 1))
        (block $digits
          (loop $digit
            (br_if $digits (i32.gt_u (local.get $i) (i32.const 4)))
            (local.set $ms (i32.add (i32.mul (local.get $ms) (i32.const 10))
              (i32.sub (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 48))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $digit)))
        (local.set $np (i32.add (local.get $p) (i32.const 5)))
        (local.set $nl (i32.sub (local.get $e) (local.get $np)))
        ;; A (65) and E (69): the timer's message is the name, quoted.
        (if (i32.or (i32.eq (local.get $op) (i32.const 65)) (i32.eq (local.get $op) (i32.const 69)))
          (then
            (i32.store8 (i32.const 1024) (i32.const 34))
            (memory.copy (i32.const 1025) (local.get $np) (local.get $nl))
            (i32.store8 (i32.add (i32.const 1025) (local.get $nl)) (i32.const 34))
            (if (i32.eq (local.get $op) (i32.const 65))
              (then (call $after (local.get $ms) (i32.const 1024)
                (i32.add (local.get $nl) (i32.const 2)) (i32.const 512)))
              (else (call $every (local.get $ms) (i32.const 1024)
                (i32.add (local.get $nl) (i32.const 2)) (i32.const 512))))
            (if (i32.load8_u (i32.const 512)) (then (return (call $fail))))
            (call $append)))
        ;; R (82): a request for "ping".
        (if (i32.eq (local.get $op) (i32.const 82))
          (then
            (call $request (local.get $np) (local.get $nl) (i32.const 96) (i32.const 6)
              (local.get $ms) (i32.const 512))
            (if (i32.load8_u (i32.const 512)) (then (return (call $fail))))
            (call $append)))
        ;; C (67): cancel the id that follows.
        (if (i32.eq (local.get $op) (i32.const 67))
          (then (drop (call $cancel (i32.add (local.get $p) (i32.const 1))
            (i32.sub (local.get $e) (i32.add (local.get $p) (i32.const 1)))))))
        (local.set $p (i32.add (local.get $e) (i32.const 1)))
        (br $next)))
    (call $done (local.get $sp) (local.get $sl)))
)`;

/** Writes the timer actor to `<dir>/timer.wasm` and returns its path. */
export async function buildTimerActor(dir: string): Promise<string> {
  const path = `${dir}/timer.wasm`;
  const bytes = await buildWatComponent(path, {
    source: WAT,
    wit: await Deno.readTextFile(WIT),
    world: "actor-world",
  });
  await Deno.writeFile(path, bytes);
  return path;
}
