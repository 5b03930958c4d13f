// Decimal to double for the numbers Clinger's fast path cannot take: Python's 17-significant-digit reprs
// (a mantissa above 2^53) and exponents beyond ±22. The value M·10^e is computed in double-double arithmetic
// (M exact as a pair of doubles, 10^e as the pair nearest it, computed exactly with BigInt once per exponent)
// to about 2^-104 relative, and the double nearest it is taken only when every value within a generous error
// bound (2^-96 relative) rounds to that same double; otherwise (a value close to a halfway point between two
// doubles, about one number in 2^43) NaN tells the caller to use Number() on the text, which rounds
// correctly. So the result is always Number()'s, without building a string per number.
//
// Measured on the 291-tensor long-form log, where half of the 7.5M numbers are 17-digit reprs: see
// bench/logs.ts (the JSONL row) and the note in flatJson.ts.

/** 10^0 … 10^22: exact doubles (the range where m·10^e rounds once: Clinger's fast path). */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** The decimal exponents the fast path takes: 10^e and its low part stay normal doubles. */
export const MIN_EXP10 = -280;
export const MAX_EXP10 = 280;

/** 10^e as (high, low) at [2(e − MIN_EXP10)], NaN until computed. */
const POW10_DD = new Float64Array(2 * (MAX_EXP10 - MIN_EXP10 + 1)).fill(Number.NaN);

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** Fill POW10_DD for e: the nearest double to 10^e, and the nearest double to what it misses by. */
function powerOfTen(e: number): number {
  const i = 2 * (e - MIN_EXP10);
  const h = Number(`1e${e}`); // correctly rounded
  f64[0] = h;
  const bits = u64[0]!;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (1n << 52n); // normal: h ≥ 1e-280
  const q = biased - 1075; // h = mant · 2^q
  // 10^e − h = N / D with integers: (A·Dh − C·B) / (B·Dh), 10^e = A/B, h = C/Dh.
  const A = e >= 0 ? 10n ** BigInt(e) : 1n;
  const B = e < 0 ? 10n ** BigInt(-e) : 1n;
  const C = q >= 0 ? mant << BigInt(q) : mant;
  const Dh = q < 0 ? 1n << BigInt(-q) : 1n;
  const N = A * Dh - C * B;
  const D = B * Dh;
  let l = 0;
  if (N !== 0n) {
    const n = N < 0n ? -N : N;
    // ~70 bits of quotient, then scaled back by 2^-s in two steps (each stays a normal double).
    const s = bitLength(D) - bitLength(n) + 70;
    const quotient = s >= 0 ? (n << BigInt(s)) / D : n / (D << BigInt(-s));
    const half = s >> 1;
    l = Number(quotient) * 2 ** -half * 2 ** -(s - half);
    if (N < 0n) l = -l;
  }
  POW10_DD[i] = h;
  POW10_DD[i + 1] = l;
  return i;
}

const SPLIT = 134217729; // 2^27 + 1 (Dekker)

/** a·b − p exactly, for p = a·b rounded (Dekker's product, without a fused multiply-add). */
function productError(a: number, b: number, p: number): number {
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * (hi·10^loDigits + lo)·10^e rounded to the nearest double as Number() would, or NaN when the double-double
 * estimate cannot decide it. hi < 10^15 and lo < 10^loDigits ≤ 10^4 are integers; e within MIN/MAX_EXP10.
 */
export function decimalToDouble(hi: number, loDigits: number, lo: number, e: number): number {
  if (e < MIN_EXP10 || e > MAX_EXP10) return Number.NaN;
  // M = hi·10^k + lo exactly: hi·10^k as an exact product pair, plus lo.
  const t = POW10[loDigits]!;
  const p = hi * t;
  const pe = productError(hi, t, p);
  const s = p + lo;
  const bb = s - p;
  const se = p - (s - bb) + (lo - bb);
  const low = pe + se;
  const mh = s + low;
  const ml = low - (mh - s);
  // times 10^e as a pair
  let i = 2 * (e - MIN_EXP10);
  if (POW10_DD[i] !== POW10_DD[i]) i = powerOfTen(e);
  const ph = POW10_DD[i]!;
  const pl = POW10_DD[i + 1]!;
  const x = mh * ph;
  const y = productError(mh, ph, x) + (mh * pl + ml * ph);
  const rh = x + y;
  const rl = y - (rh - x);
  // Every value within the bound rounds to one double (rounding is monotonic): that is the answer.
  const err = Math.abs(rh) * 1.262177448353619e-29; // 2^-96
  const up = rh + (rl + err);
  return up === rh + (rl - err) ? up : Number.NaN;
}
