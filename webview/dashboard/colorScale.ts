// The colour of a relative step, on a log scale anchored at the thresholds: purple far below
// relativeStepLow (the weights barely move), blue at it, green at the target relative step, yellow, orange
// at relativeStepHigh and red above it — cold to hot, one hue per region, so "too small" and "too large"
// never share a colour. Theme colours (--vscode-charts-*), so the scale follows the theme; quantized to
// 1/50 of a decade and cached (a heatmap redraw asks thousands of times).

import type { Thresholds } from '../../src/core/rules/types';
import { mixColors, parseColor, type ThemeColors } from '../theme';

export interface RelStepScale {
  color(value: number | null): string | null;
  /** Distance from the target in decades (to pick the most telling value of several). */
  distance(value: number): number;
  /** log10 domain drawn by the legend: [low/10, high·10]. */
  domain: [number, number];
  low: number;
  high: number;
  target: number;
}

export function relStepScale(thresholds: Thresholds, targetRelativeStep: number, theme: ThemeColors): RelStepScale {
  const low = thresholds.relativeStepLow;
  const high = thresholds.relativeStepHigh;
  const target = targetRelativeStep > low && targetRelativeStep < high ? targetRelativeStep : Math.sqrt(low * high);
  const [lLow, lTarget, lHigh] = [Math.log10(low), Math.log10(target), Math.log10(high)];
  const fallback: [number, number, number] = [128, 128, 128];
  const rgb = (c: string) => parseColor(c) ?? fallback;
  const stops: [number, [number, number, number]][] = [
    [lLow - 1, rgb(theme.series[3])],
    [lLow, rgb(theme.series[0])],
    [lTarget, rgb(theme.series[2])],
    [(lTarget + lHigh) / 2, rgb(theme.warning)],
    [lHigh, rgb(theme.series[1])],
    [lHigh + 1, rgb(theme.error)],
  ];
  const cache = new Map<number, string>();
  const color = (value: number | null): string | null => {
    if (value === null || !(value > 0) || !Number.isFinite(value)) return null;
    const q = Math.round(Math.log10(value) * 50) / 50;
    let c = cache.get(q);
    if (c === undefined) {
      c = interpolate(stops, q);
      cache.set(q, c);
    }
    return c;
  };
  return {
    color,
    distance: (v) => (v > 0 ? Math.abs(Math.log10(v) - lTarget) : -1),
    domain: [lLow - 1, lHigh + 1],
    low,
    high,
    target,
  };
}

function interpolate(stops: [number, [number, number, number]][], x: number): string {
  if (x <= stops[0][0]) return mixColors(stops[0][1], stops[0][1], 0);
  for (let i = 1; i < stops.length; i++) {
    const [x1, c1] = stops[i];
    if (x <= x1) {
      const [x0, c0] = stops[i - 1];
      return mixColors(c0, c1, (x - x0) / (x1 - x0));
    }
  }
  const last = stops[stops.length - 1][1];
  return mixColors(last, last, 0);
}
