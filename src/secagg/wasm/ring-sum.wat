;; The coordinator's running-sum kernel of src/secagg/ring-sum.ts: adds a chunk of a masked input into
;; the sum, mod 2^32, and ORs every word of the input into a running check, so that the caller can
;; tell whether any word was at or above 2^bits without a second pass.
;; Assembled by `npm run gen` (scripts/gen-wasm.mjs) into ring-sum.wasm.ts; edit this file, not that one.
;;
;; Memory (imported: the sum owns it, sized for its vector): [0, 64 KiB) the input chunk's scratch
;; area, the sum from 64 KiB on. $n is a byte count, a positive multiple of 16 (a do-while loop; the
;; caller adds the tail past the last whole lane).
(module
  (import "env" "mem" (memory 1))

  ;; For i in [0, $n) by 16: acc[$acc + i] += src[$src + i]; returns the OR of every input word.
  (func (export "add") (param $acc i32) (param $src i32) (param $n i32) (result i32)
    (local $i i32) (local $any v128) (local $v v128)
    (loop
      (local.set $v (v128.load (i32.add (local.get $src) (local.get $i))))
      (local.set $any (v128.or (local.get $any) (local.get $v)))
      (v128.store (i32.add (local.get $acc) (local.get $i))
        (i32x4.add (v128.load (i32.add (local.get $acc) (local.get $i))) (local.get $v)))
      (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $n))))
    ;; Fold the four lanes of the check into one word.
    (i32.or
      (i32.or
        (i32.or (i32x4.extract_lane 0 (local.get $any)) (i32x4.extract_lane 1 (local.get $any)))
        (i32x4.extract_lane 2 (local.get $any)))
      (i32x4.extract_lane 3 (local.get $any)))))
