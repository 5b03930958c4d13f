// What a key means: learning rate (peak or floor), parameter scale, eps, betas, weight decay, optimizer
// type, precision. Shared by every language front end; the front ends only supply key paths and values.
import type {
  ConfigBetas,
  ConfigComment,
  ConfigLearningRate,
  ConfigNumber,
  ConfigOptimizer,
  ConfigPrecision,
  ConfigScale,
  OptimizerFamily,
  PrecisionMode,
  RawEntry,
  SourceRange,
} from './types';

/** Normalize a key part: lower case, leading dashes dropped, '-' → '_'. */
export function normalizeKey(k: string): string {
  return k.replace(/^-+/, '').toLowerCase().replace(/-/g, '_');
}

/** Keys whose value is a peak (or constant) learning rate. */
export const LR_PEAK_KEYS = new Set(['lr', 'learning_rate', 'base_lr', 'max_lr', 'peak_lr', 'warmup_max_lr', 'lr0']);
/** Keys whose value is the floor of a schedule (an lr, but not the one that sets the step size of interest). */
export const LR_FLOOR_KEYS = new Set([
  'min_lr',
  'eta_min',
  'warmup_min_lr',
  'final_lr',
  'end_lr',
  'lr_min',
  'min_learning_rate',
  'end_learning_rate',
]);
/**
 * Keys with "lr" in the name that are NOT learning rates (ratios, fractions, step counts, flags, names):
 * listed for documentation; anything not in the two sets above is not an lr anyway.
 */
export const NOT_LR_KEYS = new Set([
  'min_lr_ratio',
  'lr_warmup_fraction',
  'lr_decay_iters',
  'decay_lr',
  'lr_scheduler',
  'lr_scheduler_type',
  'lr_decay_style',
  'lrf',
]);
/** Keys that state the initial parameter scale (an init standard deviation). */
export const SCALE_KEYS = new Set(['initializer_range', 'init_std', 'init_scale', 'weight_init_std', 'param_scale', 'init_method_std']);
const EPS_KEYS = new Set(['eps', 'adam_eps', 'adam_epsilon', 'epsilon', 'optimizer_eps', 'opt_eps']);
const BETAS_KEYS = new Set(['betas', 'adam_betas', 'opt_betas']);
const BETA1_KEYS = new Set(['beta1', 'adam_beta1', 'b1']);
const BETA2_KEYS = new Set(['beta2', 'adam_beta2', 'b2']);
const WD_KEYS = new Set(['weight_decay', 'wd', 'adam_weight_decay']);
const OPTIMIZER_NAME_KEYS = new Set(['optimizer', 'optim', 'optimizer_type', 'optimizer_name', 'opt']);
const OPTIMIZER_TABLE_NAME_KEYS = new Set(['type', 'name', '_target_', 'class_path', 'cls', 'class']);

/** Optimizer constructors recognised in Python calls (last name of the callee). */
export const OPTIMIZER_CTORS = new Set([
  'adam',
  'adamw',
  'sgd',
  'rmsprop',
  'adagrad',
  'adadelta',
  'adamax',
  'nadam',
  'radam',
  'sparseadam',
  'lion',
  'adafactor',
  'lamb',
  'lars',
  'fusedadam',
  'fusedlamb',
  'fusedsgd',
  'deepspeedcpuadam',
  'adamw8bit',
  'adam8bit',
  'pagedadamw',
  'pagedadamw8bit',
  'sgdw',
  'asgd',
  'muon',
]);

export function optimizerFamily(name: string): OptimizerFamily {
  const n = name.toLowerCase();
  if (/adamw|adam_w/.test(n)) return 'adamw';
  if (/adam/.test(n)) return 'adam';
  if (/(^|[^a-z])(sgd|sgdw|asgd|lars|momentum|nesterov)/.test(n) || /sgd/.test(n)) return 'sgd';
  return 'other';
}

function isOptimizerish(part: string): boolean {
  const p = normalizeKey(part);
  return p.includes('optim') || p.includes('adam') || OPTIMIZER_CTORS.has(p.split('.').pop() ?? p);
}

export function entryKey(e: RawEntry): string {
  if (e.context === 'flag') return e.path.join('.');
  return e.path.join('.');
}

/** Read a number from a value: numbers, and strings that are plain decimal/scientific numbers. */
export function numericValue(v: RawEntry['value']): { value: number; fromString: boolean } | null {
  if (typeof v === 'number' && Number.isFinite(v)) return { value: v, fromString: false };
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) {
      const n = Number(s.replace(/_/g, ''));
      if (Number.isFinite(n)) return { value: n, fromString: true };
    }
  }
  return null;
}

function precisionOf(key: string, parentKey: string | null, v: RawEntry['value']): PrecisionMode | null {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : typeof v === 'number' ? String(v) : typeof v === 'boolean' ? String(v) : '';
  const half = /^(float16|fp16|half|torch\.float16|16)$/;
  const bhalf = /^(bfloat16|bf16|torch\.bfloat16)$/;
  switch (key) {
    case 'precision': // Lightning Trainer
      if (s === '16-true' || s === 'fp16-true') return 'fp16-true';
      if (s === 'bf16-true') return 'bf16-true';
      if (s === '16-mixed' || s === '16' || s === 'fp16' || s === 'fp16-mixed') return 'fp16-mixed';
      if (s === 'bf16-mixed' || s === 'bf16') return 'bf16-mixed';
      if (s === '32' || s === '32-true' || s === 'fp32') return 'fp32';
      return null;
    case 'param_dtype': // FSDP MixedPrecision / torchtitan: the parameters (and the optimizer step) in this dtype
    case 'mixed_precision_param':
      if (half.test(s)) return 'fp16-true';
      if (bhalf.test(s)) return 'bf16-true';
      return null;
    case 'mixed_precision': // accelerate / torchtitan mixed_precision = "bf16"|"fp16"|"bfloat16"
      if (half.test(s)) return 'fp16-mixed';
      if (bhalf.test(s)) return 'bf16-mixed';
      return null;
    case 'fp16': // HF TrainingArguments fp16: true, megatron --fp16 (mixed, fp32 master weights)
      return v === true ? 'fp16-mixed' : null;
    case 'bf16':
      return v === true ? 'bf16-mixed' : null;
    case 'enabled': // DeepSpeed fp16.enabled / bf16.enabled (mixed: fp32 master weights)
      if (v !== true) return null;
      if (parentKey === 'fp16') return 'fp16-mixed';
      if (parentKey === 'bf16' || parentKey === 'bfloat16') return 'bf16-mixed';
      return null;
    default:
      return null;
  }
}

export interface Classified {
  learningRates: ConfigLearningRate[];
  scales: ConfigScale[];
  optimizers: ConfigOptimizer[];
  eps: ConfigNumber[];
  betas: ConfigBetas[];
  weightDecay: ConfigNumber[];
  precision: ConfigPrecision[];
}

/** Keys that number a step in a logged record ({"step": 10, "learning_rate": 3e-4, "loss": …}). */
const RECORD_STEP_KEYS = new Set(['step', 'global_step', 'iteration', 'iter', 'epoch', 'train_step', 'trainer_step']);
const SEP = '\u0000';
const isIndex = (p: string) => /^\d+$/.test(p);

/**
 * Array items that are per-step records: an object inside an array (path ends in an index) with a numeric
 * step/epoch/iteration key. Their values are logged figures (the scheduled lr at that step), not settings.
 */
export function perStepRecords(entries: RawEntry[]): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    const n = e.path.length;
    if (n < 2 || !isIndex(e.path[n - 2]) || !RECORD_STEP_KEYS.has(normalizeKey(e.path[n - 1]))) continue;
    if (numericValue(e.value) === null) continue;
    out.add(e.path.slice(0, -1).join(SEP));
  }
  return out;
}

function insideRecord(path: string[], records: Set<string>): boolean {
  for (let i = path.length - 1; i >= 1; i--) if (isIndex(path[i - 1]) && records.has(path.slice(0, i).join(SEP))) return true;
  return false;
}

export function classifyEntries(entries: RawEntry[]): Classified {
  const out: Classified = { learningRates: [], scales: [], optimizers: [], eps: [], betas: [], weightDecay: [], precision: [] };
  const beta1 = new Map<string, { v: number; r: SourceRange }>();
  const records = perStepRecords(entries);
  for (const e of entries) {
    if (e.path.length === 0) continue;
    if (records.size && insideRecord(e.path, records)) continue;
    const key = normalizeKey(e.path[e.path.length - 1]);
    const parents = e.path.slice(0, -1);
    const parentKey = parents.length ? normalizeKey(parents[parents.length - 1]) : null;
    const dotted = entryKey(e);
    const num = numericValue(e.value);
    const underNorm = parents.some((p) => /norm/.test(normalizeKey(p)));
    // Python: keywords of calls that are neither optimizer constructors nor known config holders only count
    // for lr-like keys (TrainingArguments(learning_rate=…), dict(lr=…)).
    const inOtherCall = e.context === 'call-keyword';

    if ((LR_PEAK_KEYS.has(key) || LR_FLOOR_KEYS.has(key)) && num && num.value >= 0) {
      if (!underNorm) {
        out.learningRates.push({
          key: dotted,
          value: num.value,
          role: LR_PEAK_KEYS.has(key) ? 'peak' : 'floor',
          raw: e.raw,
          range: e.valueRange,
          keyRange: e.keyRange,
          note:
            num.fromString && e.context !== 'flag' ? `written as the string '${String(e.value).trim()}', read as ${num.value}` : undefined,
        });
      }
      continue;
    }
    if (SCALE_KEYS.has(key) && num && num.value > 0) {
      out.scales.push({ key: dotted, value: num.value, source: 'stated', raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (key === 'std' && e.context === 'init-call' && num && num.value > 0) {
      out.scales.push({ key: dotted, value: num.value, source: 'init-call', raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (EPS_KEYS.has(key) && num && !underNorm) {
      const optimizerContext = e.context === 'optimizer-ctor' || key !== 'eps' || parents.length === 0 || parents.some(isOptimizerish);
      if (optimizerContext && (!inOtherCall || key !== 'eps')) {
        out.eps.push({ key: dotted, value: num.value, raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      }
      continue;
    }
    if (BETAS_KEYS.has(key) && Array.isArray(e.value) && e.value.length === 2) {
      out.betas.push({ key: dotted, value: [e.value[0], e.value[1]], range: e.valueRange });
      continue;
    }
    if (BETA1_KEYS.has(key) && num) {
      beta1.set(parents.join('.'), { v: num.value, r: e.valueRange });
      out.betas.push({ key: dotted, value: [num.value, null], range: e.valueRange });
      continue;
    }
    if (BETA2_KEYS.has(key) && num) {
      const b1 = beta1.get(parents.join('.'));
      if (b1) {
        const i = out.betas.findIndex((b) => b.range === b1.r);
        if (i >= 0) out.betas.splice(i, 1);
      }
      out.betas.push({ key: dotted, value: [b1?.v ?? null, num.value], range: e.valueRange });
      continue;
    }
    if (WD_KEYS.has(key) && num) {
      out.weightDecay.push({ key: dotted, value: num.value, raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (typeof e.value === 'string') {
      const isName =
        (OPTIMIZER_NAME_KEYS.has(key) && parents.length <= 2) ||
        (OPTIMIZER_TABLE_NAME_KEYS.has(key) && parentKey !== null && (parentKey.includes('optim') || parentKey === 'opt'));
      if (isName && /[a-z]/i.test(e.value) && !e.value.includes('${')) {
        out.optimizers.push({ name: e.value, family: optimizerFamily(e.value), key: dotted, range: e.valueRange });
        continue;
      }
    }
    const mode = precisionOf(key, parentKey, e.value);
    if (mode) out.precision.push({ mode, key: dotted, raw: e.raw, range: e.valueRange });
  }
  return out;
}

/** The annotation comment: `# optimizer-lens: param-scale=0.02` (also `// …` in JSONC). */
export const ANNOTATION_RE = /optimizer-lens:\s*param-scale\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/;

export function annotationsIn(comments: ConfigComment[], range: (start: number, end: number) => SourceRange) {
  const out: { value: number; range: SourceRange; raw: string }[] = [];
  for (const c of comments) {
    const m = ANNOTATION_RE.exec(c.text);
    if (!m) continue;
    const value = Number(m[1]);
    if (!(value > 0) || !Number.isFinite(value)) continue;
    const at = c.range.start + m.index + m[0].length - m[1].length;
    out.push({ value, range: range(at, at + m[1].length), raw: m[1] });
  }
  return out;
}
