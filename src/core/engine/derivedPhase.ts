import { figureColumn } from '../run/scalars';

// Phase 4 of the engine: figures that follow from others — RMS from a norm where the element count is
// known, the relative step from the update and parameter RMS, the predicted step from lr·RMS(u). Applied
// to each (step, layer) as its figures are resolved (layerFigures.ts), so nothing is stored per cell.

/** One (step, layer)'s figures by column (run/scalars.ts FIGURES order): value, stated-null flag, source. */
export interface FigureRow {
  /** NaN = unknown. */
  v: Float64Array;
  /** 1 where an input stated the figure as undefined (null), which keeps it from being derived. */
  isNull: Uint8Array;
  src: (string | undefined)[];
}

/** What the layer's hyper-parameters give the predicted step: its lr, and whether decoupled decay is absent. */
export interface DeriveHyper {
  lr: number | null;
  decayFree: boolean;
}

const NORM_PAIRS: [number, number][] = [
  [figureColumn('paramRms'), figureColumn('paramNorm')],
  [figureColumn('gradRms'), figureColumn('gradNorm')],
  [figureColumn('updateRms'), figureColumn('updateNorm')],
];
const PARAM = figureColumn('paramRms');
const UPDATE = figureColumn('updateRms');
const REL = figureColumn('relStep');
const U = figureColumn('adamUpdateRms');
const PRED = figureColumn('relStepPredicted');
const LR = figureColumn('lr');

function put(row: FigureRow, col: number, value: number, src: string): void {
  row.v[col] = value;
  row.isNull[col] = 0;
  row.src[col] = src;
}

export function deriveFigures(row: FigureRow, numel: number | undefined, hyper: DeriveHyper): void {
  const v = row.v;
  if (numel) {
    for (const [r, nm] of NORM_PAIRS) {
      if (Number.isNaN(v[r]!) && !Number.isNaN(v[nm]!)) put(row, r, v[nm]! / Math.sqrt(numel), `${row.src[nm]} (norm/√numel)`);
    }
  }
  const param = v[PARAM]!;
  if (Number.isNaN(v[REL]!) && row.src[REL] === undefined && !Number.isNaN(v[UPDATE]!) && param > 0) {
    put(row, REL, v[UPDATE]! / param, 'derived');
  }
  if (Number.isNaN(v[PRED]!) && !Number.isNaN(v[U]!) && param > 0) {
    const lr = Number.isNaN(v[LR]!) ? hyper.lr : v[LR]!;
    if (lr !== null && hyper.decayFree) put(row, PRED, (lr * v[U]!) / param, 'derived');
  }
}

/**
 * deriveFigures over whole columns (LayerFigures.resolveAxis): `v` by figure column over `n` steps (null: no
 * value at any), `relStated` 1 where a relative step is stated as undefined; `fresh(col)` gives an all-NaN
 * column for a figure that had no value. Same rules, same arithmetic.
 */
export function deriveColumns(
  v: (Float32Array | Float64Array | null)[],
  relStated: Uint8Array,
  n: number,
  numel: number | undefined,
  hyper: DeriveHyper,
  fresh: (col: number) => Float64Array,
): void {
  // (a column is written only where it has no value: a complete column, which may be a logged table's own, never is)
  const column = (col: number): Float32Array | Float64Array => (v[col] ??= fresh(col));
  if (numel) {
    const root = Math.sqrt(numel);
    for (const [r, nm] of NORM_PAIRS) {
      const norm = v[nm];
      if (!norm) continue;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(norm[i]!)) continue;
        const rms = column(r);
        if (Number.isNaN(rms[i]!)) rms[i] = norm[i]! / root;
      }
    }
  }
  const param = v[PARAM];
  if (!param) return;
  const update = v[UPDATE];
  if (update) {
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(update[i]!) || !(param[i]! > 0) || relStated[i] === 1) continue;
      const rel = column(REL);
      if (Number.isNaN(rel[i]!)) rel[i] = update[i]! / param[i]!;
    }
  }
  const u = v[U];
  if (!u || !hyper.decayFree) return;
  const lrs = v[LR];
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(u[i]!) || !(param[i]! > 0)) continue;
    const lr = lrs !== null && !Number.isNaN(lrs[i]!) ? lrs[i]! : hyper.lr;
    if (lr === null) continue;
    const pred = column(PRED);
    if (Number.isNaN(pred[i]!)) pred[i] = (lr * u[i]!) / param[i]!;
  }
}
