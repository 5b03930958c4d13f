// Logged scalars, columnar: per layer one table (a step column and one value column per figure), and one
// table of whole-model values (loss, lr, grad norm, …) with a column per global key. Columns are typed
// arrays grown geometrically; a value column starts as Float32Array and becomes Float64Array at the first
// value float32 cannot hold exactly (TensorBoard's simple_value is float32; JSON and CSV values are
// doubles). NaN marks "not stated in this row" — non-finite logged values never get here (the readers
// report them as non-finite observations), except +inf in a ratio figure (rel_step of a zero parameter:
// stated as undefined, which the engine reads as null). Layer names and global keys are interned once per store.
//
// A row is one (step, layer) — or one step of globals — as the input grouped it: a value at the step of
// the table's last row goes into that row (a repeated figure there replaces the earlier value, as a later
// key of one JSON record does); a value at another step starts a new row. A (step, figure) stated again
// after other steps is another row of the same step: the engine takes the first stated.
//
// Why not an object per value: a 250 MB TensorBoard file holds 6.3M scalars; objects per value cost
// ~820 MB and seconds of garbage collection, these columns 8–12 bytes per value.

import type { FigureName, GlobalObservation } from './types';

// Every figure of LayerFigures, each once: a Record over FigureName, so a figure added to the type and
// not here fails to compile (a figure without a column would be dropped silently by the engine).
const FIGURE_SET: Record<FigureName, true> = {
  paramRms: true,
  paramNorm: true,
  gradRms: true,
  gradNorm: true,
  updateRms: true,
  updateNorm: true,
  relStep: true,
  adamUpdateRms: true,
  relStepPredicted: true,
  epsDominatedFraction: true,
  exp_avgRms: true,
  sqrtVHatRms: true,
  decayRms: true,
  momentumBufferRms: true,
  lr: true,
  directionRms: true,
  zeroSecondMomentFraction: true,
  trustRatio: true,
  effectiveLr: true,
  updateClip: true,
};

/** Every per-layer figure, in column order. */
export const FIGURES: readonly FigureName[] = Object.keys(FIGURE_SET) as FigureName[];
const FIGURE_COLUMN = new Map<FigureName, number>(FIGURES.map((f, i) => [f, i]));

/** Column index of a figure in a layer table. */
export function figureColumn(figure: FigureName): number {
  return FIGURE_COLUMN.get(figure)!;
}

// Growth: every typed-array allocation costs V8 tens of microseconds (external memory accounting), so
// tables start at 256 rows and grow 4× while small, 1.5× from 64k rows on (bounded slack where it is big).
// Measured on the 291-tensor log: 16 rows doubling took 2,037 grows and ~1 s of a 5 s read.
// Fresh memory is the other cost: on this machine a first touch costs ~3.5 ms per MB (page faults), so
// bytes allocated are time. A reader that knows how far through its input it is says so (ReadProgress),
// and a growing table is sized for the rows it will have at the end (rows so far over the fraction read:
// logs are regular), within 1.25×–8× of its size: on the 291-tensor log (2,000 rows a table) 2,304 rows
// allocated per column instead of 5,376; on a 52,721-step event file 64k instead of 87k.
const INITIAL_ROWS = 256;

/** How far through its input a reader is: 0 (unknown) or the fraction of the bytes read, (0, 1]. */
export class ReadProgress {
  fraction = 0;
}

/** One table: a step per row, value columns by index (absent until a value is stored in them). */
export class ScalarTable {
  length = 0;
  steps: Float64Array = new Float64Array(INITIAL_ROWS);
  // A column is in `narrow` (float32) until a value needs float64, then in `wide`: two arrays of one
  // element type each keep the per-value path monomorphic (≈ 10 ns a value).
  private readonly narrow: (Float32Array | undefined)[] = [];
  private readonly wide: (Float64Array | undefined)[] = [];
  /** Rows whose steps are not ascending were appended (then readers of the table sort an index). */
  unsorted = false;

  constructor(
    readonly name: string,
    /** The reader's progress through the input, which sizes growth (none: geometric growth alone). */
    readonly progress: ReadProgress | null = null,
  ) {}

  /** Number of column slots (some may be absent). */
  get columnCount(): number {
    return this.narrow.length;
  }

  /** Column `col`'s values (NaN = not stated), or undefined when nothing was stored in it. */
  column(col: number): Float32Array | Float64Array | undefined {
    return this.wide[col] ?? this.narrow[col];
  }

  /** Store `value` at `step` in column `col` (see the module comment for which row it goes into). */
  set(step: number, col: number, value: number): void {
    this.put(this.rowFor(step), col, value);
  }

  /** The row `set` stores `step`'s values in (a record's values share it: found once per record). */
  rowFor(step: number): number {
    const row = this.length - 1;
    return row < 0 || this.steps[row] !== step ? this.addRow(step) : row;
  }

  /** Value at (row, col); NaN when not stated. */
  get(row: number, col: number): number {
    const w = this.wide[col];
    if (w !== undefined) return w[row]!;
    const n = this.narrow[col];
    return n !== undefined ? n[row]! : Number.NaN;
  }

  addRow(step: number): number {
    if (this.length === this.steps.length) this.grow();
    const row = this.length++;
    if (row > 0 && step < this.steps[row - 1]!) this.unsorted = true;
    this.steps[row] = step;
    return row;
  }

  put(row: number, col: number, value: number): void {
    const w = this.wide[col];
    if (w !== undefined) {
      w[row] = value;
      return;
    }
    const n = this.narrow[col];
    if (n !== undefined && Math.fround(value) === value) {
      n[row] = value;
      return;
    }
    this.putSlow(row, col, value);
  }

  private putSlow(row: number, col: number, value: number): void {
    while (this.narrow.length <= col) {
      this.narrow.push(undefined);
      this.wide.push(undefined);
    }
    const n = this.narrow[col];
    if (n === undefined && Math.fround(value) === value) {
      const c = new Float32Array(this.steps.length).fill(Number.NaN);
      c[row] = value;
      this.narrow[col] = c;
      return;
    }
    const w = new Float64Array(this.steps.length);
    if (n !== undefined) w.set(n);
    else w.fill(Number.NaN);
    w[row] = value;
    this.wide[col] = w;
    // Keep `narrow` as the slot list: a placeholder marks the column present.
    this.narrow[col] = EMPTY_F32;
  }

  private grow(): void {
    const n = this.steps.length;
    let cap = n < 65536 ? n * 4 : Math.ceil(n * 1.5);
    const f = this.progress?.fraction ?? 0;
    if (f >= 0.01 && f < 1) {
      const expected = Math.ceil((this.length / f) * 1.03) + 64;
      cap = Math.max(Math.ceil(n * 1.25), Math.min(expected, n * 8));
    }
    const steps = new Float64Array(cap);
    steps.set(this.steps);
    this.steps = steps;
    for (let i = 0; i < this.narrow.length; i++) {
      const w = this.wide[i];
      if (w !== undefined) {
        const next = new Float64Array(cap);
        next.set(w);
        next.fill(Number.NaN, w.length);
        this.wide[i] = next;
        continue;
      }
      const n = this.narrow[i];
      if (n === undefined) continue;
      const next = new Float32Array(cap);
      next.set(n);
      next.fill(Number.NaN, n.length);
      this.narrow[i] = next;
    }
  }

  /** Row indices in ascending step order (stable: rows of one step keep their order). */
  order(): Int32Array {
    const idx = new Int32Array(this.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    if (!this.unsorted) return idx;
    const steps = this.steps;
    return idx.sort((a, b) => steps[a]! - steps[b]! || a - b);
  }

  /** Append every row of `other` (same column meaning) to this table. */
  appendTable(other: ScalarTable, columnMap: (col: number) => number = (c) => c): void {
    for (let r = 0; r < other.length; r++) {
      const row = this.addRow(other.steps[r]!);
      for (let c = 0; c < other.columnCount; c++) {
        const v = other.get(r, c);
        if (!Number.isNaN(v)) this.put(row, columnMap(c), v);
      }
    }
  }
}

/** Placeholder in `narrow` for a column that lives in `wide`. */
const EMPTY_F32 = new Float32Array(0);

/** A layer's table plus what the log states about the layer's size. */
export class LayerScalars extends ScalarTable {
  /** Element count when the log states it (needed to turn norms into RMS); null when not. */
  numel: number | null = null;
}

/** All logged scalars of a run: per-layer tables (first-seen order) and the global table. */
export class ScalarStore {
  readonly layers = new Map<string, LayerScalars>();
  /** Set by the reader filling this store (the fraction of its input read so far): sizes table growth. */
  readonly progress = new ReadProgress();
  globals = new ScalarTable('', this.progress);
  /** Global keys by column index (loss, lr, gradNorm, lr/pg1, …). */
  globalKeys: string[] = [];
  private globalColumn = new Map<string, number>();
  /** The last layer looked up: logs repeat one layer's figures back to back. */
  private lastLayer: LayerScalars | null = null;

  layer(name: string): LayerScalars {
    const last = this.lastLayer;
    if (last !== null && last.name === name) return last;
    let t = this.layers.get(name);
    if (!t) this.layers.set(name, (t = new LayerScalars(name, this.progress)));
    this.lastLayer = t;
    return t;
  }

  /** A per-layer figure value. */
  setLayer(step: number, layer: string, figure: FigureName, value: number): void {
    this.layer(layer).set(step, FIGURE_COLUMN.get(figure)!, value);
  }

  globalKeyColumn(key: string): number {
    let c = this.globalColumn.get(key);
    if (c === undefined) {
      c = this.globalKeys.length;
      this.globalKeys.push(key);
      this.globalColumn.set(key, c);
    }
    return c;
  }

  /** A whole-model value. */
  setGlobal(step: number, key: string, value: number): void {
    this.globals.set(step, this.globalKeyColumn(key), value);
  }

  /** Values stored (per-layer figures and globals): what a tail increment brought. */
  get valueCount(): number {
    let n = 0;
    const count = (t: ScalarTable): void => {
      for (let col = 0; col < t.columnCount; col++) {
        const c = t.column(col);
        if (c) for (let r = 0; r < t.length; r++) if (!Number.isNaN(c[r]!)) n++;
      }
    };
    for (const t of this.layers.values()) count(t);
    count(this.globals);
    return n;
  }

  /** True when some layer states `figure` somewhere. */
  hasFigure(figure: FigureName): boolean {
    const col = FIGURE_COLUMN.get(figure)!;
    for (const t of this.layers.values()) {
      const c = t.column(col);
      if (c) for (let r = 0; r < t.length; r++) if (!Number.isNaN(c[r]!)) return true;
    }
    return false;
  }

  /**
   * Append another store's tables (a later input of the same run, or a tail increment). A table this store
   * does not have yet is taken over as it is, not copied: `other` is consumed.
   */
  append(other: ScalarStore): void {
    for (const [name, t] of other.layers) {
      const mine = this.layers.get(name);
      if (!mine) {
        this.layers.set(name, t);
        continue;
      }
      if (mine.numel === null) mine.numel = t.numel;
      mine.appendTable(t);
    }
    this.lastLayer = null;
    if (this.globals.length === 0 && this.globalKeys.length === 0) {
      this.globals = other.globals;
      this.globalKeys = [...other.globalKeys];
      this.globalColumn = new Map(this.globalKeys.map((k, i) => [k, i]));
      return;
    }
    const map = other.globalKeys.map((k) => this.globalKeyColumn(k));
    this.globals.appendTable(other.globals, (c) => map[c]!);
  }

  /** Whole-model values as one object per row ({step, values}): the analysis' `globals` contract. */
  globalObservations(): GlobalObservation[] {
    const g = this.globals;
    const out: GlobalObservation[] = [];
    for (const r of g.order()) {
      const values: Record<string, number> = {};
      for (let c = 0; c < g.columnCount; c++) {
        const v = g.get(r, c);
        if (!Number.isNaN(v)) values[this.globalKeys[c]!] = v;
      }
      out.push({ step: g.steps[r]!, values });
    }
    return out;
  }

  /** The value of global `key` at `step` (the first row stating it), or null. */
  globalAt(key: string, step: number): number | null {
    const c = this.globalColumn.get(key);
    if (c === undefined) return null;
    const g = this.globals;
    for (let r = 0; r < g.length; r++) if (g.steps[r] === step && !Number.isNaN(g.get(r, c))) return g.get(r, c);
    return null;
  }

  /** The last stated value of global `key` (in row order), or null. */
  lastGlobal(key: string): number | null {
    const c = this.globalColumn.get(key);
    if (c === undefined) return null;
    const g = this.globals;
    for (let r = g.length - 1; r >= 0; r--) if (!Number.isNaN(g.get(r, c))) return g.get(r, c);
    return null;
  }

  /** The last stated per-layer value of `figure` (layers in order, rows in order), or null. */
  lastLayerFigure(figure: FigureName): number | null {
    const col = FIGURE_COLUMN.get(figure)!;
    let out: number | null = null;
    for (const t of this.layers.values()) {
      const c = t.column(col);
      if (!c) continue;
      for (let r = t.length - 1; r >= 0; r--) {
        if (!Number.isNaN(c[r]!)) {
          out = c[r]!;
          break;
        }
      }
    }
    return out;
  }
}
