import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunAnalysis } from '../../src/core/analysis';
import type { LayerSeries } from '../../src/shared/series';

/** The repository root. */
export const ROOT = resolve(__dirname, '..', '..');

/** Root of the project's copy of the shared fixtures (test/fixtures). */
export const FIXTURES = resolve(ROOT, 'test', 'fixtures');

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export interface ExpectedLayer {
  numel: number;
  param_rms: number;
  param_norm: number;
  param_rms_after: number;
  grad_rms: number;
  grad_norm: number;
  update_rms: number;
  update_norm: number;
  rel_step: number | null;
  exp_avg_rms?: number | null;
  exp_avg_sq_mean?: number | null;
  sqrt_v_hat_rms?: number | null;
  sqrt_v_hat_median?: number | null;
  eps_dominated_frac?: number | null;
  adam_u_rms?: number | null;
  lr_over_param_rms: number | null;
  pred_rel_step?: number | null;
  decay_rms?: number | null;
  momentum_buffer_rms?: number | null;
}

export interface Expected {
  run: string;
  optimizer: string;
  hyper: { lr: number; beta1?: number; beta2?: number; eps?: number; weight_decay?: number; reparam_k: number; loss_scale: number };
  steps: Record<string, Record<string, ExpectedLayer> & { global: Record<string, number> }>;
}

export function loadExpected(run: string): Expected {
  return JSON.parse(readFileSync(fixturePath(run, 'expected.json'), 'utf8')) as Expected;
}

export const RUNS = ['adam_base', 'adam_reparam_k8', 'adam_loss1e-10', 'adamw_wd0.05', 'sgd_momentum', 'sgd_reparam_k8'] as const;

/** Relative closeness; null only equals null. */
export function assertClose(actual: number | null | undefined, expected: number | null | undefined, rel: number, what: string): void {
  if (expected === null || expected === undefined) {
    if (actual !== null && actual !== undefined) throw new Error(`${what}: expected null, got ${actual}`);
    return;
  }
  if (actual === null || actual === undefined) throw new Error(`${what}: expected ${expected}, got ${actual}`);
  const scale = Math.max(Math.abs(expected), Number.MIN_VALUE);
  const err = Math.abs(actual - expected) / scale;
  if (!(err <= rel) && !(expected === 0 && Math.abs(actual) <= rel)) {
    throw new Error(`${what}: expected ${expected}, got ${actual} (relative error ${err.toExponential(2)} > ${rel})`);
  }
}

/**
 * A log analyzed in parts and joined (a followed log's appends) equals the whole log's analysis in everything the
 * appends carry: steps, report step and its layers, series, run-level values, summary.
 */
export function assertJoinedAsWhole(joined: RunAnalysis, whole: RunAnalysis): void {
  assert.deepEqual(joined.result.steps, whole.result.steps);
  assert.equal(joined.result.step, whole.result.step);
  assert.deepEqual(joined.result.layers, whole.result.layers);
  assert.deepEqual(float64Series(joined.series), float64Series(whole.series));
  assert.deepEqual(joined.globals, whole.globals);
  assert.deepEqual(joined.summary, whole.summary);
}

/**
 * The series with every column as a Float64Array: the same numbers compare equal whether a column is kept as
 * float32 (every value a float32) or float64 (src/shared/series.ts).
 */
export function float64Series(series: LayerSeries[]): LayerSeries[] {
  return series.map((s) => ({
    ...s,
    figures: Object.fromEntries(Object.entries(s.figures).map(([k, c]) => [k, Float64Array.from(c)])) as LayerSeries['figures'],
  }));
}
