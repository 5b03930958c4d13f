// Chart.js 4 charts of the dashboard. Configured as DESIGN.md says: parsing:false with {x, y} points
// on a linear x axis (so the decimation plugin can work on long runs), animation:false, pointRadius:0,
// log-scale y for figures that span decades. Colors come from the VS Code theme (theme.ts).

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartDataset,
  type Plugin,
  type ScatterDataPoint,
} from 'chart.js';
import { formatNumber } from '../src/shared/format';
import { withAlpha, type ThemeColors } from './theme';

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
);

export interface LayerLine {
  layer: string;
  points: ScatterDataPoint[];
}

/** Mutable per-chart decoration state read by the plugins at draw time. */
export interface ChartMarks {
  /** Selected step: a vertical line. */
  step: number | null;
  /** Highlighted layer: drawn wider, others faded. */
  layer: string | null;
  /** Horizontal threshold bands (relative step chart): shaded above `high` and below `low`. */
  bands?: { high: number; low: number };
  /** Layers along x (single-step input): no step marker. */
  perLayer?: boolean;
}

const DASHES: number[][] = [[], [6, 3], [2, 2], [8, 3, 2, 3]];
export const MAX_LEGEND_ENTRIES = 32;

/** Points for a log-scale chart: only finite, positive values (a log axis cannot show 0 or null). */
export function logPoints(steps: number[], values: (number | null)[]): ScatterDataPoint[] {
  const out: ScatterDataPoint[] = [];
  for (let i = 0; i < steps.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v) && v > 0) out.push({ x: steps[i], y: v });
  }
  return out;
}

function bandsPlugin(marks: ChartMarks, colors: () => ThemeColors): Plugin<'line'> {
  const edges = (chart: Chart) => {
    const bands = marks.bands;
    const y = chart.scales.y;
    if (!bands || !y) return null;
    const { chartArea } = chart;
    const clamp = (v: number) => Math.max(chartArea.top, Math.min(chartArea.bottom, v));
    return { bands, yHigh: clamp(y.getPixelForValue(bands.high)), yLow: clamp(y.getPixelForValue(bands.low)) };
  };
  return {
    id: 'optimizerLensBands',
    // shading under the lines, threshold lines and their labels above them (readable over dense runs)
    beforeDatasetsDraw(chart) {
      const e = edges(chart as unknown as Chart);
      if (!e) return;
      const { ctx, chartArea } = chart;
      const theme = colors();
      ctx.save();
      ctx.fillStyle = withAlpha(theme.error, 0.1);
      ctx.fillRect(chartArea.left, chartArea.top, chartArea.width, e.yHigh - chartArea.top);
      ctx.fillStyle = withAlpha(theme.warning, 0.1);
      ctx.fillRect(chartArea.left, e.yLow, chartArea.width, chartArea.bottom - e.yLow);
      ctx.restore();
    },
    afterDatasetsDraw(chart) {
      const e = edges(chart as unknown as Chart);
      if (!e) return;
      const { ctx, chartArea } = chart;
      const theme = colors();
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      for (const [py, color, label] of [
        [e.yHigh, theme.error, `high ${formatNumber(e.bands.high)}`],
        [e.yLow, theme.warning, `low ${formatNumber(e.bands.low)}`],
      ] as [number, string, string][]) {
        if (py <= chartArea.top || py >= chartArea.bottom) continue;
        ctx.strokeStyle = withAlpha(color, 0.8);
        ctx.beginPath();
        ctx.moveTo(chartArea.left, py);
        ctx.lineTo(chartArea.right, py);
        ctx.stroke();
        ctx.font = `${theme.fontSize - 2}px ${theme.fontFamily}`;
        ctx.textAlign = 'right';
        // a background-colored halo keeps the label readable over the lines
        ctx.lineWidth = 3;
        ctx.setLineDash([]);
        ctx.strokeStyle = theme.background;
        ctx.strokeText(label, chartArea.right - 4, py - 3);
        ctx.fillStyle = withAlpha(color, 0.95);
        ctx.fillText(label, chartArea.right - 4, py - 3);
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
      }
      ctx.restore();
    },
  };
}

function stepMarkerPlugin(marks: ChartMarks, colors: () => ThemeColors): Plugin<'line'> {
  return {
    id: 'optimizerLensStepMarker',
    afterDatasetsDraw(chart) {
      const x = chart.scales.x;
      if (marks.step === null || marks.perLayer || !x) return;
      const px = x.getPixelForValue(marks.step);
      const { ctx, chartArea } = chart;
      if (px < chartArea.left || px > chartArea.right) return;
      ctx.save();
      ctx.strokeStyle = withAlpha(colors().selection, 0.9);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, chartArea.bottom);
      ctx.stroke();
      ctx.restore();
    },
  };
}

/** A long layer name shortened for an axis tick (the tooltip shows it whole). */
export function shortLayerName(name: string, max = 22): string {
  return name.length <= max ? name : `…${name.slice(name.length - max + 1)}`;
}

function logTick(value: number | string): string {
  const v = Number(value);
  const exponent = Math.log10(v);
  return Math.abs(exponent - Math.round(exponent)) < 1e-9 ? formatNumber(v, 1) : '';
}

export class LayerLineChart {
  readonly chart: Chart<'line', ScatterDataPoint[]>;
  readonly marks: ChartMarks;
  private lines: LayerLine[] = [];
  private perLayerStep: number | null = null;

  constructor(
    canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    private readonly yTitle: string,
    marks: Partial<ChartMarks> = {},
  ) {
    this.marks = { step: null, layer: null, ...marks };
    const theme = colors();
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        parsing: false,
        animation: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hoverRadius: 3 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'step' }, ticks: { precision: 0 } },
          y: { type: 'logarithmic', title: { display: true, text: yTitle }, ticks: { callback: logTick } },
        },
        plugins: {
          decimation: { enabled: true, algorithm: 'min-max' },
          legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 2, padding: 8 } },
          tooltip: {
            callbacks: {
              title: (items) =>
                !items.length ? '' : this.perLayerStep !== null ? `step ${this.perLayerStep}` : `step ${items[0].parsed.x}`,
              label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y)}`,
            },
          },
        },
      },
      plugins: [bandsPlugin(this.marks, colors), stepMarkerPlugin(this.marks, colors)],
    });
    this.applyTheme(theme);
  }

  setLines(lines: LayerLine[]): void {
    this.lines = lines;
    // One step in the whole input (a single checkpoint): a line over steps would be a vertical stack of
    // dots on an empty step axis. Show one point per layer instead, layers along x.
    const steps = new Set<number>();
    for (const l of lines) for (const p of l.points) if (p.x !== null) steps.add(p.x);
    this.perLayerStep = steps.size === 1 ? [...steps][0] : null;
    this.marks.perLayer = this.perLayerStep !== null;
    // For tests and styling: which kind of chart is drawn.
    this.chart.canvas.dataset.mode = this.perLayerStep !== null ? 'per-layer' : 'steps';
    const o = this.chart.options;
    const x = o.scales!.x!;
    if (this.perLayerStep !== null) {
      const names = lines.map((l) => l.layer);
      Object.assign(x, {
        min: -0.5,
        max: Math.max(0.5, names.length - 0.5),
        title: { ...(x.title ?? {}), display: true, text: `layer (step ${this.perLayerStep})` },
        // one tick per layer, at the integer positions of the points
        afterBuildTicks: (scale: { ticks: { value: number }[] }) => {
          scale.ticks = names.map((_, i) => ({ value: i }));
        },
        ticks: {
          ...(x.ticks ?? {}),
          stepSize: 1,
          autoSkip: names.length > 40,
          maxRotation: 60,
          minRotation: names.length > 4 ? 45 : 0,
          callback: (v: number | string) => {
            const i = Number(v);
            return Number.isInteger(i) && names[i] !== undefined ? shortLayerName(names[i]) : '';
          },
        },
      });
      o.plugins!.legend!.display = false;
      o.interaction = { mode: 'nearest', intersect: true };
    } else {
      Object.assign(x, {
        min: undefined,
        max: undefined,
        title: { ...(x.title ?? {}), display: true, text: 'step' },
        afterBuildTicks: undefined,
        ticks: {
          ...(x.ticks ?? {}),
          stepSize: undefined,
          autoSkip: true,
          maxRotation: 0,
          minRotation: 0,
          callback: undefined,
          precision: 0,
        },
      });
      // A legend of hundreds of layers (a large model) hides the chart: rely on the tooltip and row highlight.
      o.plugins!.legend!.display = lines.length <= MAX_LEGEND_ENTRIES;
      o.interaction = { mode: 'nearest', axis: 'x', intersect: false };
    }
    this.chart.data.datasets = lines.map((line, i) => this.dataset(line, i));
    this.chart.update('none');
  }

  /** The step shown when the chart is in per-layer mode (single-step input), else null. */
  get singleStep(): number | null {
    return this.perLayerStep;
  }

  setMarks(marks: Partial<ChartMarks>): void {
    Object.assign(this.marks, marks);
    if ('layer' in marks) {
      this.chart.data.datasets = this.lines.map((line, i) => this.dataset(line, i));
    }
    this.chart.update('none');
  }

  applyTheme(theme: ThemeColors = this.colors()): void {
    const o = this.chart.options;
    Chart.defaults.font.family = theme.fontFamily;
    Chart.defaults.font.size = Math.max(10, theme.fontSize - 2);
    Chart.defaults.color = theme.muted;
    for (const axis of ['x', 'y'] as const) {
      const scale = o.scales![axis]!;
      scale.grid = { ...(scale.grid ?? {}), color: theme.grid };
      scale.border = { ...(scale.border ?? {}), color: theme.grid };
      scale.ticks = { ...(scale.ticks ?? {}), color: theme.muted };
      if (scale.title) scale.title = { ...scale.title, color: theme.muted };
    }
    o.plugins!.legend!.labels!.color = theme.foreground;
    this.chart.data.datasets = this.lines.map((line, i) => this.dataset(line, i, theme));
    this.chart.update('none');
  }

  destroy(): void {
    this.chart.destroy();
  }

  private dataset(line: LayerLine, index: number, theme = this.colors()): ChartDataset<'line', ScatterDataPoint[]> {
    const base = theme.series[index % theme.series.length];
    const faded = this.marks.layer !== null && this.marks.layer !== line.layer;
    const color = faded ? withAlpha(base, 0.25) : base;
    return {
      label: line.layer,
      data: this.perLayerStep !== null ? line.points.map((p) => ({ x: index, y: p.y })) : line.points,
      borderColor: color,
      backgroundColor: color,
      borderDash: DASHES[Math.floor(index / theme.series.length) % DASHES.length],
      borderWidth: this.marks.layer === line.layer ? 3 : 1.5,
      // Few points (a single checkpoint, two dumps): draw them, a line alone hides them.
      pointRadius: this.perLayerStep !== null ? 4 : line.points.length <= 3 ? 3 : 0,
      showLine: this.perLayerStep === null,
      spanGaps: true,
    };
  }
}

export interface HistogramData {
  edges: number[];
  counts: number[];
}

export class HistogramChart {
  readonly chart: Chart<'bar'>;
  constructor(
    canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    xTitle: string,
  ) {
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { type: 'category', title: { display: true, text: xTitle }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { type: 'linear', beginAtZero: true, title: { display: true, text: 'elements' }, ticks: { precision: 0 } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? `u ∈ ${items[0].label}` : ''),
              label: (item) => `${item.parsed.y} elements`,
            },
          },
        },
      },
    });
    this.applyTheme();
  }

  setData(data: HistogramData | null): void {
    const theme = this.colors();
    if (!data) {
      this.chart.data.labels = [];
      this.chart.data.datasets = [];
    } else {
      this.chart.data.labels = data.counts.map((_, i) => formatNumber((data.edges[i] + data.edges[i + 1]) / 2, 2));
      this.chart.data.datasets = [
        {
          label: 'elements',
          data: data.counts,
          backgroundColor: withAlpha(theme.series[0], 0.7),
          borderColor: theme.series[0],
          borderWidth: 1,
          barPercentage: 1,
          categoryPercentage: 1,
        },
      ];
    }
    this.chart.update('none');
  }

  applyTheme(theme: ThemeColors = this.colors()): void {
    const o = this.chart.options;
    for (const axis of ['x', 'y'] as const) {
      const scale = o.scales![axis]!;
      scale.grid = { ...(scale.grid ?? {}), color: theme.grid };
      scale.border = { ...(scale.border ?? {}), color: theme.grid };
      scale.ticks = { ...(scale.ticks ?? {}), color: theme.muted };
      if (scale.title) scale.title = { ...scale.title, color: theme.muted };
    }
    for (const ds of this.chart.data.datasets) {
      ds.backgroundColor = withAlpha(theme.series[0], 0.7);
      ds.borderColor = theme.series[0];
    }
    this.chart.update('none');
  }

  destroy(): void {
    this.chart.destroy();
  }
}

/** Grouped bars: one group per layer, one bar per run (Compare Runs). Log y. */
export class GroupedBarChart {
  readonly chart: Chart<'bar'>;
  constructor(
    canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    yTitle: string,
  ) {
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: {
            type: 'category',
            ticks: {
              maxRotation: 45,
              autoSkip: false,
              callback(this: { getLabelForValue(v: number): string }, v: number | string) {
                return shortLayerName(this.getLabelForValue(Number(v)));
              },
            },
          },
          y: { type: 'logarithmic', title: { display: true, text: yTitle }, ticks: { callback: logTick } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y)}` } },
        },
      },
    });
  }

  setData(labels: string[], series: { label: string; values: (number | null)[] }[]): void {
    const theme = this.colors();
    this.chart.data.labels = labels;
    this.chart.data.datasets = series.map((s, i) => ({
      label: s.label,
      data: s.values.map((v) => (v !== null && v > 0 && Number.isFinite(v) ? v : null)) as number[],
      backgroundColor: withAlpha(theme.series[i % theme.series.length], 0.75),
      borderColor: theme.series[i % theme.series.length],
      borderWidth: 1,
    }));
    this.applyTheme(theme);
  }

  applyTheme(theme: ThemeColors = this.colors()): void {
    const o = this.chart.options;
    for (const axis of ['x', 'y'] as const) {
      const scale = o.scales![axis]!;
      scale.grid = { ...(scale.grid ?? {}), color: theme.grid };
      scale.border = { ...(scale.border ?? {}), color: theme.grid };
      scale.ticks = { ...(scale.ticks ?? {}), color: theme.muted };
      if (scale.title) scale.title = { ...scale.title, color: theme.muted };
    }
    o.plugins!.legend!.labels!.color = theme.foreground;
    this.chart.data.datasets.forEach((ds, i) => {
      ds.backgroundColor = withAlpha(theme.series[i % theme.series.length], 0.75);
      ds.borderColor = theme.series[i % theme.series.length];
    });
    this.chart.update('none');
  }

  destroy(): void {
    this.chart.destroy();
  }
}
