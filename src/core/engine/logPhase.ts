import type { FigureName } from '../run/types';
import { FigureGrid } from './figureGrid';

// Phases 2 and 3 of the engine: what logs state. Histograms first (RMS = √(sum_squares/num), exact where
// the writer stores sum_squares), then logged scalars; both fill only what the tensors left unknown.

export function applyHistograms(grid: FigureGrid): void {
  for (const h of grid.data.histograms) {
    if (h.num <= 0) continue;
    const value = Math.sqrt(h.sumSquares / h.num);
    const c = grid.cell(h.step, h.layer);
    grid.addLayer(h.layer);
    const src = h.approximate ? 'histogram (approximate)' : 'histogram';
    if (h.quantity === 'adam_u') FigureGrid.set(c, 'adamUpdateRms', value, src);
    else if (h.role === 'param' || h.role === 'param_before') FigureGrid.set(c, 'paramRms', value, src);
    else if (h.role === 'grad') FigureGrid.set(c, 'gradRms', value, src);
    else if (h.role === 'momentum_buffer') FigureGrid.set(c, 'momentumBufferRms', value, src);
    if (!grid.numelOf.has(h.layer) && !h.approximate) grid.numelOf.set(h.layer, h.num);
  }
}

export function applyLoggedScalars(grid: FigureGrid): void {
  const data = grid.data;
  for (const o of data.observations) {
    grid.addLayer(o.layer);
    if (o.numel !== undefined && !grid.numelOf.has(o.layer)) grid.numelOf.set(o.layer, o.numel);
    if (o.shape && !data.layerShapes[o.layer]) data.layerShapes[o.layer] = o.shape;
    const c = grid.cell(o.step, o.layer);
    for (const [k, v] of Object.entries(o.figures) as [FigureName, number | null][]) FigureGrid.set(c, k, v, 'log');
  }
}
