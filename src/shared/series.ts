// Series over steps: the figures a chart plots, one array entry per step. Shared by the engine (which
// fills them), the wire packing and the webview (which draws them).

/** The figures a chart plots over steps, one array entry per step in `steps`. */
export const SERIES_FIGURES = [
  'paramRms',
  'gradRms',
  'updateRms',
  'relStep',
  'adamUpdateRms',
  'relStepPredicted',
  'epsDominatedFraction',
  'directionRms',
  'zeroSecondMomentFraction',
] as const;
export type SeriesFigure = (typeof SERIES_FIGURES)[number];

export interface LayerSeries {
  layer: string;
  steps: number[];
  figures: Record<SeriesFigure, (number | null)[]>;
}
