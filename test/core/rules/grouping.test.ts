import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HitGrouper } from '../../../src/core/rules/grouping';
import { rng } from '../../support/fuzz';

// HitGrouper against the plain computation (every hit kept, sorted, counted) on hits in every order: layer
// after layer, step after step across layers, and shuffled — 300k hits, several merges of its bounded buffer.

function plain(hits: { layer: string; step: number; value: number }[], order: string[], reportStep: number, sign: number) {
  const steps = [...new Set(hits.map((h) => h.step))].sort((a, b) => a - b);
  const layers = order.filter((l) => hits.some((h) => h.layer === l));
  let worst = hits[0]!;
  for (const h of hits) if (sign * h.value > sign * worst.value) worst = h;
  const perLayer = layers.map((layer) => {
    const mine = hits.filter((h) => h.layer === layer);
    return {
      layer,
      first: Math.min(...mine.map((h) => h.step)),
      last: Math.max(...mine.map((h) => h.step)),
      count: mine.length,
      worst: mine.reduce((w, h) => (sign * h.value > sign * w ? h.value : w), mine[0]!.value),
    };
  });
  return {
    layers,
    steps: { first: steps[0], last: steps.at(-1), count: steps.length },
    worst: { layer: worst.layer, step: worst.step, value: worst.value },
    perLayer,
    atReportStep: hits.some((h) => h.step === reportStep),
  };
}

describe('HitGrouper', () => {
  const r = rng(7);
  const order = Array.from({ length: 30 }, (_, i) => `layers.${i}.weight`);
  const hits: { layer: string; step: number; value: number }[] = [];
  // 30 layers × 10,000 steps, a gap of steps no layer hits, values with ties
  for (const layer of order)
    for (let s = 0; s < 10_000; s++) if (s < 4000 || s >= 4100) hits.push({ layer, step: s * 10, value: Math.floor(r() * 1e6) });
  const orders: [string, typeof hits][] = [
    ['layer after layer', hits],
    ['step after step', [...hits].sort((a, b) => a.step - b.step)],
    ['shuffled', [...hits].sort(() => r() - 0.5)],
  ];
  for (const [name, list] of orders) {
    for (const extreme of ['largest', 'smallest'] as const) {
      it(`${name}, ${extreme}: the plain computation's group`, () => {
        const g = new HitGrouper([...order].reverse(), 99_990, extreme);
        for (const h of list) g.add(h.layer, h.step, h.value);
        assert.equal(g.size, hits.length);
        const want = plain(list, [...order].reverse(), 99_990, extreme === 'largest' ? 1 : -1);
        const got = g.group()!;
        assert.deepEqual(got.steps, { first: 0, last: 99_990, count: 9_900 });
        assert.deepEqual(
          { layers: got.layers, steps: got.steps, worst: got.worst, perLayer: got.perLayer, atReportStep: got.atReportStep },
          want,
        );
      });
    }
  }
});
