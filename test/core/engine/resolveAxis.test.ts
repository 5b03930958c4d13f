// LayerFigures.resolveAxis (a logged layer's figures over every step at once) against LayerFigures.at (step by
// step, the engine's reference resolution): the same value, bit for bit, for every figure at every step, on
// random logged tables (the working columns reused from another layer) — repeated and unsorted steps, a figure stated again at a later row of its step, +inf
// ratios (stated as undefined), norms with and without an element count, logged and hyper-parameter lrs; and
// regular logs, where a complete column is shared with the table (never written into).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FigureGrid } from '../../../src/core/engine/figureGrid';
import { AxisScratch, LayerFigures } from '../../../src/core/engine/layerFigures';
import { applyLoggedScalars } from '../../../src/core/engine/logPhase';
import { FIGURES } from '../../../src/core/run/scalars';
import { emptyRunData, type FigureName } from '../../../src/core/run/types';
import { fuzzCases, fuzzSeed, int, rng } from '../../support/fuzz';

const LOGGED: FigureName[] = [
  'paramRms',
  'paramNorm',
  'gradNorm',
  'updateRms',
  'updateNorm',
  'relStep',
  'adamUpdateRms',
  'relStepPredicted',
  'epsDominatedFraction',
  'lr',
  'zeroSecondMomentFraction',
];

test('resolveAxis gives what at gives at every step, for every figure', () => {
  const r = rng(fuzzSeed(0x5e41e5));
  let sharedSeen = 0;
  for (let c = 0; c < fuzzCases(300); c++) {
    const data = emptyRunData();
    const layer = 'l';
    const figures = LOGGED.filter(() => r() < 0.6);
    const rows = 1 + int(r, 60);
    // A regular log (one row per step, ascending; a figure at every row or at some): where resolveAxis shares
    // the table's own columns.
    const regular = r() < 0.4;
    const everyRow = new Set(figures.filter(() => regular && r() < 0.7));
    let step = int(r, 5);
    for (let i = 0; i < rows; i++) {
      const roll = r();
      step = regular ? step + 1 + int(r, 3) : roll < 0.15 ? int(r, step + 1) : roll < 0.35 ? step : step + 1 + int(r, 3); // back, same, forward
      for (const f of figures) {
        if (!everyRow.has(f) && r() < 0.3) continue;
        const ratio = f === 'relStep' || f === 'relStepPredicted';
        const value = ratio && r() < 0.15 ? Infinity : r() < 0.1 ? 0 : r() < 0.5 ? Math.fround(r()) : r() * 10 ** (int(r, 8) - 6);
        data.scalars.setLayer(step, layer, f, value);
      }
      if (!regular && r() < 0.2) data.scalars.layer(layer).addRow(step); // a row of the step stating nothing
    }
    if (r() < 0.5) data.scalars.layer(layer).numel = 1 + int(r, 1000);
    // Another layer resolved first with the same scratch: nothing of it may show in this layer's figures.
    for (let i = 0; i < 20; i++) for (const f of LOGGED) data.scalars.setLayer(int(r, step + 3), 'other', f, r());
    const grid = new FigureGrid(data);
    applyLoggedScalars(grid);
    const hyper = { lr: r() < 0.5 ? null : Math.fround(r() * 1e-3), decayFree: r() < 0.8 };
    const lf = new LayerFigures(grid, layer, hyper);
    const logged = lf.loggedSteps();
    // The axis: the logged steps plus steps the layer has no row at.
    const extra = regular && r() < 0.6 ? 0 : int(r, 5);
    const axis = Float64Array.from(new Set([...logged, ...Array.from({ length: extra }, () => int(r, step + 3))])).sort();
    const scratch = new AxisScratch(axis.length);
    new LayerFigures(grid, 'other', hyper).resolveAxis(axis, scratch);
    const table = data.scalars.layer(layer);
    const before = Array.from({ length: table.columnCount }, (_, col) => table.column(col)?.slice());
    const { present, v, shared } = lf.resolveAxis(axis, scratch);
    // A shared column is the table's own, and resolving (deriving figures included) wrote nothing into the table.
    for (let col = 0; col < FIGURES.length; col++) {
      if (shared[col] === 1) assert.equal(v[col]!.buffer, table.column(col)!.buffer, `case ${c}: ${FIGURES[col]} shared`);
    }
    for (let col = 0; col < table.columnCount; col++) assert.deepEqual(table.column(col)?.slice(), before[col], `case ${c}: column ${col}`);
    if (regular && axis.length === logged.length && everyRow.has('paramRms')) {
      assert.equal(shared[FIGURES.indexOf('paramRms')], 1, `case ${c}: a complete column on the table's own steps is shared`);
    }
    sharedSeen += shared.reduce((a, b) => a + b, 0);
    lf.restart();
    for (let i = 0; i < axis.length; i++) {
      const has = lf.at(axis[i]!);
      assert.equal(present[i], has ? 1 : 0, `case ${c}: row at step ${axis[i]}`);
      for (let col = 0; col < FIGURES.length; col++) {
        const want = has ? lf.row.v[col]! : Number.NaN;
        const got = v[col] ? v[col]![i]! : Number.NaN;
        assert.ok(Object.is(got, want), `case ${c}, step ${axis[i]}, ${FIGURES[col]}: ${got} vs ${want}`);
      }
    }
  }
  assert.ok(sharedSeen > 0, 'some cases share a table column');
});
