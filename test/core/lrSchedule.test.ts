// lrPoints: the lr per step from the logged globals and the figures' per-layer lr. Ascending inputs take a
// merge; any order gives what one map of every step gives (figures first, then the globals, each in order:
// the last value stated at a step wins, a global over the figures), steps ascending.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lrPoints, type LrPoints } from '../../src/core/lrSchedule';
import type { GlobalObservation } from '../../src/core/run/types';
import { fuzzCases, fuzzSeed, int, rng } from '../support/fuzz';

function reference(globals: GlobalObservation[], f: LrPoints): LrPoints {
  const byStep = new Map<number, number>();
  f.steps.forEach((s, i) => byStep.set(s, f.values[i]!));
  for (const g of globals) if (g.values.lr !== undefined && Number.isFinite(g.values.lr)) byStep.set(g.step, g.values.lr);
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: steps.map((s) => byStep.get(s)!) };
}

test('lrPoints gives the map of every step, on ascending and unordered inputs', () => {
  const r = rng(fuzzSeed(0x17a5));
  let merged = 0;
  for (let c = 0; c < fuzzCases(400); c++) {
    const sorted = r() < 0.7;
    const stepsOf = (n: number): number[] => {
      const s = Array.from({ length: n }, () => int(r, 40));
      return sorted ? s.sort((a, b) => a - b) : s;
    };
    const gs = stepsOf(int(r, 30));
    const globals: GlobalObservation[] = gs.map((step) => {
      const roll = r();
      const values: Record<string, number> = { loss: r() };
      if (roll < 0.7) values.lr = r();
      else if (roll < 0.8) values.lr = Number.NaN;
      return { step, values };
    });
    const fs = stepsOf(int(r, 30));
    const f = { steps: fs, values: fs.map(() => r()) };
    if (sorted) merged++;
    assert.deepEqual(lrPoints(globals, f), reference(globals, f), `case ${c}`);
  }
  assert.ok(merged > 100);
});
