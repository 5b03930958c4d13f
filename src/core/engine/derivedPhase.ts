import type { AnalyzeOptions } from '../analysis';
import type { FigureName } from '../run/types';
import { FigureGrid } from './figureGrid';
import { layerHyper, type ResolvedHyper } from './hyper';

// Phase 4 of the engine: figures that follow from others — RMS from a norm where the element count is
// known, the relative step from the update and parameter RMS, the predicted step from lr·RMS(u).

const NORM_PAIRS: [FigureName, FigureName][] = [
  ['paramRms', 'paramNorm'],
  ['gradRms', 'gradNorm'],
  ['updateRms', 'updateNorm'],
];

export function applyDerivedFigures(grid: FigureGrid, hyper: ResolvedHyper, options: AnalyzeOptions): void {
  for (const layers of grid.cells.values()) {
    for (const [layer, c] of layers) {
      const f = c.figures;
      const n = grid.numelOf.get(layer);
      if (n) {
        for (const [r, nm] of NORM_PAIRS) {
          const norm = f[nm];
          if ((f[r] === undefined || f[r] === null) && norm !== undefined && norm !== null)
            FigureGrid.set(c, r, norm / Math.sqrt(n), `${c.provenance[nm]} (norm/√numel)`);
        }
      }
      if (
        (f.relStep === undefined || f.relStep === null) &&
        f.updateRms != null &&
        f.paramRms != null &&
        f.paramRms > 0 &&
        c.provenance.relStep === undefined
      ) {
        FigureGrid.set(c, 'relStep', f.updateRms / f.paramRms, 'derived');
      }
      if (
        (f.relStepPredicted === undefined || f.relStepPredicted === null) &&
        f.adamUpdateRms != null &&
        f.paramRms != null &&
        f.paramRms > 0
      ) {
        const lh = layerHyper(grid.data, hyper, options, layer, undefined);
        const lr = f.lr ?? lh.lr;
        const decayFree = !lh.decoupled || lh.weightDecay === 0;
        if (lr !== null && lr !== undefined && decayFree)
          FigureGrid.set(c, 'relStepPredicted', (lr * f.adamUpdateRms) / f.paramRms, 'derived');
      }
    }
  }
}
