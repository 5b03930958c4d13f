// When a learning-rate schedule has driven the lr to about zero (warmup start, the end of a decay): there the
// step is small because of the schedule, not because of the layers. The rules give such low steps their own
// cause (lr-near-zero); the dashboard opens the heatmap over steps when the report step is such a step.

/** The lr is at most this fraction of its peak. */
export const LR_NEAR_ZERO_FRACTION = 0.01;

/** Whether `lr` is near zero next to the schedule's `peak` (false when either is unknown). */
export function lrNearZero(lr: number | null | undefined, peak: number | null | undefined): boolean {
  return typeof lr === 'number' && typeof peak === 'number' && peak > 0 && lr <= LR_NEAR_ZERO_FRACTION * peak;
}
