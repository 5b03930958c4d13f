// eps-dominated on real runs: elements whose second moment is exactly 0 (embed.weight's 8 of 40 rows that never
// received a gradient in adam_base) are counted apart, with their own advice; a real ε problem (adam_loss1e-10,
// gradients scaled by 1e-10) still gets the warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePaths } from '../../../src/core/pipeline';
import { fixturePath, loadExpected } from '../../support/fixtures';

const thresholds = { epsDominatedFraction: 0.1 };

test('adam_base: the never-updated embedding rows are a zero-second-moment finding (update 0), not eps-dominated', async () => {
  const a = await analyzePaths([fixturePath('adam_base')], { thresholds });
  const exp = loadExpected('adam_base');
  let checked = 0;
  for (const l of a.result.layers) {
    // torch's √v̂ < ε count (expected.json) holds both shares; the engine splits them.
    const want = (exp.steps[String(a.result.step)] as unknown as Record<string, { eps_dominated_frac: number }>)[l.name];
    if (!want) continue;
    assert.ok(Math.abs(l.epsDominatedFraction! + l.zeroSecondMomentFraction! - want.eps_dominated_frac) < 1e-12, l.name);
    checked++;
  }
  assert.equal(checked, 14);
  const embed = a.result.layers.find((l) => l.name === 'embed.weight')!;
  assert.equal(embed.zeroSecondMomentFraction, 8 / 40);
  assert.equal(embed.epsDominatedFraction, 0);
  const found = a.result.findings.filter((f) => f.rule === 'eps-dominated');
  // The logged eps_dominated_frac of the steps between snapshots (0.2: the same rows) loses the zero share too.
  assert.deepEqual(
    found.map((f) => [f.cause, f.severity, f.layers]),
    [['zero-second-moment', 'info', ['embed.weight']]],
  );
  assert.equal(found[0].evidence.zeroSecondMomentFraction, 0.2);
  assert.match(found[0].message, /update is 0, not m̂\/ε/);
});

test('adam_loss1e-10: the ε problem is still a warning, and the zero rows are reported apart', async () => {
  const a = await analyzePaths([fixturePath('adam_loss1e-10')], { thresholds });
  const found = a.result.findings.filter((f) => f.rule === 'eps-dominated');
  const warn = found.find((f) => f.cause === undefined)!;
  assert.equal(warn.severity, 'warning');
  assert.equal(warn.layers!.length, 14);
  assert.match(warn.message, /Lower ε/);
  const zero = found.find((f) => f.cause === 'zero-second-moment')!;
  assert.deepEqual(zero.layers, ['embed.weight']);
  const embed = a.result.layers.find((l) => l.name === 'embed.weight')!;
  assert.equal(embed.epsDominatedFraction, 0.8);
  assert.equal(embed.zeroSecondMomentFraction, 0.2);
});
