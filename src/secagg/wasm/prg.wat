;; The mask kernel of src/secagg/crypto/prg.ts: adds (or subtracts) a chunk of AES-CTR keystream into
;; a chunk of the accumulator, 16-byte lanes at a time, and reduces the accumulator mod 2^bits.
;; Assembled by `npm run gen` (scripts/gen-wasm.mjs) into prg.wasm.ts; edit this file, not that one.
;;
;; Memory (exported, 2 pages, never grown): [0, 64 KiB) a keystream chunk, [64 KiB, 128 KiB) the
;; accumulator's chunk. Every $n is a byte count, a positive multiple of 16 and at most 64 KiB: the
;; loops are do-while, and the caller handles the (at most 3-word) tail past the last whole lane.
(module
  (memory (export "mem") 2)

  ;; acc[i] += keystream[i], four u32 words per iteration, wrapping mod 2^32.
  (func (export "add") (param $n i32) (local $i i32)
    (loop
      (v128.store offset=65536 (local.get $i)
        (i32x4.add (v128.load offset=65536 (local.get $i)) (v128.load (local.get $i))))
      (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $n)))))

  ;; acc[i] -= keystream[i].
  (func (export "sub") (param $n i32) (local $i i32)
    (loop
      (v128.store offset=65536 (local.get $i)
        (i32x4.sub (v128.load offset=65536 (local.get $i)) (v128.load (local.get $i))))
      (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $n)))))

  ;; acc[i] &= $m: the reduction mod 2^bits ($m = 2^bits - 1), while the chunk is still in cache.
  (func (export "and") (param $n i32) (param $m i32) (local $i i32) (local $v v128)
    (local.set $v (i32x4.splat (local.get $m)))
    (loop
      (v128.store offset=65536 (local.get $i)
        (v128.and (v128.load offset=65536 (local.get $i)) (local.get $v)))
      (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $n))))))
