;; A counter actor, hand-written against the canonical ABI of
;; theater:actor/actor (see wit/theater.wit).
;;
;; init(params)       params {"start": N}  -> state {"count":N,"at":0}
;; handle(state, msg) "inc" | "get" | {"op":"add","n":N}
;;                    -> state {"count":N,"at":<now()>}, reply {"count":N}
;;                    "roll" -> a die roll from runtime.random: reply {"count":N,"roll":R}
;;                    anything else -> err "unknown message"
;; It calls runtime.log on every change, runtime.now to stamp the state and
;; runtime.random to roll, so a chain of it exercises every recorded import.
(module
  (import "theater:actor/runtime@0.1.0" "log" (func $log (param i32 i32)))
  (import "theater:actor/runtime@0.1.0" "now" (func $now (result i64)))
  (import "theater:actor/runtime@0.1.0" "random" (func $random (param i32 i32)))

  (memory (export "memory") 1)
  ;; Bump allocator; reset after every export call by its post-return.
  (global $heap (mut i32) (i32.const 1024))
  (global $out (mut i32) (i32.const 0))

  (data (i32.const 16) "\22count\22:")        ;; 8 bytes
  (data (i32.const 32) "\22n\22:")            ;; 4 bytes
  (data (i32.const 40) "\22start\22:")        ;; 8 bytes
  (data (i32.const 48) "unknown message")     ;; 15 bytes
  (data (i32.const 64) "{\22count\22:")       ;; 9 bytes
  (data (i32.const 80) ",\22at\22:")          ;; 6 bytes
  (data (i32.const 96) "inc")
  (data (i32.const 100) "get")
  (data (i32.const 104) "add")
  (data (i32.const 112) "count is now ")      ;; 13 bytes
  (data (i32.const 128) "roll")
  (data (i32.const 136) ",\22roll\22:")       ;; 8 bytes
  ;; 256..280: the return area of init and handle

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

  ;; Index of needle in haystack, or -1.
  (func $find (param $h i32) (param $hl i32) (param $n i32) (param $nl i32)
    (result i32)
    (local $i i32) (local $j i32)
    (block $none
      (loop $outer
        (br_if $none
          (i32.gt_s (i32.add (local.get $i) (local.get $nl)) (local.get $hl)))
        (local.set $j (i32.const 0))
        (block $miss
          (loop $inner
            (if (i32.eq (local.get $j) (local.get $nl))
              (then (return (local.get $i))))
            (br_if $miss
              (i32.ne
                (i32.load8_u (i32.add (local.get $h) (i32.add (local.get $i) (local.get $j))))
                (i32.load8_u (i32.add (local.get $n) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.const -1))

  ;; The unsigned integer right after needle in haystack (0 when absent).
  (func $number_after (param $h i32) (param $hl i32) (param $n i32) (param $nl i32)
    (result i64)
    (local $i i32) (local $c i32) (local $v i64)
    (local.set $i (call $find (local.get $h) (local.get $hl) (local.get $n) (local.get $nl)))
    (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i64.const 0))))
    (local.set $i (i32.add (local.get $i) (local.get $nl)))
    (block $end
      (loop $digits
        (br_if $end (i32.ge_s (local.get $i) (local.get $hl)))
        (local.set $c (i32.load8_u (i32.add (local.get $h) (local.get $i))))
        (br_if $end (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $v
          (i64.add (i64.mul (local.get $v) (i64.const 10))
            (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (local.get $v))

  ;; Appends bytes at the output cursor.
  (func $emit (param $src i32) (param $len i32)
    (memory.copy (global.get $out) (local.get $src) (local.get $len))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  ;; Appends an unsigned integer in decimal at the output cursor.
  (func $emit_u64 (param $v i64)
    (local $start i32) (local $end i32) (local $t i32)
    (local.set $start (global.get $out))
    (loop $digit
      (i32.store8 (global.get $out)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (global.set $out (i32.add (global.get $out) (i32.const 1)))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    ;; Digits came out least significant first: reverse them.
    (local.set $end (i32.sub (global.get $out) (i32.const 1)))
    (block $done
      (loop $swap
        (br_if $done (i32.ge_u (local.get $start) (local.get $end)))
        (local.set $t (i32.load8_u (local.get $start)))
        (i32.store8 (local.get $start) (i32.load8_u (local.get $end)))
        (i32.store8 (local.get $end) (local.get $t))
        (local.set $start (i32.add (local.get $start) (i32.const 1)))
        (local.set $end (i32.sub (local.get $end) (i32.const 1)))
        (br $swap))))

  ;; Writes {"count":N[,"at":T]} into a fresh buffer; returns its pointer,
  ;; the length is $out minus it.
  (func $json (param $count i64) (param $at i64) (param $with_at i32) (result i32)
    (local $p i32)
    (local.set $p (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 64)))
    (global.set $out (local.get $p))
    (call $emit (i32.const 64) (i32.const 9))
    (call $emit_u64 (local.get $count))
    (if (local.get $with_at)
      (then
        (call $emit (i32.const 80) (i32.const 6))
        (call $emit_u64 (local.get $at))))
    (i32.store8 (global.get $out) (i32.const 125))
    (global.set $out (i32.add (global.get $out) (i32.const 1)))
    (local.get $p))

  (func $log_count (param $count i64)
    (local $p i32)
    (local.set $p (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 40)))
    (global.set $out (local.get $p))
    (call $emit (i32.const 112) (i32.const 13))
    (call $emit_u64 (local.get $count))
    (call $log (local.get $p) (i32.sub (global.get $out) (local.get $p))))

  (func (export "theater:actor/actor@0.1.0#init")
    (param $ptr i32) (param $len i32) (result i32)
    (local $s i32)
    (local.set $s
      (call $json
        (call $number_after (local.get $ptr) (local.get $len) (i32.const 40) (i32.const 8))
        (i64.const 0) (i32.const 1)))
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get $s))
    (i32.store (i32.const 264) (i32.sub (global.get $out) (local.get $s)))
    (i32.const 256))

  (func (export "theater:actor/actor@0.1.0#handle")
    (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $count i64) (local $changed i32) (local $s i32) (local $r i32)
    (local $roll i64)
    (local.set $count
      (call $number_after (local.get $sp) (local.get $sl) (i32.const 16) (i32.const 8)))
    (block $known
      (if (i32.ge_s (call $find (local.get $mp) (local.get $ml) (i32.const 96) (i32.const 3)) (i32.const 0))
        (then
          (local.set $count (i64.add (local.get $count) (i64.const 1)))
          (local.set $changed (i32.const 1))
          (br $known)))
      (if (i32.ge_s (call $find (local.get $mp) (local.get $ml) (i32.const 104) (i32.const 3)) (i32.const 0))
        (then
          (local.set $count
            (i64.add (local.get $count)
              (call $number_after (local.get $mp) (local.get $ml) (i32.const 32) (i32.const 4))))
          (local.set $changed (i32.const 1))
          (br $known)))
      (br_if $known
        (i32.ge_s (call $find (local.get $mp) (local.get $ml) (i32.const 100) (i32.const 3)) (i32.const 0)))
      (if (i32.ge_s (call $find (local.get $mp) (local.get $ml) (i32.const 128) (i32.const 4)) (i32.const 0))
        (then
          ;; random(1) writes (ptr, len) of the bytes at 288.
          (call $random (i32.const 1) (i32.const 288))
          (local.set $roll
            (i64.add (i64.const 1)
              (i64.rem_u (i64.load8_u (i32.load (i32.const 288))) (i64.const 6))))
          (br $known)))
      ;; err("unknown message")
      (i32.store8 (i32.const 256) (i32.const 1))
      (i32.store (i32.const 260) (i32.const 48))
      (i32.store (i32.const 264) (i32.const 15))
      (return (i32.const 256)))
    (if (local.get $changed)
      (then
        (call $log_count (local.get $count))
        (local.set $s (call $json (local.get $count) (call $now) (i32.const 1)))
        (i32.store (i32.const 264) (i32.sub (global.get $out) (local.get $s))))
      (else
        ;; Unchanged: hand the same state back.
        (local.set $s (local.get $sp))
        (i32.store (i32.const 264) (local.get $sl))))
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 260) (local.get $s))
    (local.set $r (call $json (local.get $count) (i64.const 0) (i32.const 0)))
    (if (i64.ne (local.get $roll) (i64.const 0))
      (then
        ;; Replace the closing brace with ,"roll":R}
        (global.set $out (i32.sub (global.get $out) (i32.const 1)))
        (call $emit (i32.const 136) (i32.const 8))
        (call $emit_u64 (local.get $roll))
        (i32.store8 (global.get $out) (i32.const 125))
        (global.set $out (i32.add (global.get $out) (i32.const 1)))))
    (i32.store8 (i32.const 268) (i32.const 1))
    (i32.store (i32.const 272) (local.get $r))
    (i32.store (i32.const 276) (i32.sub (global.get $out) (local.get $r)))
    (i32.const 256))

  (func (export "cabi_post_theater:actor/actor@0.1.0#init") (param i32)
    (global.set $heap (i32.const 1024)))
  (func (export "cabi_post_theater:actor/actor@0.1.0#handle") (param i32)
    (global.set $heap (i32.const 1024)))
)
