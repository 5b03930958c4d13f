// Scan one training-config text: learning rates, scales, optimizer facts, with source ranges.
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ReaderError } from '../errors';
import { annotationsIn, classifyEntries } from './classify';
import { notAConfigByName, configLanguageOf } from './languages';
import { LineIndex } from './positions';
import { scanJson } from './scanJson';
import { scanShell } from './scanShell';

// The heavier front ends (the yaml package, @lezer/python, toml-eslint-parser) are loaded on the first file in
// their language, so a YAML user does not pay for the Python parser (esbuild bundles these as lazily run modules).
/* eslint-disable @typescript-eslint/no-require-imports */
type YamlFront = typeof import('./scanYaml');
type PythonFront = typeof import('./scanPython');
type TomlFront = typeof import('./scanToml');
let yamlFront: YamlFront | undefined;
let pythonFront: PythonFront | undefined;
let tomlFront: TomlFront | undefined;
/** The YAML front end module (loaded on first use; also used by the edit path in incremental.ts). */
export const loadYamlFront = (): YamlFront => (yamlFront ??= require('./scanYaml') as YamlFront);
const scanYaml: YamlFront['scanYaml'] = (text, idx) => loadYamlFront().scanYaml(text, idx);
const scanPython: PythonFront['scanPython'] = (text, idx) => (pythonFront ??= require('./scanPython') as PythonFront).scanPython(text, idx);
const scanToml: TomlFront['scanToml'] = (text, idx) => (tomlFront ??= require('./scanToml') as TomlFront).scanToml(text, idx);
/* eslint-enable @typescript-eslint/no-require-imports */
import {
  emptyConfigScan,
  type ConfigComment,
  type ConfigLanguage,
  type ConfigScale,
  type ConfigScan,
  type RawEntry,
  type UnresolvedEntry,
} from './types';
import { capIssues, CONFIG_BUDGETS } from './bounds';

/** Biggest config file read (configs are small; this bounds memory on a mistaken path). */
export const MAX_CONFIG_BYTES = CONFIG_BUDGETS.maxBytes;

export { configLanguageOf, configLanguageOfId, notAConfigByName } from './languages';

/** A top-level key that marks a training log (HF Trainer's per-step records), not a config. */
export const LOG_HISTORY_KEY = 'log_history';
const LOG_HISTORY_REASON = "top-level 'log_history' (per-step records): a training log, not a config";

export function scanConfigText(text: string, path: string, language?: ConfigLanguage): ConfigScan {
  return scanConfigState(text, path, language).scan;
}

/** A scan with the front end's raw entries and comments, kept so an edit can be applied without a re-parse. */
export interface ScanState {
  text: string;
  scan: ConfigScan;
  entries: RawEntry[];
  comments: ConfigComment[];
}

export function scanConfigState(text: string, path: string, language?: ConfigLanguage): ScanState {
  const lang = language ?? configLanguageOf(path) ?? 'yaml';
  const idx = new LineIndex(text);
  const scan = emptyConfigScan(path, lang, idx.lineCount);
  const byName = notAConfigByName(path);
  if (byName) {
    scan.skipped = byName;
    return { text, scan, entries: [], comments: [] };
  }
  if (text.length > MAX_CONFIG_BYTES) {
    scan.issues.push({
      severity: 'error',
      line: 1,
      column: 1,
      message: `${text.length} characters; configs above ${MAX_CONFIG_BYTES} bytes are not scanned`,
    });
    return { text, scan, entries: [], comments: [] };
  }
  let entries: RawEntry[] = [];
  let comments: ConfigComment[] = [];
  let halfCasts: { start: number; end: number; what: string }[] = [];
  let optimizerCalls: { start: number }[] = [];
  let unresolved: UnresolvedEntry[] = [];
  switch (lang) {
    case 'yaml': {
      const y = scanYaml(text, idx);
      if (y.entries.some((e) => e.path.length > 1 && e.path[0] === LOG_HISTORY_KEY)) {
        scan.skipped = LOG_HISTORY_REASON;
        return { text, scan, entries: [], comments: [] };
      }
      entries = y.entries;
      comments = y.comments;
      scan.yamlFloatStrings = y.floatStrings.slice(0, CONFIG_BUDGETS.maxPerKind);
      if (y.floatStrings.length > CONFIG_BUDGETS.maxPerKind) {
        const at = y.floatStrings[CONFIG_BUDGETS.maxPerKind].range;
        scan.issues.push({
          severity: 'warning',
          line: at.line,
          column: at.column,
          message: `… and ${y.floatStrings.length - CONFIG_BUDGETS.maxPerKind} more YAML 1.1 float strings (the first ${CONFIG_BUDGETS.maxPerKind} are listed)`,
        });
      }
      scan.yamlLoader = y.loader;
      scan.issues.push(...y.issues);
      break;
    }
    case 'json':
    case 'jsonc': {
      const j = scanJson(text, idx);
      if (j.topKeys.includes(LOG_HISTORY_KEY)) {
        scan.skipped = LOG_HISTORY_REASON;
        return { text, scan, entries: [], comments: [] };
      }
      entries = j.entries;
      comments = j.comments;
      scan.issues.push(...j.issues);
      break;
    }
    case 'toml': {
      const t = scanToml(text, idx);
      entries = t.entries;
      comments = t.comments;
      scan.issues.push(...t.issues);
      break;
    }
    case 'python': {
      const p = scanPython(text, idx);
      entries = p.entries;
      comments = p.comments;
      halfCasts = p.halfCasts;
      optimizerCalls = p.optimizerCalls;
      unresolved = p.unresolved;
      scan.issues.push(...p.issues);
      break;
    }
    case 'shell': {
      const s = scanShell(text, idx);
      entries = s.entries;
      comments = s.comments;
      unresolved = s.unresolved;
      scan.issues.push(...s.issues);
      break;
    }
  }
  finishScan(scan, text, idx, entries, comments, halfCasts, optimizerCalls, unresolved);
  return { text, scan, entries, comments };
}

/** Classification and annotations over the front end's entries and comments (shared with the edit path). */
export function finishScan(
  scan: ConfigScan,
  text: string,
  idx: LineIndex,
  entries: RawEntry[],
  comments: ConfigComment[],
  halfCasts: { start: number; end: number; what: string }[] = [],
  optimizerCalls: { start: number }[] = [],
  unresolved: UnresolvedEntry[] = [],
): void {
  const c = classifyEntries(entries, unresolved);
  if (c.dataFile) {
    scan.skipped = c.dataFile;
    return;
  }
  scan.learningRates = c.learningRates;
  scan.unresolved = c.unresolved;
  scan.schedules = c.schedules;
  scan.widths = c.widths;
  scan.autoOptimizer = c.autoOptimizer;
  scan.loadedWeights = c.loadedWeights;
  scan.issues = capIssues([...scan.issues, ...c.issues], CONFIG_BUDGETS.maxIssues + 8);
  scan.scales = c.scales;
  scan.optimizers = c.optimizers;
  scan.eps = c.eps;
  scan.betas = c.betas;
  scan.weightDecay = c.weightDecay;
  scan.precision = c.precision;
  // Python: a model cast to float16 before the optimizer is built → the optimizer runs in true half precision.
  const firstOpt = optimizerCalls.reduce((m, o) => Math.min(m, o.start), Infinity);
  for (const h of halfCasts) {
    if (h.start < firstOpt)
      scan.precision.push({ mode: 'fp16-true', key: h.what, raw: text.slice(h.start, h.end), range: idx.range(h.start, h.end) });
  }
  scan.annotations = annotationsIn(comments, (a, b) => idx.range(a, b)).slice(0, CONFIG_BUDGETS.maxPerKind);
  for (const a of scan.annotations)
    scan.scales.push({ key: 'optimizer-lens: param-scale', value: a.value, source: 'annotation', raw: a.raw, range: a.range });
  const byLine = (x: { range: { start: number } }, y: { range: { start: number } }) => x.range.start - y.range.start;
  scan.learningRates.sort(byLine);
  scan.scales.sort(byLine);
}

function readSmallText(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new ReaderError(path, `cannot read: ${(err as Error).message}`);
  }
  if (size > MAX_CONFIG_BYTES)
    throw new ReaderError(path, `file is ${size} bytes; configs above ${MAX_CONFIG_BYTES} bytes are not scanned`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ReaderError(path, `cannot read: ${(err as Error).message}`);
  }
}

/** The sibling file a strict-JSON config can use instead of an annotation comment: `{"paramScale": 0.02}`. */
export const SIBLING_SCALE_FILE = 'optimizer-lens.json';

/**
 * Scales stated next to a config: a Hugging Face model `config.json` (initializer_range) in the same folder as
 * a training-args file, and an `optimizer-lens.json` ({"paramScale": x}). Unreadable siblings are ignored.
 */
export function siblingScales(path: string, readText: (p: string) => string | null = defaultRead): ConfigScale[] {
  const dir = dirname(path);
  const out: ConfigScale[] = [];
  if (basename(path) !== 'config.json') {
    const p = join(dir, 'config.json');
    const text = readText(p);
    if (text !== null) {
      const s = scanConfigText(text, p, 'json');
      for (const sc of s.scales) if (sc.source === 'stated') out.push({ ...sc, source: 'sibling', path: p });
    }
  }
  if (basename(path) !== SIBLING_SCALE_FILE) {
    const p = join(dir, SIBLING_SCALE_FILE);
    const text = readText(p);
    if (text !== null) {
      const idx = new LineIndex(text);
      const j = scanJson(text, idx);
      for (const e of j.entries) {
        if (e.path.length === 1 && e.path[0] === 'paramScale' && typeof e.value === 'number' && e.value > 0) {
          out.push({
            key: 'paramScale',
            value: e.value,
            source: 'sibling',
            raw: e.raw,
            range: e.valueRange,
            keyRange: e.keyRange,
            path: p,
          });
        }
      }
    }
  }
  return out;
}

function defaultRead(p: string): string | null {
  try {
    if (statSync(p).size > MAX_CONFIG_BYTES) return null;
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

/** Scan a config file and the scales its siblings state. Throws ReaderError when the file cannot be read. */
export function scanConfigFile(path: string, language?: ConfigLanguage): ConfigScan {
  const text = notAConfigByName(path) ? '' : readSmallText(path); // a log is not read (it can be big)
  const scan = scanConfigText(text, path, language);
  if (!scan.skipped) scan.scales.push(...siblingScales(path));
  return scan;
}
