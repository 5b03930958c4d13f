import { FigureGrid } from './figureGrid';

// Phases 2 and 3 of the engine: what logs state. Histograms first (RMS = √(sum_squares/num), exact where
// the writer stores sum_squares), then logged scalars; both fill only what the tensors left unknown.
// Logged scalars are not copied into cells: the grid consults the run's columnar tables (run/scalars.ts)
// after its cells, so a 6M-value log costs no object per value here either.

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
  for (const [layer, table] of grid.data.scalars.layers) {
    if (table.length === 0) continue;
    grid.addLayer(layer);
    if (table.numel !== null && !grid.numelOf.has(layer)) grid.numelOf.set(layer, table.numel);
    grid.logged.set(layer, table);
  }
}
