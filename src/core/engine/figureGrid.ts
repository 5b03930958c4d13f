import type { FigureName, RunData } from '../run/types';
import type { OptimizerKind } from '../../shared/optimizers';
import type { LayerScalars } from '../run/scalars';
import type { LayerStats } from './types';

// The engine's working state: a cell of figures (with where each came from) per (step, layer) that the
// tensor and histogram phases filled, the logged tables of each layer (consulted after the cells, never
// copied into them: see layerFigures.ts), the layer order and each layer's element count. Every phase
// writes through `set`, whose precedence rule is the engine's: the first known value of a figure wins
// (phases run tensors → histograms → logs), a null never replaces a value.

type Figures = { [K in FigureName]?: number | null };

export interface Cell {
  figures: Figures;
  provenance: Record<string, string>;
}

export class FigureGrid {
  readonly cells = new Map<number, Map<string, Cell>>();
  readonly layerOrder: string[];
  readonly numelOf = new Map<string, number>();
  /** The update rule the tensor phase applied per layer (Muon's AdamW groups differ from the run's kind). */
  readonly optimizerOf = new Map<string, OptimizerKind>();
  /** Logged per-layer figures (the run's columnar tables), by layer. */
  readonly logged = new Map<string, LayerScalars>();
  // Called once per observation (hundreds of thousands in a long log): a Set, not a scan of the order.
  private readonly knownLayers: Set<string>;

  constructor(readonly data: RunData) {
    this.layerOrder = [...data.layerOrder];
    this.knownLayers = new Set(this.layerOrder);
    for (const [l, s] of Object.entries(data.layerShapes)) this.numelOf.set(l, numelOfShape(s));
  }

  cell(step: number, layer: string): Cell {
    let m = this.cells.get(step);
    if (!m) this.cells.set(step, (m = new Map()));
    let c = m.get(layer);
    if (!c) m.set(layer, (c = { figures: {}, provenance: {} }));
    return c;
  }

  addLayer(layer: string): void {
    if (!this.knownLayers.has(layer)) {
      this.knownLayers.add(layer);
      this.layerOrder.push(layer);
    }
  }

  /** Set a figure unless a value is already known (or `override`); undefined leaves the cell as is. */
  static set(cell: Cell, name: FigureName, value: number | null | undefined, source: string, override = false): void {
    if (value === undefined) return;
    if (!override && cell.figures[name] !== undefined && cell.figures[name] !== null) return;
    if (value === null && cell.figures[name] !== undefined) return;
    cell.figures[name] = value;
    cell.provenance[name] = source;
  }
}

export function numelOfShape(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function toLayerStats(
  name: string,
  c: Cell,
  shape: number[] | null,
  numel: number | null,
  optimizer: OptimizerKind | undefined,
): LayerStats {
  const g = (k: FigureName): number | null => {
    const v = c.figures[k];
    return v === undefined ? null : v;
  };
  return {
    name,
    shape,
    numel,
    paramRms: g('paramRms'),
    gradRms: g('gradRms'),
    updateRms: g('updateRms'),
    relStep: g('relStep'),
    adamUpdateRms: g('adamUpdateRms'),
    relStepPredicted: g('relStepPredicted'),
    epsDominatedFraction: g('epsDominatedFraction'),
    decayRms: g('decayRms'),
    sqrtVHatRms: g('sqrtVHatRms'),
    momentumBufferRms: g('momentumBufferRms'),
    directionRms: g('directionRms'),
    zeroSecondMomentFraction: g('zeroSecondMomentFraction'),
    trustRatio: g('trustRatio'),
    effectiveLr: g('effectiveLr'),
    updateClip: g('updateClip'),
    ...(optimizer ? { optimizer } : {}),
    provenance: c.provenance,
  };
}
