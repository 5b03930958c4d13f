import type { FigureName } from '../run/types';
import { FIGURES, figureColumn, type LayerScalars } from '../run/scalars';
import type { Cell, FigureGrid } from './figureGrid';
import { deriveColumns, deriveFigures, type DeriveHyper, type FigureRow } from './derivedPhase';

// The figures of one layer, step by step in ascending order: the cell the tensor and histogram phases
// filled, then the layer's logged values (the first row of that step stating each figure), then what
// follows from them (derivedPhase.ts). One reusable row of typed arrays: resolving a 6M-value log
// allocates nothing per step.

const LOG = 'log';
const REL_COLUMN = figureColumn('relStep');
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

  /**
   * Every step of `axis` at once, for a layer whose figures come from its logged table alone (no cell of the
   * tensor or histogram phases): per figure column the values `at` resolves at each axis step (null: none at
   * any step), and which axis steps the layer has a row at. `axis` is ascending and holds every logged step of
   * the layer. Column by column instead of step by step: on the 52,721-step TensorBoard file `at` per
   * (layer, step) cost 0.8 s of the engine's 1.3 s, this ~0.1 s. test/core/engine/resolveAxis.test.ts
   * checks it against `at` on random tables.
   */
  resolveAxis(axis: Float64Array, scratch: AxisScratch): AxisFigures {
    const n = axis.length;
    const present = scratch.present;
    present.fill(0);
    const shared = scratch.shared;
    shared.fill(0);
    const v = new Array<Float32Array | Float64Array | null>(NF).fill(null);
    const t = this.table;
    const order = this.order;
    if (!t || !order) return { present, v, shared };
    // The axis position of each row (by row index): rows are then read in storage order, where the rows of one
    // step come in the order `at` takes them (the sort is stable), so the first row stating a figure wins alike.
    const rowPos = scratch.rows(t.length);
    rowPos.fill(-1);
    let p = 0;
    // Row r at axis position r for every row (one row per axis step, in order): the usual log, where a column
    // with a value at every row resolves to itself.
    let identity = t.length === n;
    for (let q = 0; q < order.length; q++) {
      const row = order[q]!;
      const step = t.steps[row]!;
      while (p < n && axis[p]! < step) p++;
      if (p < n && axis[p] === step) {
        rowPos[row] = p;
        present[p] = 1;
        if (p !== row) identity = false;
      } else identity = false;
    }
    // A ratio stated as undefined (+inf) where no value is: null, which keeps the relative step from being derived.
    const relStated = scratch.relStated;
    relStated.fill(0);
    for (let col = 0; col < t.columnCount; col++) {
      const c = t.column(col);
      if (c === undefined) continue;
      if (identity && roomToShare(c, n) && everyValueStated(c, n)) {
        // What scatter would write, value for value; deriveColumns writes only where a value is missing.
        v[col] = c.subarray(0, n);
        shared[col] = 1;
        continue;
      }
      const out = scratch.column(col);
      const wrote = scatter(c, rowPos, out);
      v[col] = wrote ? out : null;
      if (col === REL_COLUMN) {
        for (let row = 0; row < t.length; row++) {
          const at = rowPos[row]!;
          if (at >= 0 && c[row] === Infinity) relStated[at] = 1;
        }
      }
    }
    deriveColumns(v, relStated, n, this.numel, this.hyper, (col) => scratch.column(col));
    return { present, v, shared };
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

/** What resolveAxis gives: valid until its next call with the same scratch (but see `shared`). */
export interface AxisFigures {
  /** 1 at the axis steps the layer has a row at. */
  present: Uint8Array;
  /** Per figure column, its values over the axis (NaN: none there); null: no value at any step. */
  v: (Float32Array | Float64Array | null)[];
  /**
   * 1 where v[col] is the logged table's own column (a view of its first rows, not a copy): read-only, and
   * kept by the caller as it is, while a column of the scratch is overwritten by the next call.
   */
  shared: Uint8Array;
}

/**
 * A table column is shared only when its room is at most 1.5 rows per axis step, or 256 rows (a table's first
 * size): a grown table has room to spare, and a structured clone of a view carries its whole buffer along.
 */
function roomToShare(c: Float32Array | Float64Array, n: number): boolean {
  return c.length <= Math.max(1.5 * n, 256);
}

/** Every one of the first n values of c is a value (neither NaN nor +inf, which the log states as undefined). */
function everyValueStated(c: Float32Array | Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const x = c[i]!;
    if (x !== x || x === Infinity) return false;
  }
  return true;
}

/**
 * The working columns of resolveAxis over one step axis, reused from layer to layer: a 52,721-step axis is
 * 420 KB a column, and allocating (and collecting) six such arrays per layer cost more than resolving them.
 * What resolveAxis returns lives here until its next call.
 */
export class AxisScratch {
  readonly present: Uint8Array;
  readonly relStated: Uint8Array;
  readonly shared = new Uint8Array(NF);
  private rowPos = new Int32Array(0);
  private readonly columns: (Float64Array | undefined)[] = [];

  constructor(readonly n: number) {
    this.present = new Uint8Array(n);
    this.relStated = new Uint8Array(n);
  }

  /** Column `col`, all NaN. */
  column(col: number): Float64Array {
    const c = (this.columns[col] ??= new Float64Array(this.n));
    return c.fill(Number.NaN);
  }

  /** Room for `rows` row positions. */
  rows(rows: number): Int32Array {
    if (this.rowPos.length < rows) this.rowPos = new Int32Array(rows);
    return this.rowPos.subarray(0, rows);
  }
}

// One column's rows into their axis positions, the first value of a step kept (+inf and NaN are not values); true
// when a value was written.
function scatter(c: Float32Array | Float64Array, rowPos: Int32Array, out: Float64Array): boolean {
  let wrote = false;
  for (let row = 0; row < rowPos.length; row++) {
    const at = rowPos[row]!;
    const x = c[row]!;
    if (at < 0 || x !== x || x === Infinity || out[at] === out[at]) continue;
    out[at] = x;
    wrote = true;
  }
  return wrote;
}
