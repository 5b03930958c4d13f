// A logged layer's complete columns become its series as they are (LayerFigures.resolveAxis shares the table's
// own column): the analysis of a followed log must then not change when the log grows. Rows appended to the
// run's tables (a tail increment, a step split across two reads) leave every series handed out before as it was.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeRunData } from '../../../src/core/pipeline';
import { figureColumn, ScalarStore } from '../../../src/core/run/scalars';
import { emptyRunData } from '../../../src/core/run/types';

const LAYERS = ['model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.down_proj.weight'];

function fill(store: ScalarStore, from: number, to: number): void {
  for (let step = from; step < to; step++) {
    for (const [i, layer] of LAYERS.entries()) {
      store.setLayer(step, layer, 'paramRms', 0.02 + 0.001 * i + 1e-7 * step);
      store.setLayer(step, layer, 'updateRms', 1e-5 * (1 + ((step * 7 + i) % 5)));
      store.setLayer(step, layer, 'adamUpdateRms', 0.3 + 0.01 * (step % 3));
      store.setLayer(step, layer, 'lr', 1e-3);
    }
  }
}

test('series shared with the logged tables do not change when the run grows', async () => {
  const data = emptyRunData();
  data.layerOrder.push(...LAYERS);
  fill(data.scalars, 1, 41);
  const first = await analyzeRunData(data);
  const table = data.scalars.layer(LAYERS[0]!);
  const param = first.series[0]!.figures.paramRms;
  assert.equal(param.buffer, table.column(figureColumn('paramRms'))!.buffer, 'the complete column is the series column');
  const copies = first.series.map((s) => Object.fromEntries(Object.entries(s.figures).map(([f, c]) => [f, Array.from(c)])));
  const stepsBefore = first.series.map((s) => Array.from(s.steps));

  // The next read: step 40 again (split across the reads), with other values, then new steps; twice, so that the
  // tables grow past their room.
  for (const [from, to] of [
    [40, 300],
    [299, 900],
  ]) {
    const more = new ScalarStore();
    for (const layer of LAYERS) more.setLayer(from, layer, 'paramRms', 5);
    fill(more, from + 1, to);
    data.scalars.append(more);
    const next = await analyzeRunData(data);
    assert.equal(next.series[0]!.steps.length, to - 1);
    assert.equal(next.series[0]!.figures.paramRms[next.series[0]!.steps.length - 1], 0.02 + 1e-7 * (to - 1));
  }
  first.series.forEach((s, i) => {
    assert.deepEqual(Array.from(s.steps), stepsBefore[i]);
    for (const [f, c] of Object.entries(s.figures)) assert.deepEqual(Array.from(c), copies[i]![f], `${s.layer} ${f}`);
  });
  // Derived figures (relative step, predicted step) are computed, not taken from a table: still there.
  assert.ok(first.series[0]!.figures.relStep.every((x) => x > 0));
  assert.ok(first.series[0]!.figures.relStepPredicted.every((x) => x > 0));
});
