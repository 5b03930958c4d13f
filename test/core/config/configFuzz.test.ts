// Seeded, structure-aware fuzzing of the config scanner's text formats (YAML, JSON, TOML, Python, shell):
// delimiter-only texts, deep nesting (balanced and cut off), huge expressions, and random configs built from the
// keys and value spellings real configs use, then mutated. Every case must give a result (or the scanner's own
// issues), never an exception; and the work is bounded by the budgets, checked without clocks: what the parsers
// are handed is within the nesting and expression budgets (the pre-passes are idempotent on it), every output
// list is within its cap, and the JSON report is linear in the input.
//
// 3,000 cases in the unit suite; `npm run fuzz` runs 25× as many (test/support/fuzz.ts: FUZZ_SCALE, FUZZ_SEED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFIG_BUDGETS,
  configHover,
  lintConfig,
  quickFixesFor,
  scanConfigState,
  type ConfigLanguage,
  type ConfigScan,
} from '../../../src/core/config';
import { boundNesting, boundPython, boundYamlNesting } from '../../../src/core/config/bounds';
import { LineIndex } from '../../../src/core/config/positions';
import { lintFileJson } from '../../../src/cli/lint';
import { fuzzCases, fuzzSeed, int, pick, rng as prng, type Rand } from '../../support/fuzz';

const CASES = fuzzCases(3_000);
const SEED = fuzzSeed(0xc0f1);
const B = CONFIG_BUDGETS;

/** Log-uniform size in [1, max]: mostly small, sometimes large. */
const size = (r: Rand, max: number) => Math.max(1, Math.floor(Math.exp(r() * Math.log(max))));

const FORMATS = ['yaml', 'json', 'toml', 'python', 'shell'] as const;
type Format = (typeof FORMATS)[number];
const EXT: Record<Format, string> = { yaml: 'c.yaml', json: 'c.json', toml: 'c.toml', python: 'c.py', shell: 'c.sh' };
const DELIMITERS: Record<Format, string> = {
  yaml: ':-[]{},?|>&*!\'"#%@` \n\t',
  json: '{}[]:,"\\/* \n',
  toml: '[]{}=,."\'#\\ \n',
  python: '()[]{}:,=.\'"#\\*+-/ \n',
  shell: '$(){}"\'\\;|&<>=-# \n',
};
const KEYS = [
  'lr',
  'learning_rate',
  'base_lr',
  'min_lr',
  'warmup_min_lr',
  'text_encoder_lr',
  'decoupled_lr',
  'lr_scheduler',
  'lr0',
  'lrf',
  'init_std',
  'initializer_range',
  'eps',
  'adam_epsilon',
  'betas',
  'weight_decay',
  'optimizer',
  'optim',
  'type',
  '_target_',
  'name',
  'milestones',
  'gamma',
  'values',
  'boundaries',
  'precision',
  'fp16_opt_level',
  'params',
  'model_name_or_path',
  'hidden_size',
  'step',
  'relative_step',
  'scale_parameter',
];
const NUMBERS = ['3e-4', '1.0e-4', '1e-4', '4.', '0.', '.5', '1_000', '0x10', '-1e-3', '2.0e-05', '1e400', 'nan', 'inf', '0', '16'];
const NAMES = [
  'AdamW',
  'adamw_bnb_8bit',
  'Lion',
  'adafactor',
  'Lamb',
  'SGD',
  'Muon',
  'RMSprop',
  'Shampoo',
  'torch.optim.Adam',
  'O3',
  '16-true',
];

/** Largest case: the default run keeps `npm test` quick; `npm run fuzz` goes to a few hundred KB. */
const LARGE = CASES > 10_000 ? 400_000 : 100_000;

function delimiterOnly(r: Rand, f: Format): string {
  const n = r() < 0.02 ? size(r, LARGE) : size(r, 4096);
  const alphabet = DELIMITERS[f];
  if (r() < 0.3) return pick(r, [...alphabet]).repeat(n); // one delimiter, repeated
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[int(r, alphabet.length)];
  return s;
}

function deepNesting(r: Rand, f: Format): string {
  const depth = size(r, 3000);
  const cut = r() < 0.3; // unbalanced: cut off before the closing brackets
  const close = (s: string) => (cut ? '' : s.repeat(depth));
  switch (f) {
    case 'json':
      return r() < 0.5 ? `{"lr": 1e-3, "x": ${'['.repeat(depth)}1${close(']')}}` : `${'{"lr": 1e-3, "a": '.repeat(depth)}0${close('}')}`;
    case 'yaml':
      if (r() < 0.5) return `lr: 1.0e-3\nx: ${'[{a: '.repeat(depth)}1${close('}]')}\n`;
      return Array.from({ length: Math.min(depth, 3000) }, (_, i) => `${' '.repeat(i)}${r() < 0.2 ? '- ' : ''}k${i}:`).join('\n') + ' 1\n';
    case 'toml':
      return `lr = 1e-3\nx = ${r() < 0.5 ? '['.repeat(depth) : '{a = '.repeat(depth)}1${close(r() < 0.5 ? ']' : '}')}\n`;
    case 'python':
      return `lr = 1e-3\nx = ${pick(r, ['(', '[', 'dict(a=', 'f(', '{"a": ', '-']).repeat(depth)}1${close(pick(r, [')', ']', '}']))}\n`;
    case 'shell':
      return `LR=1e-3\npython t.py --lr ${pick(r, ['$(', '${', '"$(', "'", '\\']).repeat(depth)}$LR${close(pick(r, [')', '}', '"']))}\n`;
  }
}

function hugeExpression(r: Rand, f: Format): string {
  const n = r() < 0.02 ? size(r, LARGE / 8) : size(r, 2_000);
  switch (f) {
    case 'python':
      return pick(r, [
        () => `lr = ${'1e-4+'.repeat(n)}1\n`,
        () => `lr = 5e-4${' * 2'.repeat(n)}\n`,
        () => `x = dict(${'lr=1e-3, '.repeat(n)})\n`,
        () => `x = [${'{"lr": 1e-3}, '.repeat(n)}]\n`,
        () => `${Array.from({ length: Math.min(n, 5000) }, (_, i) => `v${i} = v${i - 1} * 2 if True else 0`).join('\n')}\nlr = v1\n`,
      ])();
    case 'json':
      return `{"lr": [${'1e-3,'.repeat(n)}1], "m": {${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `"k${i}_lr": ${i}e-5`).join(',')}}}`;
    case 'yaml':
      return `lr: [${'1e-4, '.repeat(n)}1]\n${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `k${i}_lr: ${i}e-5`).join('\n')}\n`;
    case 'toml':
      return `lr = [${'1e-4, '.repeat(n)}1]\n[t]\n${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `k${i}_lr = ${i}e-5`).join('\n')}\n`;
    case 'shell':
      return pick(r, [
        () => `python t.py ${'--lr=1e-3 '.repeat(n)}\n`,
        () => `${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `V${i}=$V${i + 1}`).join('\n')}\npython t.py --lr $V0\n`,
        () => `ARGS=(\n${'  --lr 1e-3 # c\n'.repeat(n)})\n`,
      ])();
  }
}

function value(r: Rand, f: Format, depth: number): string {
  const k = r();
  if (depth > 3 || k < 0.45) {
    const num = pick(r, NUMBERS);
    if (f === 'python' && r() < 0.2) return `${num} * ${pick(r, NUMBERS)} / ${pick(r, ['256', 'batch_size', 'x.y'])}`;
    if (f === 'shell' && r() < 0.3) return pick(r, ['$LR', '${LR}', '"${LR:-3e-4}"', '${1:-2e-5}', '$(echo 1)']);
    return num;
  }
  if (k < 0.6) {
    const name = pick(r, NAMES);
    return f === 'json' || f === 'toml' || f === 'python' ? `"${name}"` : name;
  }
  if (k < 0.7) return f === 'python' ? pick(r, ['True', 'None']) : pick(r, ['true', 'false']);
  const items = Array.from({ length: 1 + int(r, 4) }, () => value(r, f, depth + 1));
  return `[${items.join(', ')}]`;
}

/** A random config in the format's syntax, from the keys and value spellings configs use. */
function grammarConfig(r: Rand, f: Format): string {
  const lines: string[] = [];
  const n = 1 + int(r, 40);
  if (r() < 0.3) lines.push(`${f === 'json' ? '//' : '#'} optimizer-lens: param-scale=${pick(r, ['0.02', '1', '0', '-1', 'x'])}`);
  for (let i = 0; i < n; i++) {
    const key = pick(r, KEYS);
    const v = value(r, f, 0);
    switch (f) {
      case 'yaml':
        lines.push(`${'  '.repeat(int(r, 4))}${r() < 0.2 ? '- ' : ''}${key}: ${r() < 0.15 ? '' : v}${r() < 0.1 ? ' # c' : ''}`);
        break;
      case 'json':
        lines.push(`${r() < 0.2 ? '{' : ''}"${key}": ${v}${r() < 0.2 ? '}' : ''},`);
        break;
      case 'toml':
        lines.push(r() < 0.15 ? `[${pick(r, ['optimizer', 'lr_scheduler', 'model', 'training'])}]` : `${key} = ${v}`);
        break;
      case 'python':
        lines.push(
          pick(r, [
            () => `${key} = ${v}`,
            () => `config.${key} = ${v}`,
            () => `opt = torch.optim.${pick(r, ['AdamW', 'SGD', 'Lion', 'Adafactor'])}(model.parameters(), ${key}=${v})`,
            () => `x = dict(${key}=${v}, params=model.head.parameters())`,
            () => `parser.add_argument('--${key}', type=float, default=${v})`,
            () => `_C.TRAIN.${key.toUpperCase()} = ${v}`,
          ])(),
        );
        break;
      case 'shell':
        lines.push(
          pick(r, [
            () => `${key.toUpperCase()}=${v}`,
            () => `export LR=${v}`,
            () => `  --${key.replace(/_/g, pick(r, ['-', '_']))} ${v} \\`,
            () => `python t.py --${key}=${v}`,
          ])(),
        );
        break;
    }
  }
  let text = f === 'json' ? `{\n${lines.join('\n')}\n"end": 0}\n` : `${lines.join('\n')}\n`;
  if (r() < 0.5) {
    // A few delimiter mutations.
    const chars = text.split('');
    for (let m = 1 + int(r, 5); m > 0; m--) {
      const at = int(r, chars.length);
      const c = DELIMITERS[f][int(r, DELIMITERS[f].length)];
      const op = r();
      if (op < 0.4) chars[at] = c;
      else if (op < 0.7) chars.splice(at, 1);
      else chars.splice(at, 0, c);
    }
    text = chars.join('');
  }
  return text;
}

const LANG: Record<Format, ConfigLanguage> = { yaml: 'yaml', json: 'json', toml: 'toml', python: 'python', shell: 'shell' };

function checkRange(text: string, idx: LineIndex, r: { start: number; end: number; line: number; column: number }, what: string) {
  assert.ok(r.start >= 0 && r.end <= text.length && r.start <= r.end, `${what}: range ${r.start}..${r.end} inside ${text.length}`);
  const p = idx.position(r.start);
  assert.deepEqual([r.line, r.column], [p.line, p.column], `${what}: line and column of offset ${r.start}`);
}

/** What the parsers are handed is within the budgets: running the pre-pass again cuts nothing. */
function checkParserInput(text: string, f: Format, idx: LineIndex) {
  if (f === 'shell') return;
  const once = f === 'python' ? boundPython(text, idx) : f === 'yaml' ? boundYamlNesting(text, idx) : boundNesting(text, f, idx);
  assert.equal(once.text.length, text.length, 'the pre-pass keeps offsets');
  const again =
    f === 'python' ? boundPython(once.text, idx) : f === 'yaml' ? boundYamlNesting(once.text, idx) : boundNesting(once.text, f, idx);
  assert.deepEqual(
    again.issues.filter((i) => i.severity === 'error'),
    [],
    'nothing over budget reaches the parser',
  );
}

function checkCase(text: string, f: Format, what: string) {
  const path = EXT[f];
  const idx = new LineIndex(text);
  const state = scanConfigState(text, path, LANG[f]);
  const s: ConfigScan = state.scan;
  assert.ok(state.entries.length <= B.maxEntries, `${what}: entries within the budget`);
  for (const [name, list] of [
    ['learningRates', s.learningRates],
    ['scales', s.scales],
    ['eps', s.eps],
    ['optimizers', s.optimizers],
    ['unresolved', s.unresolved],
  ] as const)
    assert.ok(list.length <= B.maxPerKind, `${what}: ${name} ${list.length} within the budget`);
  assert.ok(s.issues.length <= B.maxIssues + 10, `${what}: issues ${s.issues.length} within the budget`);
  for (const x of [...s.learningRates, ...s.scales, ...s.eps, ...s.unresolved]) checkRange(text, idx, x.range, `${what} ${x.key}`);
  for (const i of s.issues) assert.ok(i.line >= 1 && i.line <= idx.lineCount && i.column >= 1, `${what}: issue at ${i.line}:${i.column}`);
  const findings = lintConfig(s);
  for (const x of findings) checkRange(text, idx, x.range, `${what} ${x.rule}`);
  for (const x of findings.slice(0, 5)) quickFixesFor(text, s, x);
  for (const l of s.learningRates.slice(0, 3)) assert.ok(configHover(s, l.range.start), `${what}: hover on ${l.key}`);
  const json = JSON.stringify(lintFileJson(path, s, findings));
  assert.ok(json.length <= 64 * text.length + 256 * 1024, `${what}: report ${json.length} bytes for ${text.length} input`);
  checkParserInput(text, f, idx);
}

test(`config scanner fuzz: ${CASES} seeded cases (delimiters, deep nesting, huge expressions, mutated configs) give a result within the budgets`, () => {
  const r = prng(SEED);
  const kinds = [delimiterOnly, deepNesting, hugeExpression, grammarConfig, grammarConfig] as const;
  const failures: string[] = [];
  let bytes = 0;
  for (let k = 0; k < CASES; k++) {
    const f = FORMATS[k % FORMATS.length];
    const gen = kinds[int(r, kinds.length)];
    const caseSeed = Math.floor(r() * 2 ** 32);
    const text = gen(prng(caseSeed), f);
    bytes += text.length;
    try {
      checkCase(text, f, `${gen.name}/${f}#${k} (seed ${caseSeed})`);
    } catch (e) {
      failures.push(`${gen.name}/${f}#${k} seed ${caseSeed}: ${(e as Error).message.split('\n')[0]}`);
      if (failures.length >= 10) break;
    }
  }
  assert.deepEqual(failures, [], `${failures.length} failures over ${bytes} bytes`);
});
