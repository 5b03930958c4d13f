// What a key means: learning rate (main, group, warmup start, floor), parameter scale, eps, betas, weight decay,
// optimizer and its options, precision, schedules, model width, loaded weights. Shared by every language front
// end; the front ends only supply key paths and values.
import { isEightBitOptimizerName, optimizerKindFromName } from '../../shared/optimizers';
import { formatNumber } from '../../shared/format';
import { CONFIG_BUDGETS } from './bounds';
import { keyWords, lrKey } from './lrKeys';
import type {
  ConfigAutoOptimizer,
  ConfigBetas,
  ConfigComment,
  ConfigLearningRate,
  ConfigNumber,
  ConfigOptimizer,
  ConfigPrecision,
  ConfigScale,
  ConfigSchedule,
  ConfigUnresolvedLr,
  OptimizerFamily,
  PrecisionMode,
  RawEntry,
  ScanIssue,
  SourceRange,
  UnresolvedEntry,
} from './types';

export { NOT_LR_KEYS } from './lrKeys';

/** Normalize a key part: lower case, leading dashes dropped, '-' → '_'. */
export function normalizeKey(k: string): string {
  let v = normalized.get(k);
  if (v === undefined) {
    v = k.replace(/^-+/, '').toLowerCase().replace(/-/g, '_');
    if (normalized.size >= 20_000) normalized.clear();
    normalized.set(k, v);
  }
  return v;
}
// Keys repeat within a file and across the re-scans of one document (each edit): normalize each once.
const normalized = new Map<string, string>();

/** Keys that state the initial parameter scale (an init standard deviation). */
export const SCALE_KEYS = new Set(['initializer_range', 'init_std', 'init_scale', 'weight_init_std', 'param_scale', 'init_method_std']);
const EPS_KEYS = new Set(['eps', 'adam_eps', 'adam_epsilon', 'epsilon', 'optimizer_eps', 'opt_eps']);
const BETAS_KEYS = new Set(['betas', 'adam_betas', 'opt_betas']);
const BETA1_KEYS = new Set(['beta1', 'adam_beta1', 'b1']);
const BETA2_KEYS = new Set(['beta2', 'adam_beta2', 'b2']);
const WD_KEYS = new Set(['weight_decay', 'wd', 'adam_weight_decay']);
/** Keys whose string value names the optimizer (`optimizer: adamw`, HF `optim`, big_vision `optax_name`). */
const OPTIMIZER_NAME_KEYS = new Set(['optimizer', 'optim', 'optimizer_type', 'optimizer_name', 'opt', 'optax_name']);
/** Keys naming the class inside an optimizer section (`optimizer: {type: …}`, `_target_`, fairseq `_name`). */
const OPTIMIZER_TABLE_NAME_KEYS = new Set(['type', 'name', '_target_', 'class_path', 'cls', 'class', '_name']);
const OPTIMIZER_SECTIONS = new Set(['optimizer', 'optim', 'opt', 'optimizer_cfg', 'optimizer_config']);
/** Values of an optimizer name key that name no optimizer (Ultralytics `optimizer: auto` picks one itself). */
const NOT_OPTIMIZER_NAMES = new Set(['auto', 'none', 'null', 'default', 'true', 'false']);
/** Model widths (Muon's update RMS follows from the weight's shape). */
const WIDTH_KEYS = new Set([
  'n_embd',
  'n_embed',
  'hidden_size',
  'd_model',
  'model_dim',
  'dim',
  'embed_dim',
  'emb_dim',
  'hidden_dim',
  'width',
]);
/** Keys whose non-empty value loads weights to train from (a fine-tune or resume). */
const LOADED_WEIGHTS_KEYS = new Set([
  'model_name_or_path',
  'pretrained_model_name_or_path',
  'base_model',
  'init_from',
  'pretrained',
  'pretrained_checkpoint',
  'pretrained_model',
  'restore_from_path',
  'checkpoint_dir',
  'initial_checkpoint_dir',
  'initial_load_path',
  'load_from',
  'resume_from_checkpoint',
  'finetune',
  'finetune_from',
]);
/** Optimizer options that change what its lr means. */
const OPTION_KEYS = new Set([
  'amsgrad',
  'relative_step',
  'scale_parameter',
  'warmup_init',
  'trust_coefficient',
  'trust_coef',
  'eeta',
  'eta',
  'optim_args',
]);
/** Path words of hyper-parameter searches: a list there is a search range, not a schedule. */
const SEARCH_WORDS = /(^|_)(sweep|sweeper|search|space|tune|tuning|grid|optuna|hparams_search|choices|distribution|bounds)($|_)/;

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
  'larc',
  'fusedadam',
  'fusedlamb',
  'fusedsgd',
  'deepspeedcpuadam',
  'adamw8bit',
  'adam8bit',
  'pagedadamw',
  'pagedadamw8bit',
  'lion8bit',
  'pagedlion8bit',
  'sgdw',
  'asgd',
  'muon',
  'rprop',
  'lbfgs',
  'novograd',
  'prodigy',
  'dadaptadam',
]);

/** The kind a config's optimizer name states, or 'other' for a name Optimizer Lens does not know. */
export function optimizerFamily(name: string): OptimizerFamily {
  return optimizerKindFromName(name) ?? 'other';
}

function isOptimizerish(part: string): boolean {
  const p = normalizeKey(part);
  return p.includes('optim') || p.includes('adam') || OPTIMIZER_CTORS.has(p.split('.').pop() ?? p);
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

/** Numbers in a string like fairseq's `adam_betas: (0.9,0.98)` or `--adam-betas '(0.9, 0.98)'`. */
function numbersInString(v: RawEntry['value']): number[] | null {
  if (typeof v !== 'string' || v.length > 80) return null;
  const m = /^\s*[([]?\s*([-+.\deE]+)\s*,\s*([-+.\deE]+)\s*[)\]]?\s*$/.exec(v);
  if (!m) return null;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return Number.isFinite(a) && Number.isFinite(b) ? [a, b] : null;
}

const boolOf = (v: RawEntry['value']): boolean | null =>
  typeof v === 'boolean' ? v : typeof v === 'string' && /^(true|false)$/i.test(v.trim()) ? v.trim().toLowerCase() === 'true' : null;

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
    case 'fp16_opt_level': // apex amp: O3 is pure float16 (no fp32 master weights); O1/O2 keep fp32 where it matters
    case 'opt_level':
    case 'amp_opt_level':
      return s === 'o3' ? 'fp16-true' : null;
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
  unresolved: ConfigUnresolvedLr[];
  scales: ConfigScale[];
  optimizers: ConfigOptimizer[];
  eps: ConfigNumber[];
  betas: ConfigBetas[];
  weightDecay: ConfigNumber[];
  precision: ConfigPrecision[];
  schedules: ConfigSchedule[];
  widths: ConfigNumber[];
  autoOptimizer: ConfigAutoOptimizer | null;
  loadedWeights: { key: string; raw: string; range: SourceRange } | null;
  issues: ScanIssue[];
  /** Set when the file is data (tables of records), not a config: why. */
  dataFile?: string;
}

/** Keys that number a step in a logged record ({"step": 10, "learning_rate": 3e-4, "loss": …}). */
const RECORD_STEP_KEYS = new Set(['step', 'global_step', 'iteration', 'iter', 'epoch', 'train_step', 'trainer_step']);
const SEP = '\u0000';
const isIndex = (p: string) => p.length > 0 && p.charCodeAt(0) >= 48 && p.charCodeAt(0) <= 57 && /^\d+$/.test(p);

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

/** Prefix keys of a path, built once: prefixes[i] is path[0..i) joined. */
function prefixes(path: string[]): string[] {
  const out = [''];
  let acc = '';
  for (let i = 0; i < path.length; i++) {
    acc = i ? `${acc}${SEP}${path[i]}` : path[i];
    out.push(acc);
  }
  return out;
}

/**
 * A file that is data rather than settings (a test's expected.json, exported metrics): most of its values sit in
 * tables of records — containers of ≥ 3 numbered items (array indices or step numbers as keys) that share one
 * key set. Returns why, or null.
 */
function dataTables(entries: RawEntry[]): string | null {
  if (entries.length < 20) return null;
  // Numbered containers: their items' child keys, how many values lie beneath, whether an lr-like key does.
  const tables = new Map<string, { items: Map<string, Set<string>>; values: number; lr: boolean }>();
  for (const e of entries) {
    if (!e.path.some(isIndex)) continue;
    const ps = prefixes(e.path);
    const lr = !!lrKey(e.path[e.path.length - 1]);
    for (let i = 1; i + 1 < e.path.length; i++) {
      if (!isIndex(e.path[i])) continue;
      let t = tables.get(ps[i]);
      if (!t) tables.set(ps[i], (t = { items: new Map(), values: 0, lr: false }));
      let keys = t.items.get(e.path[i]);
      if (!keys) t.items.set(e.path[i], (keys = new Set()));
      if (keys.size < 64) keys.add(e.path[i + 1]);
      t.values++;
      t.lr ||= lr;
    }
  }
  let best: { container: string; values: number; items: number } | null = null;
  for (const [container, t] of tables) {
    if (t.items.size < 3 || !t.lr || (best && t.values <= best.values)) continue;
    const sets = [...t.items.values()].map((k) => [...k].sort().join(SEP));
    if (!sets.every((x) => x === sets[0])) continue;
    best = { container, values: t.values, items: t.items.size };
  }
  if (!best || best.values < entries.length * 0.8) return null;
  const name = best.container.split(SEP).join('.') || '(top level)';
  return `data, not a config: ${best.values} of ${entries.length} values are in '${name}', a table of ${best.items} records with the same keys`;
}

/** What an lr's hover and JSON say about how its value was read (a variable, a fold, a string). */
function noteOf(e: RawEntry, num: { value: number; fromString: boolean } | null): string | undefined {
  if (e.via) return e.via;
  if (num?.fromString && e.context !== 'flag' && e.context !== 'assign')
    return `written as the string '${String(e.value).trim()}', read as ${formatNumber(num.value)}`;
  return undefined;
}

/** An entry with what every pass asks of it, computed once. */
interface Info {
  e: RawEntry;
  last: string;
  key: string;
  parents: string[];
  parentJoin: string;
  parentKey: string | null;
  underNorm: boolean;
  inSearch: boolean;
}

function addOptimizer(
  out: Classified,
  e: RawEntry,
  name: string,
  source: ConfigOptimizer['source'],
  scope: string[],
  range: SourceRange = e.valueRange,
): void {
  if (out.optimizers.length >= CONFIG_BUDGETS.maxPerKind) return;
  out.optimizers.push({
    name,
    family: optimizerFamily(name),
    key: e.path.join('.'),
    range,
    eightBit: isEightBitOptimizerName(name) || undefined,
    source,
    scope,
    ctorStart: e.ctorStart,
    options: {},
  });
}

/** Index of the largest value (a loop: a spread of a long list overflows the call stack). */
function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Schedule values kept with an lr (the hover lists them). */
const MAX_SCHEDULE = 64;
const scheduleRest = (xs: number[], peak: number) => xs.filter((_, i) => i !== peak).slice(0, MAX_SCHEDULE);

/** An lr being classified: with the call it belongs to and the constants it was computed from. */
type Pending = ConfigLearningRate & { path?: string[]; ctorStart?: number; refs?: string[] };

/** Key of a path prefix for the owner index (normalized parts). */
const pathKey = (parts: string[], n: number) => {
  let k = '';
  for (let i = 0; i < n; i++) k += `${normalizeKey(parts[i])}${SEP}`;
  return k;
};

/**
 * The optimizer an entry belongs to: the constructor call it is an argument of, else the optimizer section whose
 * path it shares most of (its own section, or a sibling of it as in TF Model Garden's optimizer_config), when one
 * is the unique best; undefined: file level. Indexed by section path, so each look-up walks the entry's path once.
 */
function ownerIndex(optimizers: ConfigOptimizer[]): (e: { path: string[]; ctorStart?: number }) => number | undefined {
  const byCtor = new Map<number, number>();
  const byScope = new Map<string, number[]>(); // the section itself: shares all of its path
  const byParent = new Map<string, number[]>(); // a sibling section: shares all but its last key
  optimizers.forEach((o, i) => {
    if (o.ctorStart !== undefined) {
      if (!byCtor.has(o.ctorStart)) byCtor.set(o.ctorStart, i);
      return;
    }
    if (!o.scope.length) return;
    const add = (m: Map<string, number[]>, k: string) => (m.get(k) ?? m.set(k, []).get(k)!).push(i);
    add(byScope, pathKey(o.scope, o.scope.length));
    if (o.scope.length > 1) add(byParent, pathKey(o.scope, o.scope.length - 1));
  });
  return (e) => {
    if (e.ctorStart !== undefined) {
      const i = byCtor.get(e.ctorStart);
      if (i !== undefined) return i;
    }
    if (!byScope.size) return undefined;
    // Prefix keys of the entry's section, longest last; the longest with a candidate decides.
    const keys: string[] = [];
    let k = '';
    for (let i = 0; i + 1 < e.path.length; i++) keys.push((k += `${normalizeKey(e.path[i])}${SEP}`));
    for (let n = keys.length; n >= 1; n--) {
      const a = byScope.get(keys[n - 1]);
      const b = byParent.get(keys[n - 1]);
      const count = (a?.length ?? 0) + (b?.length ?? 0);
      if (count === 1) return (a ?? b)![0];
      if (count > 1) return undefined;
    }
    return undefined;
  };
}

export function classifyEntries(entries: RawEntry[], unresolvedIn: UnresolvedEntry[] = []): Classified {
  const out: Classified = {
    learningRates: [],
    unresolved: [],
    scales: [],
    optimizers: [],
    eps: [],
    betas: [],
    weightDecay: [],
    precision: [],
    schedules: [],
    widths: [],
    autoOptimizer: null,
    loadedWeights: null,
    issues: [],
  };
  const data = dataTables(entries);
  if (data) {
    out.dataFile = data;
    return out;
  }
  const beta1 = new Map<string, number>(); // parent path → index into out.betas
  const records = perStepRecords(entries);
  const insideRecord = (path: string[]): boolean => {
    if (!records.size) return false;
    const ps = prefixes(path);
    for (let i = path.length - 1; i >= 1; i--) if (isIndex(path[i - 1]) && records.has(ps[i])) return true;
    return false;
  };
  const kept = entries.filter((e) => e.path.length > 0 && !insideRecord(e.path));
  const keyOf = (e: { path: string[] }) => e.path.join('.');

  // Per entry once: its key, parents and the flags of its section (sections repeat: memoized by parent path).
  const sections = new Map<string, { underNorm: boolean; inSearch: boolean }>();
  const infos: Info[] = kept.map((e) => {
    const parents = e.path.slice(0, -1);
    const parentJoin = parents.join(SEP);
    let sec = sections.get(parentJoin);
    if (!sec) {
      sec = {
        underNorm: parents.some((p) => normalizeKey(p).includes('norm')),
        inSearch: parents.some((p) => SEARCH_WORDS.test(normalizeKey(p))),
      };
      sections.set(parentJoin, sec);
    }
    const last = e.path[e.path.length - 1];
    return {
      e,
      last,
      key: normalizeKey(last),
      parents,
      parentJoin,
      parentKey: parents.length ? normalizeKey(parents[parents.length - 1]) : null,
      ...sec,
    };
  });

  // Optimizers first: learning rates and options are attributed to them.
  let fp16Off = false;
  let classes: number | undefined;
  for (const { e, key, parents, parentKey } of infos) {
    if (key === 'fp16' && e.value === false) fp16Off = true;
    if (e.context === 'optimizer-ctor' && e.path.length === 1 && typeof e.value === 'string') {
      addOptimizer(out, e, e.value, 'ctor', []);
      continue;
    }
    if (key === 'use_8bit_adam' && boolOf(e.value)) addOptimizer(out, e, 'AdamW8bit', 'name', parents, e.keyRange ?? e.valueRange);
    if (key === 'adafactor' && boolOf(e.value) && e.context !== 'optimizer-ctor')
      addOptimizer(out, e, 'adafactor', 'hf-optim', parents, e.keyRange ?? e.valueRange);
    if (key === 'nc' && typeof e.value === 'number' && Number.isInteger(e.value) && e.value > 0) classes = e.value;
    if (typeof e.value !== 'string') continue;
    const v = e.value.trim();
    if (v.toLowerCase() === 'auto' && OPTIMIZER_NAME_KEYS.has(key) && parents.length <= 2 && !out.autoOptimizer)
      out.autoOptimizer = { key: e.path.join('.'), raw: v, range: e.valueRange };
    if (!/[a-z]/i.test(v) || v.includes('${') || v.includes('???') || NOT_OPTIMIZER_NAMES.has(v.toLowerCase())) continue;
    if (OPTIMIZER_NAME_KEYS.has(key) && parents.length <= 2 && e.context !== 'optimizer-ctor')
      addOptimizer(out, e, v, key === 'optim' ? 'hf-optim' : 'name', parents);
    else if (
      OPTIMIZER_TABLE_NAME_KEYS.has(key) &&
      parentKey !== null &&
      (OPTIMIZER_SECTIONS.has(parentKey) || parentKey.endsWith('_optimizer') || parentKey.endsWith('_optim')) &&
      !/wrapper|constructor|scheduler/i.test(v)
    )
      addOptimizer(out, e, v, 'name', parents);
  }
  if (out.autoOptimizer && classes !== undefined) out.autoOptimizer.classes = classes;

  /** Entries by parent path and key: siblings (boundaries beside values, gamma beside milestones) in O(1). */
  const siblings = new Map<string, Map<string, RawEntry>>();
  for (const { e, key, parentJoin } of infos) {
    let m = siblings.get(parentJoin);
    if (!m) siblings.set(parentJoin, (m = new Map()));
    m.set(key, e);
  }
  const sibling = (parents: string[], key: string) => siblings.get(parents.join(SEP))?.get(key);
  const lrs: Pending[] = [];
  let moreLrs = 0;
  const lr0 = new Map<string, number>(); // parent path → Ultralytics lr0
  for (const { e, last, key, parents, parentKey, underNorm, inSearch } of infos) {
    const num = numericValue(e.value);
    // Python: keywords of calls that are neither optimizer constructors nor known config holders only count
    // for lr-like keys (TrainingArguments(learning_rate=…), dict(lr=…)).
    const inOtherCall = e.context === 'call-keyword';

    const lk = lrKey(last);
    if (lk && !inSearch && lrs.length >= 2 * CONFIG_BUDGETS.maxPerKind) {
      // Past the budget only counted (kept lrs are deduplicated below, so twice the budget is read).
      moreLrs++;
      continue;
    }
    if (lk && !inSearch) {
      // A param group: a Python dict with 'params', or an item of a list with a 'name' (axolotl lr_groups, named param_groups).
      const named = parents.length && isIndex(parents[parents.length - 1]) ? sibling(parents, 'name') : undefined;
      const groupName = e.groupName ?? (typeof named?.value === 'string' ? named.value : undefined);
      const group = lk.group ?? (groupName && (lk.role === 'main' || lk.role === 'group') ? groupName : undefined);
      const role = lk.role === 'main' && groupName ? 'group' : lk.role;
      const label = role === 'group' && !lk.group && group ? `param group \`${group}\` lr` : lk.label;
      let lr: Pending | null = null;
      if (num && num.value >= 0) {
        lr = { key: keyOf(e), value: num.value, role, label, raw: e.raw, range: e.valueRange, keyRange: e.keyRange };
        const note = noteOf(e, num);
        if (note) lr.note = note;
        if (e.refs) lr.refs = e.refs;
        if (key === 'lr0') lr0.set(parents.join(SEP), num.value);
      } else if (Array.isArray(e.value) && e.value.length && e.value.every((x) => Number.isFinite(x) && x >= 0)) {
        // A list: fairseq `lr: [0.0005]` (per-epoch values): the peak is the lr, the rest its schedule.
        const peak = argmax(e.value);
        const item = e.itemRanges?.[peak];
        lr = {
          key: keyOf(e),
          value: e.value[peak],
          role,
          label,
          raw: item ? String(e.value[peak]) : e.raw,
          range: item ?? e.valueRange,
          keyRange: e.keyRange,
        };
        lr.schedule = { values: scheduleRest(e.value, peak) };
        lr.note = `the peak of the list ${e.raw.replace(/\s+/g, ' ').slice(0, 60)}`;
      }
      if (lr) {
        if (group) lr.group = group;
        if (e.useRange) lr.useRanges = [e.useRange];
        lr.path = e.path;
        if (e.ctorStart !== undefined) lr.ctorStart = e.ctorStart;
        lrs.push(lr);
      }
      continue;
    }
    // TF Model Garden piecewise schedule: learning_rate.stepwise.{boundaries, values}.
    if (key === 'values' && Array.isArray(e.value) && e.value.length && parents.some((p) => lrKey(p)) && !inSearch) {
      const boundaries = sibling(parents, 'boundaries');
      if (boundaries && Array.isArray(boundaries.value)) {
        const peak = argmax(e.value);
        lrs.push({
          key: keyOf(e),
          role: 'main',
          label: 'lr (piecewise schedule: its peak)',
          value: e.value[peak],
          raw: String(e.value[peak]),
          range: e.itemRanges?.[peak] ?? e.valueRange,
          keyRange: e.keyRange,
          schedule: { values: scheduleRest(e.value, peak), boundaries: boundaries.value.slice(0, MAX_SCHEDULE) },
          path: e.path,
          note: `the peak of the piecewise values ${e.raw.replace(/\s+/g, ' ').slice(0, 60)} (boundaries ${boundaries.raw.replace(/\s+/g, ' ').slice(0, 40)})`,
        });
        continue;
      }
    }
    if (key === 'lrf' && num) {
      // Ultralytics: lrf is the final lr as a fraction of lr0 (read below, once lr0 is known).
      continue;
    }
    if (SCALE_KEYS.has(key) && num && num.value > 0) {
      out.scales.push({ key: keyOf(e), value: num.value, source: 'stated', raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (key === 'std' && e.context === 'init-call' && num && num.value > 0) {
      out.scales.push({ key: keyOf(e), value: num.value, source: 'init-call', raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (EPS_KEYS.has(key) && num && !underNorm) {
      const optimizerContext = e.context === 'optimizer-ctor' || key !== 'eps' || parents.length === 0 || parents.some(isOptimizerish);
      if (optimizerContext && (!inOtherCall || key !== 'eps')) {
        out.eps.push({ key: keyOf(e), value: num.value, raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      }
      continue;
    }
    if (BETAS_KEYS.has(key)) {
      const pair = Array.isArray(e.value) ? e.value : numbersInString(e.value);
      if (pair && pair.length === 2) out.betas.push({ key: keyOf(e), value: [pair[0], pair[1]], range: e.valueRange });
      continue;
    }
    if (BETA1_KEYS.has(key) && num) {
      beta1.set(parents.join(SEP), out.betas.length);
      out.betas.push({ key: keyOf(e), value: [num.value, null], range: e.valueRange });
      continue;
    }
    if (BETA2_KEYS.has(key) && num) {
      const i = beta1.get(parents.join(SEP));
      const b1 = i !== undefined ? out.betas[i].value[0] : null;
      if (i !== undefined) {
        out.betas[i] = { key: keyOf(e), value: [b1, num.value], range: e.valueRange };
        beta1.delete(parents.join(SEP));
      } else out.betas.push({ key: keyOf(e), value: [null, num.value], range: e.valueRange });
      continue;
    }
    if (WD_KEYS.has(key) && num) {
      out.weightDecay.push({ key: keyOf(e), value: num.value, raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (WIDTH_KEYS.has(key) && num && Number.isInteger(num.value) && num.value >= 8) {
      out.widths.push({ key: keyOf(e), value: num.value, raw: e.raw, range: e.valueRange, keyRange: e.keyRange });
      continue;
    }
    if (LOADED_WEIGHTS_KEYS.has(key) && !out.loadedWeights) {
      const s = typeof e.value === 'string' ? e.value.trim() : e.value === true ? 'true' : '';
      if (s && !/^(scratch|none|null|false|''|"")$/i.test(s) && !s.includes('${'))
        out.loadedWeights = { key: keyOf(e), raw: e.raw, range: e.valueRange };
      continue;
    }
    if ((key === 'milestones' || key === 'steps' || key === 'lr_steps') && Array.isArray(e.value) && e.value.length) {
      const gamma = sibling(parents, 'gamma');
      const gv = gamma ? numericValue(gamma.value) : null;
      if (gv && gv.value > 0 && gv.value < 1)
        out.schedules.push({ key: keyOf(e), milestones: e.value, gamma: gv.value, range: e.valueRange });
      continue;
    }
    const mode = precisionOf(key, parentKey, e.value);
    if (mode && !(mode === 'fp16-true' && key !== 'precision' && key !== 'param_dtype' && key !== 'mixed_precision_param' && fp16Off))
      out.precision.push({ mode, key: keyOf(e), raw: e.raw, range: e.valueRange });
  }

  // Ultralytics lrf: the final lr = lr0 × lrf, a schedule floor written as a fraction.
  for (const { e, key } of infos) {
    if (key !== 'lrf') continue;
    const f = numericValue(e.value);
    const base = lr0.get(e.path.slice(0, -1).join(SEP));
    if (!f || base === undefined || !(f.value >= 0 && f.value <= 1)) continue;
    lrs.push({
      key: keyOf(e),
      role: 'floor',
      label: 'schedule floor',
      value: base * f.value,
      raw: e.raw,
      range: e.valueRange,
      keyRange: e.keyRange,
      note: `lrf = ${formatNumber(f.value)} is the final lr as a fraction of lr0: ${formatNumber(base)} × ${formatNumber(f.value)} = ${formatNumber(base * f.value)}`,
    });
  }

  // One lr per position: `--lr $LR` and `LR=2e-5`, `AdamW(lr=lr)` and `lr = 1e-3` are one setting. The uses
  // (entries with a use range) are kept; the definition they point at is dropped, its key kept in the note.
  const byStart = new Map<number, Pending[]>();
  for (const l of lrs) {
    const list = byStart.get(l.range.start);
    if (list) list.push(l);
    else byStart.set(l.range.start, [l]);
  }
  const unique: Pending[] = [];
  for (const list of byStart.values()) {
    const uses = list.filter((l) => l.useRanges?.length);
    if (!uses.length || uses.length === list.length) {
      unique.push(...list);
      continue;
    }
    const defs = list.filter((l) => !l.useRanges?.length);
    // A chain of uses (`lr = config["lr"]`, then `AdamW(lr=lr)`): the optimizer's argument is the setting.
    const inCtor = uses.filter((u) => u.ctorStart !== undefined);
    if (inCtor.length) {
      for (const u of uses) if (u.ctorStart === undefined) defs.push(u);
      uses.splice(0, uses.length, ...inCtor);
    }
    for (const u of uses) {
      const other = defs.find((d) => d.key !== u.key);
      if (other && !u.note?.includes(other.key)) u.note = u.note ? `${u.note}; also \`${other.key}\`` : `also \`${other.key}\``;
      unique.push(u);
    }
  }
  unique.sort((a, b) => a.range.start - b.range.start);
  // A main lr another main lr is computed from (`lr = base_lr * batch_size / 256`) is that lr's input. A floor, a
  // warmup start or a group's lr computed from the main lr (`min_lr = lr / 10`, `head_lr = lr * 10`) leaves it in use.
  const byKey = new Map(unique.map((l) => [l.key, l]));
  for (const l of unique)
    if (l.role === 'main')
      for (const ref of l.refs ?? []) {
        const m = byKey.get(ref);
        if (m && m !== l && m.role === 'main') m.feeds = l.key;
      }
  // Each lr's optimizer: its call or section, else a group named by an optimizer ('muon_lr', '--adam-lr').
  const owner = ownerIndex(out.optimizers);
  for (const l of unique) {
    const o = owner({ path: l.path ?? [l.key], ctorStart: l.ctorStart });
    if (o !== undefined) l.optimizer = o;
    else if (l.group) {
      const kind = optimizerKindFromName(l.group.replace(/ /g, '_'));
      if (kind) {
        let i = out.optimizers.findIndex((x) => x.family === kind);
        if (i < 0 && out.optimizers.length < CONFIG_BUDGETS.maxPerKind) {
          i = out.optimizers.length;
          out.optimizers.push({
            name: l.group,
            family: kind,
            key: l.key,
            range: l.keyRange ?? l.range,
            source: 'name',
            scope: [],
            options: {},
          });
        }
        if (i >= 0) l.optimizer = i;
      }
    }
  }
  // The public shape, built field by field (no rest-spread and delete: this runs on every edit's re-scan).
  out.learningRates = unique.map((p) => {
    const l: ConfigLearningRate = {
      key: p.key,
      value: p.value,
      role: p.role,
      label: p.label,
      raw: p.raw,
      range: p.range,
      keyRange: p.keyRange,
    };
    if (p.group !== undefined) l.group = p.group;
    if (p.useRanges) l.useRanges = p.useRanges;
    if (p.note !== undefined) l.note = p.note;
    if (p.schedule) l.schedule = p.schedule;
    if (p.optimizer !== undefined) l.optimizer = p.optimizer;
    if (p.feeds !== undefined) l.feeds = p.feeds;
    return l;
  });

  // Options that change what an optimizer's lr means, stated with it.
  for (const { e, key } of infos) {
    if (!OPTION_KEYS.has(key)) continue;
    const b = boolOf(e.value);
    const num = numericValue(e.value);
    const at = owner(e) ?? (out.optimizers.length === 1 ? 0 : undefined);
    if (at === undefined) continue;
    const opts = out.optimizers[at].options;
    if (key === 'amsgrad' && b !== null) opts.amsgrad = b;
    else if (key === 'relative_step' && b !== null) opts.relativeStep = b;
    else if (key === 'scale_parameter' && b !== null) opts.scaleParameter = b;
    else if (key === 'warmup_init' && b !== null) opts.warmupInit = b;
    else if ((key === 'trust_coefficient' || key === 'trust_coef' || key === 'eeta') && num && num.value > 0)
      opts.trustCoefficient = num.value;
    // solo-learn's and mmpretrain's LARS call the trust coefficient eta (a word other optimizers use otherwise).
    else if (key === 'eta' && out.optimizers[at].family === 'lars' && num && num.value > 0) opts.trustCoefficient = num.value;
    else if (key === 'optim_args' && typeof e.value === 'string') {
      // HF `optim_args: "scale_parameter=True,relative_step=False"`.
      for (const m of e.value.matchAll(/(\w+)\s*=\s*(\w+)/g)) {
        const v = /^true$/i.test(m[2]) ? true : /^false$/i.test(m[2]) ? false : null;
        if (v === null) continue;
        if (m[1] === 'relative_step') opts.relativeStep = v;
        if (m[1] === 'scale_parameter') opts.scaleParameter = v;
        if (m[1] === 'warmup_init') opts.warmupInit = v;
      }
    }
  }

  for (const u of unresolvedIn) {
    const lk = lrKey(u.path[u.path.length - 1]);
    if (!lk) continue;
    out.unresolved.push({
      key: u.path.join('.'),
      role: lk.role,
      label: lk.label,
      raw: u.raw,
      dependsOn: u.dependsOn,
      range: u.valueRange,
      keyRange: u.keyRange,
      ...(u.useRange ? { useRanges: [u.useRange] } : {}),
    });
  }

  capKinds(out, moreLrs);
  return out;
}

/** Keep at most maxPerKind of each list, with an issue saying how many more there were. */
function capKinds(out: Classified, moreLrs: number): void {
  const max = CONFIG_BUDGETS.maxPerKind;
  if (moreLrs && out.learningRates.length <= max) {
    const at = out.learningRates[out.learningRates.length - 1].range;
    out.issues.push({
      severity: 'warning',
      line: at.line,
      column: at.column,
      message: `… and ${moreLrs} more learning rates (the first ${out.learningRates.length} are listed)`,
    });
  }
  const lists: [string, { range: SourceRange }[], (k: never[]) => void][] = [
    ['learning rates', out.learningRates, (k) => (out.learningRates = k)],
    ['scales', out.scales, (k) => (out.scales = k)],
    ['eps values', out.eps, (k) => (out.eps = k)],
    ['betas', out.betas, (k) => (out.betas = k)],
    ['weight decays', out.weightDecay, (k) => (out.weightDecay = k)],
    ['precision settings', out.precision, (k) => (out.precision = k)],
    ['schedules', out.schedules, (k) => (out.schedules = k)],
    ['model widths', out.widths, (k) => (out.widths = k)],
  ];
  for (const [what, list, set] of lists) {
    if (list.length <= max) continue;
    const at = list[max].range;
    out.issues.push({
      severity: 'warning',
      line: at.line,
      column: at.column,
      message: `… and ${list.length - max + (what === 'learning rates' ? moreLrs : 0)} more ${what} (the first ${max} are listed)`,
    });
    set(list.slice(0, max) as never[]);
  }
}

/** Words of a key, for the hover's wording (re-exported for tests). */
export { keyWords };

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
