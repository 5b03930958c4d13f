// The run rules over a whole run: one finding per rule and cause, listing layers and steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRunRules, type RunRuleContext } from '../../../src/core/rules/runRules';
import { lossSpikes, medianDeviation } from '../../../src/core/rules/lossSpike';
import { DEFAULT_THRESHOLDS } from '../../../src/core/rules/types';
import { lrAtFn, lrScheduleOf } from '../../../src/core/lrSchedule';
import { absentColumn, SERIES_FIGURES, seriesValue, type LayerSeries } from '../../../src/shared/series';
import type { LayerStats } from '../../../src/core/engine/types';

/** Series of `layers` over `steps`, relStep from `rel(layer index, step)`. */
function series(layers: string[], steps: number[], rel: (i: number, step: number) => number | null): LayerSeries[] {
  return layers.map((layer, i) => {
    const figures = Object.fromEntries(SERIES_FIGURES.map((f) => [f, absentColumn(steps.length)])) as LayerSeries['figures'];
    figures.relStep = Float64Array.from(steps, (s) => rel(i, s) ?? Number.NaN);
    figures.paramRms = Float64Array.from(steps, () => 0.02);
    return { layer, steps: Float64Array.from(steps), figures };
  });
}

function context(s: LayerSeries[], extra: Partial<RunRuleContext> = {}): RunRuleContext {
  const last = s[0].steps[s[0].steps.length - 1];
  const layers: LayerStats[] = s.map((x) => ({
    name: x.layer,
    shape: null,
    numel: null,
    paramRms: 0.02,
    gradRms: null,
    updateRms: null,
    relStep: seriesValue(x.figures.relStep[x.steps.length - 1]),
    adamUpdateRms: null,
    relStepPredicted: null,
    epsDominatedFraction: null,
  }));
  return {
    step: last,
    layers,
    series: s,
    thresholds: DEFAULT_THRESHOLDS,
    optimizer: 'adamw',
    lr: null,
    lrSchedule: null,
    lrAt: () => null,
    anyParamScale: true,
    eps: 1e-8,
    nonFinite: [],
    globals: [],
    ...extra,
  };
}

/** 32 Llama blocks × 9 tensors + embed, final norm, head = 291 names. */
const LLAMA = [
  'model.embed_tokens.weight',
  ...Array.from({ length: 32 }, (_, b) =>
    ['q_proj', 'k_proj', 'v_proj', 'o_proj']
      .map((p) => `model.layers.${b}.self_attn.${p}.weight`)
      .concat(
        ['gate_proj', 'up_proj', 'down_proj'].map((p) => `model.layers.${b}.mlp.${p}.weight`),
        [`model.layers.${b}.input_layernorm.weight`, `model.layers.${b}.post_attention_layernorm.weight`],
      ),
  ).flat(),
  'model.norm.weight',
  'lm_head.weight',
];

test('291 tensors under a decayed cosine schedule: one relative-step-low finding, caused by the lr, not 291', () => {
  assert.equal(LLAMA.length, 291);
  const steps = Array.from({ length: 200 }, (_, i) => (i + 1) * 100); // 100 … 20,000
  const peak = 3e-4;
  const lrOf = (s: number): number => (s <= 500 ? (peak * s) / 500 : 0.5 * peak * (1 + Math.cos((Math.PI * (s - 500)) / 19_500)));
  const lrPoints = { steps, values: steps.map(lrOf) };
  // relative step ∝ lr: 3e-4·0.3/0.02 ≈ 4.5e-3 at the peak, below 1e-5 only where the schedule is near 0.
  const s = series(LLAMA, steps, (_, st) => (lrOf(st) * 0.3) / 0.02);
  const findings = evaluateRunRules(context(s, { lrSchedule: lrScheduleOf(lrPoints), lrAt: lrAtFn(lrPoints) }));
  const low = findings.filter((f) => f.rule === 'relative-step-low');
  assert.equal(low.length, 1, JSON.stringify(findings.map((f) => f.message)));
  const f = low[0];
  assert.equal(f.cause, 'lr-near-zero');
  assert.equal(f.layers!.length, 291);
  assert.deepEqual(f.layers, LLAMA, 'layers in the run order');
  assert.equal(f.layer, null);
  // relStep < 1e-5 ⇔ lr < 6.67e-7 — the last steps of the decay (and not the warmup, which starts at 6e-5).
  const expected = steps.filter((st) => (lrOf(st) * 0.3) / 0.02 < 1e-5);
  assert.deepEqual(f.steps, { first: expected[0], last: expected[expected.length - 1], count: expected.length });
  assert.equal(f.step, 20_000, 'points at the report step');
  assert.match(f.message, /^all 291 tensors \(model\.embed_tokens\.weight, model\.layers\.0\.self_attn\.q_proj\.weight, /);
  assert.match(f.message, /at steps 19,\d00–20,000 \(\d+ steps with figures\)/);
  assert.match(f.message, /the lr schedule has decayed to .* there \(peak 3e-4 at step 500\)/);
  // Machine-readable: every layer with its step range.
  const per = (f.evidence as { perLayer: { layer: string; first: number; last: number; count: number; worst: number }[] }).perLayer;
  assert.equal(per.length, 291);
  assert.deepEqual(per[0], { layer: LLAMA[0], first: expected[0], last: 20_000, count: expected.length, worst: per[0].worst });
  assert.ok(!findings.some((x) => x.rule === 'relative-step-high'));
});

test('a low step with a steady lr has no cause; high and low are separate findings with their own layers', () => {
  const steps = [1, 2, 3];
  const s = series(['a', 'b', 'c', 'd'], steps, (i, st) => (i === 0 ? 0.05 : i === 1 ? (st === 3 ? 0.02 : 0.001) : i === 2 ? 1e-6 : 1e-3));
  const lrPoints = { steps, values: [1e-3, 1e-3, 1e-3] };
  const findings = evaluateRunRules(context(s, { lrSchedule: lrScheduleOf(lrPoints), lrAt: lrAtFn(lrPoints) }));
  const high = findings.find((f) => f.rule === 'relative-step-high')!;
  assert.deepEqual(high.layers, ['a', 'b']);
  assert.deepEqual(high.steps, { first: 1, last: 3, count: 3 });
  assert.match(high.message, /^2 of 4 tensors \(a, b\): measured relative step above 0\.01 per step at steps 1–3/);
  assert.match(high.message, /up to 0\.05 \(a, step 1\); all of them at step 3 \(the report step\)/);
  const low = findings.find((f) => f.rule === 'relative-step-low')!;
  assert.deepEqual(low.layers, ['c']);
  assert.equal(low.layer, 'c', 'one layer: the finding names it');
  assert.equal(low.cause, undefined);
});

test('frozen layers (PEFT base weights) get no relative-step or scale-spread findings', () => {
  const s = series(['base.q.weight', 'lora_A', 'lora_B'], [10], (i) => (i === 0 ? 0 : 1e-3));
  s[0].figures.paramRms = Float64Array.of(5);
  const ctx = context(s, { frozenLayers: new Set(['base.q.weight']) });
  ctx.layers[0].paramRms = 5;
  ctx.layers[1].paramRms = 0.01;
  const findings = evaluateRunRules(ctx);
  assert.deepEqual(findings, []);
  const unfrozen = evaluateRunRules({ ...ctx, frozenLayers: undefined });
  assert.deepEqual(unfrozen.map((f) => f.rule).sort(), ['relative-step-low', 'scale-spread']);
});

test('lr-without-scale quotes the peak and the schedule, not the last decayed lr; the wording follows the optimizer', () => {
  const s = series(['w'], [1], () => null);
  const lrPoints = { steps: [1, 500, 10_000], values: [4e-7, 4e-5, 2e-8] };
  const base = context(s, { anyParamScale: false, lr: 2e-8, lrSchedule: lrScheduleOf(lrPoints), lrAt: lrAtFn(lrPoints) });
  const adam = evaluateRunRules(base).find((f) => f.rule === 'lr-without-scale')!;
  assert.match(adam.message, /^Learning rate peak 4e-5 at step 500, decayed to 2e-8 at step 10,000 is known but no parameter scale is\./);
  assert.match(adam.message, /Under AdamW each weight moves by about lr × RMS\(u\)/);
  assert.equal((adam.evidence as { lr: number }).lr, 4e-5);
  const sgd = evaluateRunRules({ ...base, optimizer: 'sgd' }).find((f) => f.rule === 'lr-without-scale')!;
  assert.doesNotMatch(sgd.message, /Adam/);
  assert.match(sgd.message, /Under SGD the step is lr × gradient/);
  assert.deepEqual(
    evaluateRunRules({ ...base, optimizer: 'lamb' }).filter((f) => f.rule === 'lr-without-scale'),
    [],
    'a trust-ratio lr is a relative step already',
  );
  const constant = evaluateRunRules({ ...base, lrSchedule: null, lr: 3e-4 }).find((f) => f.rule === 'lr-without-scale')!;
  assert.match(constant.message, /^Learning rate 3e-4 is known/);
});

test('loss-spike: the sliding sorted window finds exactly what re-sorting the window at every step finds', () => {
  // The reference: the window of the 50 preceding values sorted afresh, the MAD from sorted deviations.
  const med = (a: number[]): number => {
    const n = a.length;
    return n % 2 ? a[(n - 1) >> 1] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
  };
  const reference = (values: number[]): number[] => {
    const out: number[] = [];
    for (let i = 10; i < values.length; i++) {
      const w = values.slice(Math.max(0, i - 50), i).sort((a, b) => a - b);
      const m = med(w);
      const sigma = 1.4826 * med(w.map((x) => Math.abs(x - m)).sort((a, b) => a - b));
      if (values[i] > m + 6 * sigma && values[i] > m + 0.25 * Math.abs(m)) out.push(i + 1);
    }
    return out;
  };
  let seed = 11;
  const r = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(r() * 60);
    const w = Array.from({ length: n }, () => (r() < 0.3 ? Math.floor(r() * 4) : r() * 10)).sort((a, b) => a - b);
    const m = med(w);
    assert.equal(medianDeviation(Float64Array.from(w), n, m), med(w.map((x) => Math.abs(x - m)).sort((a, b) => a - b)), `window ${trial}`);
  }
  for (let trial = 0; trial < 40; trial++) {
    const n = 20 + Math.floor(r() * 400);
    // Noise, repeated values (ties in the window), plateaus and spikes of every size.
    const values = Array.from({ length: n }, () => (r() < 0.2 ? 1 : r() < 0.05 ? 1 + r() * 20 : 1 + (r() - 0.5) * 0.2 * (trial % 3)));
    const steps = values.map((_, i) => i + 1);
    assert.deepEqual(
      lossSpikes(steps, values).map((x) => x.step),
      reference(values),
      `trial ${trial}`,
    );
  }
});

test('loss-spike: a jump far above the recent median is found, noise and a slow rise are not', () => {
  let seed = 7;
  const noise = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.1;
  const steps = Array.from({ length: 300 }, (_, i) => i + 1);
  const smooth = steps.map((s) => 3 * Math.exp(-s / 150) + 1 + noise());
  assert.deepEqual(lossSpikes(steps, smooth), []);
  const spiked = smooth.slice();
  spiked[199] = 9;
  spiked[249] = 6;
  assert.deepEqual(
    lossSpikes(steps, spiked).map((x) => x.step),
    [200, 250],
  );
  const rising = steps.map((s) => 1 + s / 100 + noise());
  assert.deepEqual(lossSpikes(steps, rising), []);
  const globals = steps.map((s, i) => ({ step: s, values: { loss: spiked[i] } }));
  const f = evaluateRunRules(
    context(
      series(['w'], [300], () => 1e-3),
      { globals },
    ),
  ).find((x) => x.rule === 'loss-spike')!;
  assert.equal(f.severity, 'warning');
  assert.equal(f.step, 200);
  assert.deepEqual(f.steps, { first: 200, last: 250, count: 2 });
  assert.match(f.message, /^The training loss spikes 2 times \(steps 200, 250\): 9 at step 200/);
});
