#!/usr/bin/env node
// A Llama-7B-shaped long-form JSONL log as our logging snippet writes it: 291 parameter tensors (embed_tokens,
// 32 blocks × q/k/v/o, gate/up/down and two RMSNorms, the final norm, lm_head) logged every 10 steps, one
// line per tensor and step with the snippet's fields (step, layer, shape, numel, lr, param_rms, grad_rms,
// update_rms, rel_step, adam_u_rms, eps_dominated_frac, decay_rms, optimizer, betas, eps, weight_decay).
// lr: linear warmup to 3e-4 over 2,000 steps, then cosine decay to 1.85e-10 at the last step (so the tail of
// the run is where relative-step-low fires for every tensor). Figures are deterministic (a hash per tensor
// and step), so two runs of the generator write identical bytes.
//
//   node scripts/llama-log.mjs OUT.jsonl [--steps 2000] [--every 10]
//
// Imported by the e2e tests: `writeLlamaLog(path, opts)` and `llamaStepText(step, opts)` (one step's lines,
// for appending to a growing log).

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const HIDDEN = 4096;
const FFN = 11008;
const VOCAB = 32000;
const BLOCKS = 32;

/** The 291 tensors: [name, shape, kind]. */
export function llamaTensors() {
  const t = [['model.embed_tokens.weight', [VOCAB, HIDDEN], 'embed']];
  for (let b = 0; b < BLOCKS; b++) {
    const p = `model.layers.${b}`;
    for (const x of ['q', 'k', 'v', 'o']) t.push([`${p}.self_attn.${x}_proj.weight`, [HIDDEN, HIDDEN], 'attn']);
    t.push([`${p}.mlp.gate_proj.weight`, [FFN, HIDDEN], 'mlp']);
    t.push([`${p}.mlp.up_proj.weight`, [FFN, HIDDEN], 'mlp']);
    t.push([`${p}.mlp.down_proj.weight`, [HIDDEN, FFN], 'mlp']);
    t.push([`${p}.input_layernorm.weight`, [HIDDEN], 'norm']);
    t.push([`${p}.post_attention_layernorm.weight`, [HIDDEN], 'norm']);
  }
  t.push(['model.norm.weight', [HIDDEN], 'norm']);
  t.push(['lm_head.weight', [VOCAB, HIDDEN], 'head']);
  return t;
}

const TENSORS = llamaTensors();
const PEAK_LR = 3e-4;
const WARMUP = 2000;
const FLOOR = 1.85e-10;

/** lr at `step` of a run whose last logged step is `last`. */
export function llamaLr(step, last) {
  if (step <= WARMUP) return (PEAK_LR * step) / WARMUP;
  const t = Math.min(1, (step - WARMUP) / Math.max(1, last - WARMUP));
  return FLOOR + (PEAK_LR - FLOOR) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Deterministic noise in [0, 1) from two integers. */
function noise(a, b) {
  let h = (Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

const BASE_RMS = { embed: 0.02, attn: 0.02, mlp: 0.018, norm: 1.0, head: 0.02 };

/** The lines of one logged step (each ends with '\n'). `last` = the run's last step (for the lr schedule). */
export function llamaStepText(step, { last = 20000 } = {}) {
  const lr = llamaLr(step, last);
  let out = '';
  for (let i = 0; i < TENSORS.length; i++) {
    const [layer, shape, kind] = TENSORS[i];
    const numel = shape.reduce((a, b) => a * b, 1);
    const paramRms = BASE_RMS[kind] * (1 + 0.15 * (step / last)) * (1 + 0.05 * noise(i, 0));
    const gradRms = (kind === 'norm' ? 2e-4 : 6e-5) * (0.6 + 0.8 * noise(i, step)) * (1 + 3 / (1 + step / 100));
    const u = Math.min(1, 0.25 + 0.1 * noise(step, i) + (step <= 10 ? 0.6 : 0));
    const updateRms = lr * u * (1 + 0.02 * noise(i, step + 1));
    const rec = {
      step,
      layer,
      shape,
      numel,
      lr,
      param_rms: paramRms,
      grad_rms: gradRms,
      update_rms: updateRms,
      rel_step: updateRms / paramRms,
      adam_u_rms: u,
      eps_dominated_frac: kind === 'norm' ? 0 : 0.0001 * noise(i, step + 2),
      decay_rms: lr * 0.1 * paramRms,
      optimizer: 'AdamW',
      betas: [0.9, 0.95],
      eps: 1e-8,
      weight_decay: 0.1,
    };
    out += JSON.stringify(rec) + '\n';
  }
  return out;
}

/** Writes steps every, 2·every, …, steps·every. Returns { bytes, lines }. */
export function writeLlamaLog(path, { steps = 2000, every = 10 } = {}) {
  const last = steps * every;
  const fd = fs.openSync(path, 'w');
  let bytes = 0;
  try {
    let block = '';
    for (let s = 1; s <= steps; s++) {
      block += llamaStepText(s * every, { last });
      if (block.length > 4 << 20 || s === steps) {
        bytes += fs.writeSync(fd, block);
        block = '';
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, lines: steps * TENSORS.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const argv = process.argv.slice(2);
  const out = argv.find((a) => !a.startsWith('--'));
  const opt = (n, d) => {
    const i = argv.indexOf(n);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  if (!out) {
    console.error('usage: node scripts/llama-log.mjs OUT.jsonl [--steps 2000] [--every 10]');
    process.exit(2);
  }
  const t0 = Date.now();
  const r = writeLlamaLog(out, { steps: opt('--steps', 2000), every: opt('--every', 10) });
  console.log(`${out}: ${TENSORS.length} tensors, ${r.lines} lines, ${(r.bytes / 1e6).toFixed(0)} MB in ${Date.now() - t0} ms`);
}
