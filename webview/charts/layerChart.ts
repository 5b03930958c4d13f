// The per-layer line chart (relative step, parameter scale): Chart.js configured as DESIGN.md says —
// parsing:false with {x, y} points on a linear x axis (so the decimation plugin can work on long runs),
// animation:false, pointRadius:0, a log y axis for figures that span decades. Two ways to draw many
// tensors: one line per tensor (a few dozen at most), or per tensor kind a median line and a 10–90% band
// with the outlying tensors as lines. The selected step is a DOM overlay, so moving it redraws nothing.

import type { ChartDataset, LegendItem, Plugin } from 'chart.js';
import { formatNumber, formatStep } from '../../src/shared/format';
import { withAlpha, type ThemeColors } from '../theme';
import { Chart, logTick, MAX_LEGEND_ENTRIES, shortLayerName, StepMarker, stepTick, themeAxes } from './setup';

/** A point of a line: x is the step (or the layer's position), y the figure. */
export interface Point {
  x: number;
  y: number;
}

export interface LayerLine {
  layer: string;
  /** Legend text (default: the layer name). */
  label?: string;
  points: Point[];
  /** Palette index (default: the line's position). */
  color?: number;
  dashed?: boolean;
}

/** One tensor kind: the median over its tensors at each step and the 10th–90th percentile band. */
export interface KindBand {
  key: string;
  label: string;
  color: number;
  median: Point[];
  p10: Point[];
  p90: Point[];
  /** How many tensors the band summarizes. */
  count: number;
}

export interface LayerChartData {
  lines: LayerLine[];
  /** Band mode: per-kind bands under the lines (which are then the outliers and the selected tensor). */
  bands?: KindBand[];
}

/** Mutable per-chart decoration state read by the plugins at draw time. */
export interface ChartMarks {
  /** Selected step: a vertical line. */
  step: number | null;
  /** Highlighted layer: drawn wider, others faded. */
  layer: string | null;
  /** Horizontal threshold bands (relative step chart): shaded above `high` and below `low`. */
  bands?: { high: number; low: number };
}

const DASHES: number[][] = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

/** Points for a log-scale chart: only finite, positive values (a log axis cannot show 0 or null). */
export function logPoints(steps: ArrayLike<number>, values: ArrayLike<number | null>): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < steps.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v) && v > 0) out.push({ x: steps[i], y: v });
  }
  return out;
}

function thresholdPlugin(marks: ChartMarks, colors: () => ThemeColors): Plugin<'line'> {
  const edges = (chart: Chart) => {
    const bands = marks.bands;
    const y = chart.scales.y;
    if (!bands || !y) return null;
    const { chartArea } = chart;
    const clamp = (v: number) => Math.max(chartArea.top, Math.min(chartArea.bottom, v));
    return { bands, yHigh: clamp(y.getPixelForValue(bands.high)), yLow: clamp(y.getPixelForValue(bands.low)) };
  };
  return {
    id: 'optimizerLensThresholds',
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

type Role = 'line' | 'p10' | 'p90' | 'median';
type Dataset = ChartDataset<'line', Point[]> & { olRole?: Role; olGroup?: string; olCount?: number };

export class LayerLineChart {
  readonly chart: Chart<'line', Point[]>;
  readonly marks: ChartMarks;
  private data: LayerChartData = { lines: [] };
  private perLayerStep: number | null = null;
  private readonly marker: StepMarker;
  private readonly hidden = new Set<string>();

  constructor(
    canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    yTitle: string,
    marks: Partial<ChartMarks> = {},
  ) {
    this.marks = { step: null, layer: null, ...marks };
    this.marker = new StepMarker(canvas.parentElement);
    const placeMarker: Plugin<'line'> = { id: 'optimizerLensStepMarker', afterRender: () => this.placeMarker() };
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
          x: { type: 'linear', title: { display: true, text: 'step' }, ticks: { callback: stepTick } },
          y: { type: 'logarithmic', title: { display: true, text: yTitle }, ticks: { callback: logTick } },
        },
        plugins: {
          decimation: { enabled: true, algorithm: 'min-max' },
          legend: {
            position: 'bottom',
            labels: {
              boxWidth: 12,
              boxHeight: 2,
              padding: 8,
              filter: (item: LegendItem, data) => {
                const ds = data.datasets[item.datasetIndex ?? 0] as Dataset;
                return ds.olRole !== 'p10' && ds.olRole !== 'p90';
              },
            },
            onClick: (_e, item) => this.toggleGroup(item.datasetIndex ?? 0),
          },
          tooltip: {
            filter: (item) => {
              const role = (item.dataset as Dataset).olRole;
              return role !== 'p10' && role !== 'p90';
            },
            callbacks: {
              title: (items) =>
                !items.length
                  ? ''
                  : this.perLayerStep !== null
                    ? `step ${formatStep(this.perLayerStep)}`
                    : `step ${formatStep(items[0].parsed.x)}`,
              label: (item) => {
                const ds = item.dataset as Dataset;
                const what = ds.olRole === 'median' ? `${ds.label} (median of ${ds.olCount})` : ds.label;
                return `${what}: ${formatNumber(item.parsed.y)}`;
              },
            },
          },
        },
      },
      plugins: [thresholdPlugin(this.marks, colors), placeMarker],
    });
    this.applyTheme(colors());
  }

  /** Lines only (one per tensor), as before band mode existed. */
  setLines(lines: LayerLine[]): void {
    this.setData({ lines });
  }

  setData(data: LayerChartData): void {
    this.data = data;
    // One step in the whole input (a single checkpoint): a line over steps would be a vertical stack of
    // dots on an empty step axis. Show one point per layer instead, layers along x.
    const steps = new Set<number>();
    for (const l of data.lines) for (const p of l.points) steps.add(p.x);
    for (const b of data.bands ?? []) for (const p of b.median) steps.add(p.x);
    this.perLayerStep = steps.size === 1 && !data.bands?.length ? [...steps][0] : null;
    // For tests and styling: which kind of chart is drawn.
    this.chart.canvas.dataset.mode = this.perLayerStep !== null ? 'per-layer' : data.bands?.length ? 'bands' : 'steps';
    const o = this.chart.options;
    const x = o.scales!.x!;
    if (this.perLayerStep !== null) {
      const names = data.lines.map((l) => l.layer);
      Object.assign(x, {
        min: -0.5,
        max: Math.max(0.5, names.length - 0.5),
        title: { ...(x.title ?? {}), display: true, text: `layer (step ${formatStep(this.perLayerStep)})` },
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
        ticks: { ...(x.ticks ?? {}), stepSize: undefined, autoSkip: true, maxRotation: 0, minRotation: 0, callback: stepTick },
      });
      const entries = data.lines.length + (data.bands?.length ?? 0);
      o.plugins!.legend!.display = entries <= MAX_LEGEND_ENTRIES;
      o.interaction = { mode: 'nearest', axis: 'x', intersect: false };
    }
    this.rebuild();
  }

  /** The step shown when the chart is in per-layer mode (single-step input), else null. */
  get singleStep(): number | null {
    return this.perLayerStep;
  }

  setMarks(marks: Partial<ChartMarks>): void {
    const layerChanged = 'layer' in marks && marks.layer !== this.marks.layer;
    Object.assign(this.marks, marks);
    if (layerChanged) this.rebuild();
    else this.placeMarker();
  }

  applyTheme(theme: ThemeColors = this.colors()): void {
    themeAxes(this.chart.options, theme);
    this.chart.options.plugins!.legend!.labels!.color = theme.foreground;
    this.rebuild(theme);
    this.placeMarker();
  }

  destroy(): void {
    this.chart.destroy();
    this.marker.remove();
  }

  private rebuild(theme = this.colors()): void {
    const datasets: Dataset[] = [];
    for (const band of this.data.bands ?? []) datasets.push(...this.bandDatasets(band, theme));
    this.data.lines.forEach((line, i) => datasets.push(this.lineDataset(line, i, theme)));
    for (const ds of datasets) if (ds.olGroup && this.hidden.has(ds.olGroup)) ds.hidden = true;
    this.chart.data.datasets = datasets;
    this.chart.update('none');
  }

  private bandDatasets(band: KindBand, theme: ThemeColors): Dataset[] {
    const color = theme.series[band.color % theme.series.length];
    const dash = DASHES[Math.floor(band.color / theme.series.length) % DASHES.length];
    const faded = this.marks.layer !== null;
    const edge = (data: Point[], role: Role, fill: string | false): Dataset => ({
      label: `${band.label} ${role === 'p10' ? '10%' : '90%'}`,
      data,
      borderColor: 'transparent',
      backgroundColor: withAlpha(color, faded ? 0.08 : 0.16),
      borderWidth: 0,
      pointRadius: 0,
      fill,
      spanGaps: true,
      olRole: role,
      olGroup: band.key,
    });
    return [
      edge(band.p10, 'p10', false),
      edge(band.p90, 'p90', '-1'),
      {
        label: band.label,
        data: band.median,
        borderColor: faded ? withAlpha(color, 0.55) : color,
        backgroundColor: color,
        borderDash: dash,
        borderWidth: 1.75,
        pointRadius: band.median.length <= 3 ? 3 : 0,
        fill: false,
        spanGaps: true,
        olRole: 'median',
        olGroup: band.key,
        olCount: band.count,
      },
    ];
  }

  private lineDataset(line: LayerLine, index: number, theme: ThemeColors): Dataset {
    const palette = line.color ?? index;
    const base = theme.series[palette % theme.series.length];
    const selected = this.marks.layer === line.layer;
    const faded = this.marks.layer !== null && !selected;
    const color = faded ? withAlpha(base, 0.25) : base;
    return {
      label: line.label ?? line.layer,
      data: this.perLayerStep !== null ? line.points.map((p) => ({ x: index, y: p.y })) : line.points,
      borderColor: color,
      backgroundColor: color,
      borderDash: line.dashed ? [5, 3] : DASHES[Math.floor(palette / theme.series.length) % DASHES.length],
      borderWidth: selected ? 3 : 1.5,
      // Few points (a single checkpoint, two dumps): draw them, a line alone hides them.
      pointRadius: this.perLayerStep !== null ? 4 : line.points.length <= 3 ? 3 : 0,
      showLine: this.perLayerStep === null,
      spanGaps: true,
      olRole: 'line',
      olGroup: `line:${line.layer}`,
    };
  }

  private toggleGroup(datasetIndex: number): void {
    const ds = this.chart.data.datasets[datasetIndex] as Dataset | undefined;
    const group = ds?.olGroup;
    if (!group) return;
    if (this.hidden.has(group)) this.hidden.delete(group);
    else this.hidden.add(group);
    this.rebuild();
  }

  private placeMarker(): void {
    // Chart.js renders once inside its constructor, before this.chart is set.
    if (!this.chart) return;
    this.marker.placeOnChart(this.perLayerStep === null ? this.chart : undefined, this.marks.step, withAlpha(this.colors().selection, 0.9));
  }
}
