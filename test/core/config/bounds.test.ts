// The config scanner's budgets on hostile inputs: a bound reached is an issue at its line and column (never a
// crash or "Maximum call stack size exceeded"), the rest of the file is still read, and what comes out is
// bounded by the budgets, not by the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG_BUDGETS, lintConfig, scanConfigState, scanConfigText } from '../../../src/core/config';
import { boundNesting, boundPython, boundYamlNesting } from '../../../src/core/config/bounds';
import { LineIndex } from '../../../src/core/config/positions';

const B = CONFIG_BUDGETS;

test('a 7.8 MB Python expression is one over-budget statement: an error at its line and column, the lines around it still read', () => {
  const huge = `lr = ${'1e-4+'.repeat(1_560_000)}1\n`;
  const text = `learning_rate = 3e-4\n${huge}min_lr = 3e-5\n`;
  assert.ok(text.length > 7.8e6);
  const s = scanConfigText(text, 'big.py');
  assert.deepEqual(
    s.issues.map((i) => [i.severity, i.line, i.column]),
    [['error', 2, 1]],
  );
  assert.match(
    s.issues[0].message,
    /^Python: statement of 7800006 bytes exceeds the 65536-byte budget for one config expression: not read$/,
  );
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.value, l.range.line]),
    [
      ['learning_rate', 3e-4, 1],
      ['min_lr', 3e-5, 3],
    ],
  );
  // The parser never sees it: the bounded text has the same length and lines, the statement blanked.
  const b = boundPython(text, new LineIndex(text));
  assert.equal(b.text.length, text.length);
  assert.equal(b.text.split('\n').length, text.split('\n').length);
  assert.equal(b.text.split('\n')[1].trim(), '');
  // Just under the budget it is read; a constant expression over the fold budget is not folded (not an lr).
  const under = `lr = 5e-4\nnames = [${'"class", '.repeat(Math.floor((B.maxExpressionBytes - 20) / 9))}]\n`;
  assert.ok(under.length > B.maxExpressionBytes * 0.9);
  const u = scanConfigText(under, 'u.py');
  assert.deepEqual(u.issues, []);
  assert.deepEqual(
    u.learningRates.map((l) => l.value),
    [5e-4],
  );
  const unfolded = scanConfigText(`lr = 5e-4${' * 1'.repeat(B.maxFoldNodes)}\n`, 'f.py');
  assert.deepEqual(unfolded.learningRates, [], `more than ${B.maxFoldNodes} nodes are not folded`);
  assert.deepEqual(
    scanConfigText(`lr = 5e-4${' * 1'.repeat(20)}\n`, 'f.py').learningRates.map((l) => l.value),
    [5e-4],
  );
});

test('500,000 --lr= arguments: learning rates and findings capped with "… and N more", words and entries bounded', () => {
  const text = `python train.py ${'--lr=1e-3 '.repeat(500_000)}\n`;
  const state = scanConfigState(text, 'many.sh');
  const s = state.scan;
  assert.ok(state.entries.length <= B.maxEntries);
  assert.equal(s.learningRates.length, B.maxPerKind);
  const msgs = s.issues.map((i) => i.message);
  assert.ok(msgs.includes(`more than ${B.maxShellWords} words: the rest of the script is not read`), msgs.join('\n'));
  assert.ok(msgs.includes(`more than ${B.maxEntries} values: the rest of the file is not read`), msgs.join('\n'));
  assert.ok(
    msgs.some((m) => /^… and \d+ more learning rates \(the first 1000 are listed\)$/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(lintConfig(s).length <= 2 * B.maxPerKind);
});

test('deep nesting in JSON, YAML (flow and block), TOML and Python: an error at the first level past the budget; shallower values still read', () => {
  const depth = 5000;
  const cases: [string, string, number, number, RegExp][] = [
    [
      'd.json',
      `{"lr": 1e-3, "x": ${'['.repeat(depth)}${']'.repeat(depth)}}`,
      1,
      19 + B.maxNesting - 1,
      /^JSON: value nested deeper than 128 levels: not read$/,
    ],
    [
      'o.json',
      `{"lr": 1e-3, "x": ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      1,
      19 + 5 * (B.maxNesting - 1),
      /^JSON: value nested deeper than 128 levels/,
    ],
    // `x:` is one block level: the 128th bracket is one too many.
    [
      'f.yaml',
      `lr: 1.0e-3\nx: ${'['.repeat(depth)}${']'.repeat(depth)}\n`,
      2,
      4 + B.maxNesting - 1,
      /^YAML: flow collection nested deeper than 128 levels/,
    ],
    [
      't.toml',
      `lr = 1e-3\nx = ${'['.repeat(depth)}${']'.repeat(depth)}\n`,
      2,
      5 + B.maxNesting,
      /^TOML: value nested deeper than 128 levels/,
    ],
    [
      'p.py',
      `lr = 1e-3\nx = ${'('.repeat(depth)}1${')'.repeat(depth)}\n`,
      2,
      1,
      /^Python: brackets nested deeper than 128 levels: statement not read$/,
    ],
  ];
  for (const [path, text, line, column, message] of cases) {
    const s = scanConfigText(text, path);
    assert.deepEqual(
      s.issues.slice(0, 1).map((i) => [i.severity, i.line, i.column]),
      [['error', line, column]],
      `${path}: ${JSON.stringify(s.issues)}`,
    );
    assert.match(s.issues[0].message, message, path);
    assert.ok(!s.issues.some((i) => /call stack/i.test(i.message)), path);
    assert.deepEqual(
      s.learningRates.map((l) => l.value),
      [1e-3],
      `${path}: the shallow lr is kept`,
    );
  }
  // YAML block nesting (indentation) past the budget: the deeper lines are cut, the parent still read.
  const block = ['lr: 1.0e-3', ...Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}k${i}:`)].join('\n') + ' 1\n';
  const y = scanConfigText(block, 'b.yaml');
  assert.deepEqual(
    y.issues.map((i) => [i.line, i.column, i.message]),
    [[B.maxNesting + 2, B.maxNesting + 1, 'YAML: block nested deeper than 128 levels: not read']], // line i + 2 is level i + 1
  );
  assert.deepEqual(
    y.learningRates.map((l) => l.value),
    [1e-3],
  );
  // Exactly at the budget everything is read.
  const atBudget = `{"a": ${'['.repeat(B.maxNesting - 1)}1${']'.repeat(B.maxNesting - 1)}, "lr": 1e-3}`;
  assert.deepEqual(scanConfigText(atBudget, 'ok.json').issues, []);
});

test('the pre-passes keep offsets and lines, and are idempotent: what the parser sees is within the budget', () => {
  const texts: [string, 'json' | 'toml' | 'yaml' | 'python'][] = [
    [`{"s": "[[[[", "a": ${'['.repeat(300)}${']'.repeat(300)}, "b": "]]"}`, 'json'],
    [`s = "[[[" # [[[\na = ${'['.repeat(300)}${']'.repeat(300)}\n`, 'toml'],
    [`s: '[[['\nt: "{{{"\nx: ${'{a: '.repeat(300)}1${'}'.repeat(300)}\n`, 'yaml'],
    [`s = "((("  # (((\nx = ${'['.repeat(300)}${']'.repeat(300)}\n`, 'python'],
  ];
  for (const [text, lang] of texts) {
    const idx = new LineIndex(text);
    const once = lang === 'python' ? boundPython(text, idx) : lang === 'yaml' ? boundYamlNesting(text, idx) : boundNesting(text, lang, idx);
    assert.equal(once.text.length, text.length, lang);
    assert.equal(once.text.split('\n').length, text.split('\n').length, lang);
    assert.equal(once.issues.length, 1, lang);
    const again =
      lang === 'python'
        ? boundPython(once.text, idx)
        : lang === 'yaml'
          ? boundYamlNesting(once.text, idx)
          : boundNesting(once.text, lang, idx);
    assert.deepEqual(again.issues, [], `${lang}: nothing over budget is left`);
    // Brackets inside strings and comments do not count (and are kept).
    const quoted = { json: '"[[[["', toml: '"[[["', yaml: "'[[['", python: '"((("' }[lang];
    assert.ok(once.text.includes(quoted), lang);
  }
});
