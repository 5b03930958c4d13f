// The run model's logged scalars (columnar, run/scalars.ts) as one object per (step, layer) row and one per
// global row: what tests compare against ground truth. Reads the columns; nothing here is used by the product.

import { FIGURES } from '../../src/core/run/scalars';
import type { GlobalObservation, LayerFigures, RunData } from '../../src/core/run/types';

export interface ObservationRow {
  step: number;
  layer: string;
  figures: Partial<LayerFigures>;
  numel?: number;
}

/** Every logged row, layers in first-seen order, rows in the order read. */
export function observationsOf(data: RunData): ObservationRow[] {
  const out: ObservationRow[] = [];
  for (const [layer, t] of data.scalars.layers) {
    for (let r = 0; r < t.length; r++) {
      const figures: Partial<LayerFigures> = {};
      for (let c = 0; c < t.columnCount; c++) {
        const v = t.get(r, c);
        // +inf in a ratio column is the log stating "undefined" (null to the engine).
        if (!Number.isNaN(v)) (figures as Record<string, number | null>)[FIGURES[c]!] = v === Infinity ? null : v;
      }
      const row: ObservationRow = { step: t.steps[r]!, layer, figures };
      if (t.numel !== null) row.numel = t.numel;
      out.push(row);
    }
  }
  return out;
}

/** Whole-model rows in step order (the analysis' `globals`). */
export function globalsOf(data: RunData): GlobalObservation[] {
  return data.scalars.globalObservations();
}
