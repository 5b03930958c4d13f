// Chart.js set up once for every chart of the webview: the controllers and plugins used, tick texts through
// the one number formatter (src/shared/format.ts), axis colours from the VS Code theme.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Decimation,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartOptions,
  type ChartType,
} from 'chart.js';
import { formatNumber, formatStep } from '../../src/shared/format';
import type { ThemeColors } from '../theme';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  LinearScale,
  LogarithmicScale,
  CategoryScale,
  Tooltip,
  Legend,
  Decimation,
  Filler,
);

export { Chart };

/** Above this many series a legend hides the chart: the tooltip and the row highlight name them instead. */
export const MAX_LEGEND_ENTRIES = 32;

/** Tick text of a log axis: the powers of ten only. */
export function logTick(value: number | string): string {
  const v = Number(value);
  const exponent = Math.log10(v);
  return Math.abs(exponent - Math.round(exponent)) < 1e-9 ? formatNumber(v, 1) : '';
}

/** Tick text of a step axis (integers with thousands separators). */
export function stepTick(value: number | string): string {
  const v = Number(value);
  return Number.isInteger(v) ? formatStep(v) : '';
}

/** Tick text of a linear value axis. */
export function valueTick(value: number | string): string {
  return formatNumber(Number(value));
}

/** A long layer name shortened for an axis tick (the tooltip shows it whole). */
export function shortLayerName(name: string, max = 22): string {
  return name.length <= max ? name : `…${name.slice(name.length - max + 1)}`;
}

/** Grid, border, tick and title colours of a chart's x and y axes from the theme (and Chart.js' defaults for fonts). */
export function themeAxes<T extends ChartType>(options: ChartOptions<T>, theme: ThemeColors, axes: string[] = ['x', 'y']): void {
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.max(10, theme.fontSize - 2);
  Chart.defaults.color = theme.muted;
  const scales = (options as { scales?: Record<string, Record<string, unknown> | undefined> }).scales ?? {};
  for (const axis of axes) {
    const scale = scales[axis];
    if (!scale) continue;
    scale.grid = { ...((scale.grid as object) ?? {}), color: theme.grid };
    scale.border = { ...((scale.border as object) ?? {}), color: theme.grid };
    scale.ticks = { ...((scale.ticks as object) ?? {}), color: theme.muted };
    if (scale.title) scale.title = { ...(scale.title as object), color: theme.muted };
  }
}

/**
 * The selected step's vertical line over a chart: a positioned element (CSSOM, allowed by the CSP) in the
 * chart's box, so moving it redraws nothing. The canvas sits at the box's top left: no layout is read
 * (offsetLeft would force a reflow per chart on every step of a dragged slider).
 */
export class StepMarker {
  private readonly el: HTMLElement;

  constructor(box: Element | null) {
    this.el = document.createElement('div');
    this.el.className = 'step-marker';
    this.el.hidden = true;
    box?.appendChild(this.el);
  }

  /** At x (CSS px in the box) from top to bottom; null hides it. */
  place(x: number | null, top = 0, bottom = 0, color?: string): void {
    if (x === null || !Number.isFinite(x)) {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    this.el.style.left = `${x}px`;
    this.el.style.top = `${top}px`;
    this.el.style.height = `${Math.max(0, bottom - top)}px`;
    if (color) this.el.style.borderColor = color;
  }

  /** Place it over a Chart.js chart at a step (hidden when the step is outside the x axis). */
  placeOnChart(chart: Chart | undefined, step: number | null, color?: string): void {
    const x = chart?.scales?.x;
    const area = chart?.chartArea;
    const px = step !== null && x ? x.getPixelForValue(step) : NaN;
    if (!area || !(px >= area.left && px <= area.right)) this.place(null);
    else this.place(px, area.top, area.bottom, color);
  }

  remove(): void {
    this.el.remove();
  }
}
