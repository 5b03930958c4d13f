// The one number formatter (src/shared/format.ts) of the CLI, the config hover and Problems, and the webview.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatNumber, formatPercent, formatStep } from '../../src/shared/format';
import { ROOT } from '../support/fixtures';

test('3 significant digits, zeros trimmed, plain in [1e-3, 1e4), exponent outside', () => {
  const cases: [number | null, string][] = [
    [0.005, '0.005'],
    [0.0003, '3e-4'],
    [1.85e-10, '1.85e-10'],
    [0.0485, '0.0485'],
    [1.04, '1.04'],
    [12345, '1.23e4'],
    [9999.9, '1e4'],
    [0.009999999999999998, '0.01'],
    [0.000999999, '0.001'],
    [-2.5e-7, '-2.5e-7'],
    [0, '0'],
    [null, '—'],
    [Infinity, '∞'],
    [-Infinity, '−∞'],
    [NaN, 'NaN'],
  ];
  for (const [x, want] of cases) assert.equal(formatNumber(x), want, String(x));
  assert.equal(formatPercent(0.0625), '6.25%');
  assert.equal(formatPercent(0.2), '20%');
  assert.equal(formatPercent(0.015), '1.5%');
  assert.equal(formatPercent(null), '—');
  assert.deepEqual([19500, 120, 1234567, 0, null].map(formatStep), ['19,500', '120', '1,234,567', '0', '—']);
});

test('no surface formats numbers on its own (toPrecision/toExponential/toFixed only in src/shared/format.ts)', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  const offenders = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'webview'))].filter(
    (f) => !f.endsWith(join('src', 'shared', 'format.ts')) && /\.to(Precision|Exponential|Fixed)\(/.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(offenders, []);
});
