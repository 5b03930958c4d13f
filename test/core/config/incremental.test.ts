// The hover path's edit shortcut (rescanAfterEdit) must give exactly the full scan's result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../support/fixtures';
import { diffRegion, lintConfig, rescanAfterEdit, scanConfigState } from '../../../src/core/config';
import { generateYaml } from '../../../bench/configHover';

const VALUES = ['1e-4', '1.0e-4', '2.5e-3', '0.02', '3', '-5e-3', 'true', 'adamw', 'sgd', '16-true', '.inf', '~', 'x y', '0x10', '1_000'];

/** Every one-line value edit of every `key: value` line: when the shortcut answers, it equals a full scan. */
function checkAll(text: string, path: string): { fast: number; full: number } {
  const prev = scanConfigState(text, path, 'yaml');
  const lines = text.split('\n');
  let fast = 0;
  let full = 0;
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = /^(\s*[\w.-]+:\s+)([^#\s][^#]*?)(\s*(#.*)?)$/.exec(line);
    if (m) {
      for (const v of [...VALUES, `${m[2]}0`, m[2].slice(1)]) {
        if (!v) continue;
        const edited = text.slice(0, offset) + m[1] + v + m[3] + text.slice(offset + line.length);
        const got = rescanAfterEdit(prev, edited);
        const want = scanConfigState(edited, path, 'yaml');
        if (got) {
          fast++;
          assert.deepEqual(got.scan, want.scan, `${path}:${i + 1} → ${JSON.stringify(v)}`);
          assert.deepEqual(got.entries, want.entries, `${path}:${i + 1} entries`);
          assert.deepEqual(got.comments, want.comments, `${path}:${i + 1} comments`);
          assert.deepEqual(lintConfig(got.scan), lintConfig(want.scan));
        } else full++;
      }
    }
    offset += line.length + 1;
  }
  return { fast, full };
}

test('rescanAfterEdit equals a full scan for every one-value edit of the YAML fixtures', () => {
  for (const name of ['finetune.yaml', 'lightning_hydra.yaml']) {
    const p = fixturePath('configs', name);
    const r = checkAll(readFileSync(p, 'utf8'), p);
    assert.ok(r.fast > 50, `${name}: the shortcut answered ${r.fast} edits`);
  }
});

test('rescanAfterEdit equals a full scan on a generated 300-line YAML (the bench layout), also with CRLF', () => {
  const text = generateYaml(300);
  const r = checkAll(text, 'bench.yaml');
  assert.ok(r.fast > 500, `shortcut answered ${r.fast}, full scan ${r.full}`);
  const crlf = text.replace(/\n/g, '\r\n');
  const prev = scanConfigState(crlf, 'bench.yaml', 'yaml');
  const edited = crlf.replace('lr: 1.0e-4  # stage 0', 'lr: 3e-4  # stage 0');
  const got = rescanAfterEdit(prev, edited);
  assert.ok(got);
  assert.deepEqual(got.scan, scanConfigState(edited, 'bench.yaml', 'yaml').scan);
});

test('rescanAfterEdit declines what it cannot do without a parse: new lines, key or comment edits, quotes, flow items, Hydra evidence, parse errors', () => {
  const text = 'seed: 1\nopt:\n  lr: 1.0e-4  # peak\n  betas: [0.9, 0.95]\n  w: {a: 1, b: 2}\nname: ${oc.env:X}\ndesc: a\n  b\n';
  const prev = scanConfigState(text, 'a.yaml', 'yaml');
  assert.equal(prev.scan.issues.length, 0);
  const declined = [
    text.replace('seed: 1\n', 'seed: 1\nlr: 3.0e-4\n'), // a new line
    text.replace('  lr: 1.0e-4', '  min_lr: 1.0e-4'), // the key
    text.replace('# peak', '# optimizer-lens: param-scale=0.02'), // the comment
    text.replace('lr: 1.0e-4', "lr: '1.0e-4'"), // quotes
    text.replace('[0.9, 0.95]', '[0.9, 0.99]'), // flow sequence
    text.replace('{a: 1, b: 2}', '{a: 1, b: 3}'), // flow mapping
    text.replace('${oc.env:X}', 'plain'), // Hydra evidence
    text.replace('desc: a', 'desc: c'), // multi-line plain scalar
  ];
  for (const t of declined) assert.equal(rescanAfterEdit(prev, t), null, JSON.stringify(diffRegion(text, t)));
  // The plain value edits it takes.
  const took = rescanAfterEdit(prev, text.replace('lr: 1.0e-4', 'lr: 1e-4'));
  assert.ok(took);
  assert.deepEqual(
    took.scan.yamlFloatStrings.map((f) => [f.key, f.raw]),
    [['opt.lr', '1e-4']],
  );
  assert.equal(took.scan.learningRates[0].value, 1e-4);
  const broken = scanConfigState('a: [1, 2\nlr: 1.0e-4\n', 'b.yaml', 'yaml');
  assert.ok(broken.scan.issues.length > 0);
  assert.equal(rescanAfterEdit(broken, 'a: [1, 2\nlr: 2.0e-4\n'), null, 'a file with parse errors is always scanned in full');
});
