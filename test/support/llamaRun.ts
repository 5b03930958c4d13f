// A synthetic Llama-7B-shaped run for the dashboard at scale: 291 parameter tensors (embed, 32 blocks of
// q/k/v/o, gate/up/down and two norms, the final norm, lm_head) with their real names and shapes, 2,000
// logged steps, a warm-up + cosine lr schedule decaying to 1.85e-10, Adam-like figures (RMS(u) falling from
// ~0.9 to 0.2–0.35, relative step = lr·RMS(u)/RMS(p)), two stray tensors, a loss spike; the findings and
// the run summary come from the real rules and lr-schedule code over these figures (running the whole
// pipeline on a 582k-line log takes ~40 s and 1 GB here, too much for a test). Deterministic.

import type { RunAnalysis } from '../../src/core/analysis';
import type { LayerStats } from '../../src/core/engine/types';
import { lrAtFn, lrScheduleOf } from '../../src/core/lrSchedule';
import { evaluateRunRules } from '../../src/core/rules/runRules';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import type { GlobalObservation } from '../../src/core/run/types';
import { absentColumn, SERIES_FIGURES, type LayerSeries, type SeriesFigure } from '../../src/shared/series';
import { VERSION } from '../../src/core/version';

const BLOCK = [
  ['input_layernorm.weight', [4096]],
  ['self_attn.q_proj.weight', [4096, 4096]],
  ['self_attn.k_proj.weight', [4096, 4096]],
  ['self_attn.v_proj.weight', [4096, 4096]],
  ['self_attn.o_proj.weight', [4096, 4096]],
  ['post_attention_layernorm.weight', [4096]],
  ['mlp.gate_proj.weight', [11008, 4096]],
  ['mlp.up_proj.weight', [11008, 4096]],
  ['mlp.down_proj.weight', [4096, 11008]],
] as const;

export const LLAMA_BLOCKS = 32;

/** The 291 tensor names and shapes of a Llama-7B, in model.named_parameters() order. */
export function llamaTensors(blocks = LLAMA_BLOCKS): { name: string; shape: number[] }[] {
  const out = [{ name: 'model.embed_tokens.weight', shape: [32000, 4096] }];
  for (let b = 0; b < blocks; b++) for (const [p, shape] of BLOCK) out.push({ name: `model.layers.${b}.${p}`, shape: [...shape] });
  out.push({ name: 'model.norm.weight', shape: [4096] }, { name: 'lm_head.weight', shape: [32000, 4096] });
  return out;
}

/** The two tensors that stray from their kind: a k_proj stepping 6× its peers, a down_proj 8× below. */
export const STRAY_HIGH = 'model.layers.5.self_attn.k_proj.weight';
export const STRAY_LOW = 'model.layers.30.mlp.down_proj.weight';
export const LOSS_SPIKE_STEP = 12_340;

/** A deterministic value in [0, 1) for a counter (the classic shader hash): reproducible noise without a generator. */
function hash01(n: number): number {
  const x = Math.sin(n * 12.9898 + 78.233) * 43758.5453;
  return x - Math.floor(x);
}

export function llamaRunAnalysis(options: { steps?: number; every?: number; blocks?: number } = {}): RunAnalysis {
  const nSteps = options.steps ?? 2000;
  const every = options.every ?? 10;
  const tensors = llamaTensors(options.blocks);
  let draws = 0;
  const noise = (spread: number) => Math.exp((hash01(++draws) - 0.5) * 2 * spread);
  const steps = Array.from({ length: nSteps }, (_, i) => (i + 1) * every);
  const warmup = Math.max(1, Math.round(nSteps * 0.025));
  const peak = 3e-4;
  const floor = 1.85e-10;
  const lrs = steps.map((_, i) =>
    i < warmup
      ? (peak * (i + 1)) / warmup
      : floor + (peak - floor) * 0.5 * (1 + Math.cos((Math.PI * (i - warmup)) / (nSteps - 1 - warmup))),
  );
  const series: LayerSeries[] = [];
  const layers: LayerStats[] = [];
  for (const t of tensors) {
    const norm = /norm/.test(t.name);
    const embed = /embed/.test(t.name);
    const block = /layers\.(\d+)\./.exec(t.name);
    const depth = block ? Number(block[1]) / LLAMA_BLOCKS : 0;
    const baseU = norm ? 0.15 : embed ? 0.05 : /q_proj|k_proj/.test(t.name) ? 0.25 : 0.3;
    const figures = {} as Record<SeriesFigure, (number | null)[]>;
    for (const f of ['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms', 'relStepPredicted', 'epsDominatedFraction'] as const)
      figures[f] = [];
    steps.forEach((_, i) => {
      const progress = i / nSteps;
      let p = norm ? 1 + 0.05 * progress : 0.02 * (1 + 0.35 * progress) * (1 + 0.2 * depth);
      if (t.name === STRAY_HIGH) p /= 6;
      const u = (baseU + (0.9 - baseU) * Math.exp(-i / 30)) * noise(0.08) * (t.name === STRAY_LOW ? 1 / 8 : 1);
      const predicted = (lrs[i] * u) / p;
      const rel = predicted * noise(0.03);
      figures.paramRms.push(p);
      figures.gradRms.push(1e-3 * (1 + depth) * noise(0.2));
      figures.updateRms.push(rel * p);
      figures.relStep.push(rel);
      figures.adamUpdateRms.push(u);
      figures.relStepPredicted.push(predicted);
      figures.epsDominatedFraction.push(embed ? 0.62 : 0);
    });
    const columns = {} as LayerSeries['figures'];
    for (const f of SERIES_FIGURES)
      columns[f] = figures[f] ? Float64Array.from(figures[f], (v) => v ?? Number.NaN) : absentColumn(steps.length);
    series.push({ layer: t.name, steps: Float64Array.from(steps), figures: columns });
    const last = nSteps - 1;
    layers.push({
      name: t.name,
      shape: t.shape,
      numel: t.shape.reduce((a, b) => a * b, 1),
      paramRms: figures.paramRms[last],
      gradRms: figures.gradRms[last],
      updateRms: figures.updateRms[last],
      relStep: figures.relStep[last],
      adamUpdateRms: figures.adamUpdateRms[last],
      relStepPredicted: figures.relStepPredicted[last],
      epsDominatedFraction: figures.epsDominatedFraction[last],
      provenance: { paramRms: 'log', relStep: 'log', adamUpdateRms: 'log' },
    });
  }
  const globals: GlobalObservation[] = steps.map((step, i) => ({
    step,
    values: {
      loss: (2 + 8 * Math.exp(-i / 300)) * noise(0.02) * (step === LOSS_SPIKE_STEP ? 3 : 1),
      gradNorm: (0.6 + 2 * Math.exp(-i / 100)) * noise(0.1),
      lr: lrs[i],
    },
  }));
  const lrPointsOfRun = { steps, values: lrs };
  const lrSchedule = lrScheduleOf(lrPointsOfRun);
  const reportStep = steps[steps.length - 1];
  const thresholds = { ...DEFAULT_THRESHOLDS };
  const findings = evaluateRunRules({
    step: reportStep,
    layers,
    series,
    thresholds,
    optimizer: 'adamw',
    lr: lrs[lrs.length - 1],
    lrSchedule,
    lrAt: lrAtFn(lrPointsOfRun),
    anyParamScale: true,
    eps: 1e-8,
    nonFinite: [],
    globals,
  });
  return {
    result: {
      tool: 'optimizer-lens',
      version: VERSION,
      inputs: [{ path: '/runs/llama-7b/optimizer_lens.jsonl', format: 'jsonl' }],
      optimizer: { type: 'adamw', lr: lrs[lrs.length - 1], betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, source: 'log' },
      step: reportStep,
      steps,
      layers,
      findings,
      issues: [],
    },
    summary: { steps: { first: steps[0], last: reportStep, count: nSteps }, lrSchedule, lastFullStep: reportStep },
    series,
    globals,
    distributions: [],
    thresholds,
  };
}
