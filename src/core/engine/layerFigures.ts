import type { FigureName } from '../run/types';
import { FIGURES, figureColumn, type LayerScalars } from '../run/scalars';
import type { Cell, FigureGrid } from './figureGrid';
import { deriveFigures, type DeriveHyper, type FigureRow } from './derivedPhase';

// The figures of one layer, step by step in ascending order: the cell the tensor and histogram phases
// filled, then the layer's logged values (the first row of that step stating each figure), then what
// follows from them (derivedPhase.ts). One reusable row of typed arrays: resolving a 6M-value log
// allocates nothing per step.

const LOG = 'log';
const NF = FIGURES.length;

export class LayerFigures {
  /** The resolved figures of the current step (valid until the next `at`), by figure column. */
  readonly row: FigureRow = { v: new Float64Array(NF), isNull: new Uint8Array(NF), src: new Array<string | undefined>(NF).fill(undefined) };
  private readonly table: LayerScalars | undefined;
  private readonly order: Int32Array | null;
  private pos = 0;
  private readonly numel: number | undefined;

  constructor(
    private readonly grid: FigureGrid,
    readonly layer: string,
    private readonly hyper: DeriveHyper,
  ) {
    this.table = grid.logged.get(layer);
    this.order = this.table ? this.table.order() : null;
    this.numel = grid.numelOf.get(layer);
  }

  /** Steps of the layer's logged rows, ascending (with repeats). */
  loggedSteps(): Float64Array {
    const t = this.table;
    if (!t || !this.order) return new Float64Array(0);
    const out = new Float64Array(t.length);
    for (let i = 0; i < out.length; i++) out[i] = t.steps[this.order[i]!]!;
    return out;
  }

  /** Value of `figure` at the current step, null when unknown. */
  value(col: number): number | null {
    const x = this.row.v[col]!;
    return Number.isNaN(x) ? null : x;
  }

  /**
   * Resolve the figures at `step`; false when the layer has neither a cell nor a logged row there. Calls must
   * come in ascending step order (a cursor walks the logged rows); `restart()` goes back to the start.
   */
  at(step: number): boolean {
    const { v, isNull, src } = this.row;
    v.fill(Number.NaN);
    isNull.fill(0);
    src.fill(undefined);
    let any = false;
    const explicit = this.grid.cells.get(step)?.get(this.layer);
    if (explicit) {
      any = true;
      for (const k in explicit.figures) {
        const x = explicit.figures[k as FigureName];
        if (x === undefined) continue;
        const col = figureColumn(k as FigureName);
        if (x === null) isNull[col] = 1;
        else v[col] = x;
        src[col] = explicit.provenance[k];
      }
    }
    const t = this.table;
    const order = this.order;
    if (t && order) {
      let p = this.pos;
      while (p < order.length && t.steps[order[p]!]! < step) p++;
      this.pos = p;
      for (let q = p; q < order.length && t.steps[order[q]!] === step; q++) {
        any = true;
        const r = order[q]!;
        for (let col = 0; col < t.columnCount; col++) {
          const c = t.column(col);
          if (c === undefined) continue;
          const x = c[r]!;
          if (x !== x || !Number.isNaN(v[col]!)) continue;
          // +inf is a ratio the log states as undefined (rel_step of a zero parameter): null, which a value
          // stated elsewhere replaces and which keeps the figure from being derived.
          if (x === Infinity) {
            if (src[col] === undefined) {
              isNull[col] = 1;
              src[col] = LOG;
            }
          } else {
            v[col] = x;
            isNull[col] = 0;
            src[col] = LOG;
          }
        }
      }
    }
    if (any) deriveFigures(this.row, this.numel, this.hyper);
    return any;
  }

  restart(): void {
    this.pos = 0;
  }

  /** The current step's figures as a cell (stated figures only), for the report step's LayerStats. */
  snapshot(): Cell {
    const figures: Cell['figures'] = {};
    const provenance: Record<string, string> = {};
    const { v, src } = this.row;
    for (let col = 0; col < NF; col++) {
      if (src[col] === undefined && Number.isNaN(v[col]!)) continue;
      figures[FIGURES[col]!] = Number.isNaN(v[col]!) ? null : v[col]!;
      if (src[col] !== undefined) provenance[FIGURES[col]!] = src[col]!;
    }
    return { figures, provenance };
  }
}
