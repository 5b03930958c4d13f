import type { LayerStats } from '../engine/types';
import type { GlobalObservation, NonFiniteObservation } from '../run/types';
import type { LayerSeries } from '../../shared/series';
import type { OptimizerKind } from '../../shared/optimizers';
import type { LrSchedule } from '../analysis';
import type { Thresholds } from './types';

/** What the run rules see: the engine's figures over the whole run, not only at the report step. */
export interface RunRuleContext {
  /** The report step (findings point at it when they hold there). */
  step: number | null;
  /** Per-layer figures at the report step. */
  layers: LayerStats[];
  /** Per-layer figures over every step with figures. */
  series: LayerSeries[];
  thresholds: Thresholds;
  optimizer: OptimizerKind | null;
  /** A learning rate known from any input or option. */
  lr: number | null;
  /** The learning rate over the run, where the inputs state it. */
  lrSchedule: LrSchedule | null;
  /** The learning rate at a step (the nearest known one at or before it), or null. */
  lrAt: (step: number) => number | null;
  /** True when some layer has a parameter scale at some step of the run (not just the reported one). */
  anyParamScale: boolean;
  eps: number | null;
  nonFinite: NonFiniteObservation[];
  /** Whole-model scalars per step (loss, grad norm, lr). */
  globals: GlobalObservation[];
  /** Layers the optimizer does not train (PEFT base weights): no relative-step or scale findings for them. */
  frozenLayers?: ReadonlySet<string>;
}
