import assert from 'node:assert/strict';

// What every fuzzer (test/**/*Fuzz*.test.ts) shares: the case count, the seed, one seeded generator and
// the per-case budget. `npm test` runs the base counts; `npm run fuzz` (scripts/fuzz.mjs) runs every
// fuzzer with FUZZ_SCALE (default 25) times as many cases; FUZZ_SEED replays another run.

/** How many times the base case counts a run uses (1 in the unit suite). */
export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);

export function fuzzCases(base: number): number {
  return Math.round(base * FUZZ_SCALE);
}

/** The run's seed: FUZZ_SEED when given (offset per fuzzer so their streams differ), else the fuzzer's own. */
export function fuzzSeed(own: number): number {
  const given = process.env.FUZZ_SEED;
  return given === undefined ? own : (Number(given) ^ own) >>> 0;
}

export type Rand = () => number;

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const int = (r: Rand, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

const maxRssMB = (): number => process.resourceUsage().maxRSS / 1024;

/**
 * The budget of one case: the process's peak RSS may not rise by more than `caseMB` in one case nor
 * past `totalMB` over the run (each test file runs in its own process, so the peak is the fuzzer's). Peak
 * RSS is monotonic, so the case that crosses is the one named. Time: cases are bounded by construction
 * (a few thousand opcodes, arrays of ≤ 1M elements); the unit suite keeps no timed assertions, so the
 * slowest case is reported there, and `npm run fuzz` (FUZZ_SCALE > 1) also fails a case slower than
 * `caseMs` — a hang detector three orders of magnitude above a typical case, not a speed test.
 */
export class CaseBudget {
  private last = maxRssMB();
  private readonly first = this.last;
  private slowest = { ms: 0, what: '' };
  constructor(
    readonly caseMB = 256,
    readonly totalMB = 1536,
    readonly caseMs = 10_000,
  ) {}

  start(): number {
    return performance.now();
  }

  /** Check the case that began at `t0` (from `start()`). */
  done(what: string, t0: number): void {
    const ms = performance.now() - t0;
    if (ms > this.slowest.ms) this.slowest = { ms, what };
    const rss = maxRssMB();
    assert.ok(rss - this.last <= this.caseMB, `${what}: peak RSS rose ${(rss - this.last).toFixed(0)} MB in one case`);
    assert.ok(rss <= this.totalMB, `${what}: peak RSS ${rss.toFixed(0)} MB`);
    this.last = rss;
    if (FUZZ_SCALE > 1) assert.ok(ms <= this.caseMs, `${what}: ${ms.toFixed(0)} ms`);
  }

  /** One line for the test's diagnostics: the slowest case and the peak. */
  report(): string {
    return `slowest case ${this.slowest.ms.toFixed(1)} ms (${this.slowest.what}); peak RSS ${this.last.toFixed(0)} MB (from ${this.first.toFixed(0)} MB)`;
  }
}
