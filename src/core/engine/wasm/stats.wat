;; The fused tensor pass's hot loops in WebAssembly SIMD (f64x2): sums of squares of float32 chunks, the sum of
;; squared differences (the measured update), and Adam's normalized update u = m·a/(√(V·b) + ε) with Σu², Σu·p,
;; Σv̂, the zero / ε-dominated / undetermined counts and the histogram of u. Every sum is float64 over the float32
;; values, in a fixed partial-sum order that the JavaScript twins in wasmKernels.ts follow exactly: the two give
;; bit-identical results (IEEE-754 adds, multiplies, divides and square roots, no fused multiply-add).
;;
;; Partial sums: sumsq and sumsqdiff take 8 elements per iteration, element 8j+k into partial k (four f64x2
;; accumulators, lane = k & 1); adam takes 4, element 4j+k into partial k. The rest (n mod 8, n mod 4) goes into
;; one scalar tail sum, in order. The result is ((p0+p1)+(p2+p3)) [+ ((p4+p5)+(p6+p7))] + tail.
;;
;; Assembled at build time by scripts/build-wasm.mjs (wabt) into src/core/engine/wasm/statsWasm.ts.

(module
  (memory (export "memory") 1)

  ;; Σ x² of n float32 at $p.
  (func (export "sumsq") (param $p i32) (param $n i32) (result f64)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $x v128) (local $y v128) (local $end i32) (local $t f64) (local $s f64)
    (local.set $a0 (v128.const f64x2 0 0))
    (local.set $a1 (v128.const f64x2 0 0))
    (local.set $a2 (v128.const f64x2 0 0))
    (local.set $a3 (v128.const f64x2 0 0))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $y (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $x (v128.load offset=16 (local.get $p)))
        (local.set $y (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $y (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 7)) (i32.const 2))))
    (block $tdone
      (loop $tnext
        (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $s (f64.promote_f32 (f32.load (local.get $p))))
        (local.set $t (f64.add (local.get $t) (f64.mul (local.get $s) (local.get $s))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tnext)))
    (f64.add
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))
          (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1))))
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))
          (f64.add (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))))
      (local.get $t)))

  ;; Σ (a − b)² of n float32 pairs.
  (func (export "sumsqdiff") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $x v128) (local $z v128) (local $y v128) (local $end i32) (local $t f64) (local $s f64)
    (local.set $a0 (v128.const f64x2 0 0))
    (local.set $a1 (v128.const f64x2 0 0))
    (local.set $a2 (v128.const f64x2 0 0))
    (local.set $a3 (v128.const f64x2 0 0))
    (local.set $end (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $x (v128.load (local.get $a)))
        (local.set $z (v128.load (local.get $b)))
        (local.set $y (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (f64x2.promote_low_f32x4 (local.get $z))))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $y
          (f64x2.sub
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $z) (local.get $z)))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $x (v128.load offset=16 (local.get $a)))
        (local.set $z (v128.load offset=16 (local.get $b)))
        (local.set $y (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (f64x2.promote_low_f32x4 (local.get $z))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $y
          (f64x2.sub
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $z) (local.get $z)))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br $next)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 7)) (i32.const 2))))
    (block $tdone
      (loop $tnext
        (br_if $tdone (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s (f64.sub (f64.promote_f32 (f32.load (local.get $a))) (f64.promote_f32 (f32.load (local.get $b)))))
        (local.set $t (f64.add (local.get $t) (f64.mul (local.get $s) (local.get $s))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $tnext)))
    (f64.add
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))
          (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1))))
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))
          (f64.add (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))))
      (local.get $t)))

  ;; hist[(bin << 2) | k] += 1 (i32 counters).
  (func $bump (param $hist i32) (param $bin i32) (param $k i32)
    (local $at i32)
    (local.set $at (i32.add (local.get $hist) (i32.shl (i32.or (i32.shl (local.get $bin) (i32.const 2)) (local.get $k)) (i32.const 2))))
    (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1))))

  ;; Adam over n float32 elements of m ($m), the second moment ($v) and, when $p ≠ 0, the parameter ($p):
  ;; u = m·a/(√(V·b) + ε). Writes Σu², Σu·p, Σ V·vs (f64 at $out, $out+8, $out+16), adds the zero / ε / undetermined
  ;; counts (i64x2 pairs at $out+32, +48, +64: lane sums) and the histogram (i32[240] at $out+80).
  (func (export "adam")
    (param $m i32) (param $v i32) (param $p i32) (param $n i32) (param $a f64) (param $b f64) (param $vs f64) (param $eps f64)
    (param $out i32)
    (local $uu0 v128) (local $uu1 v128) (local $up0 v128) (local $up1 v128) (local $vh0 v128) (local $vh1 v128)
    (local $xm v128) (local $xv v128) (local $xp v128) (local $lo v128) (local $hi v128) (local $pl v128) (local $ph v128)
    (local $end i32) (local $k i32) (local $tuu f64) (local $tup f64) (local $tvh f64)
    (local $sm f64) (local $sv f64) (local $r f64) (local $su f64) (local $hasp i32) (local $bin i32) (local $hist i32)
    (local $pm v128) (local $pv v128) (local $root v128) (local $zv v128) (local $mz v128) (local $undet v128) (local $bins v128)
    (local $at i32) (local $va v128) (local $vb v128) (local $veps v128) (local $cz v128) (local $ce v128) (local $cu v128)
    (local.set $hasp (i32.ne (local.get $p) (i32.const 0)))
    (local.set $hist (i32.add (local.get $out) (i32.const 80)))
    (local.set $va (f64x2.splat (local.get $a)))
    (local.set $vb (f64x2.splat (local.get $b)))
    (local.set $veps (f64x2.splat (local.get $eps)))
    (local.set $cz (v128.load offset=32 (local.get $out)))
    (local.set $ce (v128.load offset=48 (local.get $out)))
    (local.set $cu (v128.load offset=64 (local.get $out)))
    (local.set $uu0 (v128.const f64x2 0 0)) (local.set $uu1 (v128.const f64x2 0 0))
    (local.set $up0 (v128.const f64x2 0 0)) (local.set $up1 (v128.const f64x2 0 0))
    (local.set $vh0 (v128.const f64x2 0 0)) (local.set $vh1 (v128.const f64x2 0 0))
    (local.set $end (i32.add (local.get $m) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $m) (local.get $end)))
        (local.set $xm (v128.load (local.get $m)))
        (local.set $xv (v128.load (local.get $v)))
        ;; elements 0, 1 of the group
        (local.set $pm (f64x2.promote_low_f32x4 (local.get $xm)))
        (local.set $pv (f64x2.promote_low_f32x4 (local.get $xv)))
        (local.set $root (f64x2.sqrt (f64x2.mul (local.get $pv) (local.get $vb))))
        (local.set $lo (f64x2.div (f64x2.mul (local.get $pm) (local.get $va)) (f64x2.add (local.get $root) (local.get $veps))))
        (local.set $zv (f64x2.eq (local.get $pv) (v128.const f64x2 0 0)))
        (local.set $mz (f64x2.eq (local.get $pm) (v128.const f64x2 0 0)))
        (local.set $undet (v128.andnot (local.get $zv) (local.get $mz)))
        (local.set $lo (v128.andnot (local.get $lo) (local.get $undet)))
        (local.set $cz (i64x2.sub (local.get $cz) (v128.and (local.get $zv) (local.get $mz))))
        (local.set $ce (i64x2.sub (local.get $ce) (v128.andnot (f64x2.lt (local.get $root) (local.get $veps)) (local.get $zv))))
        (local.set $cu (i64x2.sub (local.get $cu) (local.get $undet)))
        ;; histogram bin = clamp(u·10 + 30, 0, 59.5), truncated (the bins of U_HISTOGRAM_EDGES over [−3, 3])
        (local.set $bins
          (i32x4.trunc_sat_f64x2_s_zero
            (f64x2.pmin
              (f64x2.pmax
                (f64x2.add (f64x2.mul (local.get $lo) (v128.const f64x2 10 10)) (v128.const f64x2 30 30))
                (v128.const f64x2 0 0))
              (v128.const f64x2 59.5 59.5))))
        (local.set $at (i32.add (local.get $hist) (i32.shl (i32.or (i32.shl (i32x4.extract_lane 0 (local.get $bins)) (i32.const 2)) (i32.const 0)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $at (i32.add (local.get $hist) (i32.shl (i32.or (i32.shl (i32x4.extract_lane 1 (local.get $bins)) (i32.const 2)) (i32.const 1)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        ;; elements 2, 3 of the group
        (local.set $pm (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xm) (local.get $xm))))
        (local.set $pv (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xv) (local.get $xv))))
        (local.set $root (f64x2.sqrt (f64x2.mul (local.get $pv) (local.get $vb))))
        (local.set $hi (f64x2.div (f64x2.mul (local.get $pm) (local.get $va)) (f64x2.add (local.get $root) (local.get $veps))))
        (local.set $zv (f64x2.eq (local.get $pv) (v128.const f64x2 0 0)))
        (local.set $mz (f64x2.eq (local.get $pm) (v128.const f64x2 0 0)))
        (local.set $undet (v128.andnot (local.get $zv) (local.get $mz)))
        (local.set $hi (v128.andnot (local.get $hi) (local.get $undet)))
        (local.set $cz (i64x2.sub (local.get $cz) (v128.and (local.get $zv) (local.get $mz))))
        (local.set $ce (i64x2.sub (local.get $ce) (v128.andnot (f64x2.lt (local.get $root) (local.get $veps)) (local.get $zv))))
        (local.set $cu (i64x2.sub (local.get $cu) (local.get $undet)))
        ;; histogram bin = clamp(u·10 + 30, 0, 59.5), truncated (the bins of U_HISTOGRAM_EDGES over [−3, 3])
        (local.set $bins
          (i32x4.trunc_sat_f64x2_s_zero
            (f64x2.pmin
              (f64x2.pmax
                (f64x2.add (f64x2.mul (local.get $hi) (v128.const f64x2 10 10)) (v128.const f64x2 30 30))
                (v128.const f64x2 0 0))
              (v128.const f64x2 59.5 59.5))))
        (local.set $at (i32.add (local.get $hist) (i32.shl (i32.or (i32.shl (i32x4.extract_lane 0 (local.get $bins)) (i32.const 2)) (i32.const 2)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $at (i32.add (local.get $hist) (i32.shl (i32.or (i32.shl (i32x4.extract_lane 1 (local.get $bins)) (i32.const 2)) (i32.const 3)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $uu0 (f64x2.add (local.get $uu0) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $uu1 (f64x2.add (local.get $uu1) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $vh0 (f64x2.add (local.get $vh0) (f64x2.mul (f64x2.promote_low_f32x4 (local.get $xv)) (f64x2.splat (local.get $vs)))))
        (local.set $vh1
          (f64x2.add (local.get $vh1)
            (f64x2.mul
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xv) (local.get $xv)))
              (f64x2.splat (local.get $vs)))))
        (if (local.get $hasp)
          (then
            (local.set $xp (v128.load (local.get $p)))
            (local.set $up0 (f64x2.add (local.get $up0) (f64x2.mul (local.get $lo) (f64x2.promote_low_f32x4 (local.get $xp)))))
            (local.set $up1
              (f64x2.add (local.get $up1)
                (f64x2.mul (local.get $hi)
                  (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xp) (local.get $xp))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $next)))
    (v128.store offset=32 (local.get $out) (local.get $cz))
    (v128.store offset=48 (local.get $out) (local.get $ce))
    (v128.store offset=64 (local.get $out) (local.get $cu))
    ;; The tail, element by element, with the same arithmetic.
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (local.set $k (i32.const 0))
    (block $tdone
      (loop $tnext
        (br_if $tdone (i32.ge_u (local.get $m) (local.get $end)))
        (local.set $sm (f64.promote_f32 (f32.load (local.get $m))))
        (local.set $sv (f64.promote_f32 (f32.load (local.get $v))))
        (local.set $r (f64.sqrt (f64.mul (local.get $sv) (local.get $b))))
        (local.set $su (f64.div (f64.mul (local.get $sm) (local.get $a)) (f64.add (local.get $r) (local.get $eps))))
        (if (f64.eq (local.get $sv) (f64.const 0))
          (then
            (if (f64.eq (local.get $sm) (f64.const 0))
              (then (i64.store (i32.add (local.get $out) (i32.const 32)) (i64.add (i64.load (i32.add (local.get $out) (i32.const 32))) (i64.const 1))))
              (else
                (local.set $su (f64.const 0))
                (i64.store (i32.add (local.get $out) (i32.const 64)) (i64.add (i64.load (i32.add (local.get $out) (i32.const 64))) (i64.const 1))))))
          (else
            (if (f64.lt (local.get $r) (local.get $eps))
              (then (i64.store (i32.add (local.get $out) (i32.const 48)) (i64.add (i64.load (i32.add (local.get $out) (i32.const 48))) (i64.const 1)))))))
        (local.set $tuu (f64.add (local.get $tuu) (f64.mul (local.get $su) (local.get $su))))
        (local.set $tvh (f64.add (local.get $tvh) (f64.mul (local.get $sv) (local.get $vs))))
        (if (local.get $hasp)
          (then
            (local.set $tup (f64.add (local.get $tup) (f64.mul (local.get $su) (f64.promote_f32 (f32.load (local.get $p))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))))
        (local.set $bin
          (i32.trunc_sat_f64_s
            (f64.min (f64.max (f64.add (f64.mul (local.get $su) (f64.const 10)) (f64.const 30)) (f64.const 0)) (f64.const 59.5))))
        ;; f64.min/max propagate NaN; the JS twin's clamp lets NaN through and truncates it to 0, as trunc_sat does.
        (call $bump (local.get $hist) (local.get $bin) (local.get $k))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (br $tnext)))
    (f64.store (local.get $out)
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $uu0)) (f64x2.extract_lane 1 (local.get $uu0)))
          (f64.add (f64x2.extract_lane 0 (local.get $uu1)) (f64x2.extract_lane 1 (local.get $uu1))))
        (local.get $tuu)))
    (f64.store offset=8 (local.get $out)
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $up0)) (f64x2.extract_lane 1 (local.get $up0)))
          (f64.add (f64x2.extract_lane 0 (local.get $up1)) (f64x2.extract_lane 1 (local.get $up1))))
        (local.get $tup)))
    (f64.store offset=16 (local.get $out)
      (f64.add
        (f64.add
          (f64.add (f64x2.extract_lane 0 (local.get $vh0)) (f64x2.extract_lane 1 (local.get $vh0)))
          (f64.add (f64x2.extract_lane 0 (local.get $vh1)) (f64x2.extract_lane 1 (local.get $vh1))))
        (local.get $tvh))))
)
