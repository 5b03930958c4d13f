// A small chart of one run-level signal over steps (loss, global grad norm, lr): the context the per-layer
// figures sit in. Log y when the signal spans more than two decades (an lr decayed to ~0), linear otherwise.

import { formatNumber, formatStep } from '../../src/shared/format';
import type { Point } from './layerChart';
import { withAlpha, type ThemeColors } from '../theme';
import { Chart, logTick, StepMarker, stepTick, themeAxes, valueTick } from './setup';

export interface SignalLine {
  label: string;
  points: Point[];
}

export class SignalChart {
  readonly chart: Chart<'line', Point[]>;
  private lines: SignalLine[] = [];
  private step: number | null = null;
  private readonly marker: StepMarker;

  constructor(
    canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    private readonly colorIndex: number,
  ) {
    this.marker = new StepMarker(canvas.parentElement);
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
          x: { type: 'linear', ticks: { callback: stepTick, maxTicksLimit: 6 } },
          y: { type: 'linear', ticks: { callback: valueTick, maxTicksLimit: 4 } },
        },
        plugins: {
          decimation: { enabled: true, algorithm: 'min-max' },
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? `step ${formatStep(items[0].parsed.x)}` : ''),
              label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y)}`,
            },
          },
        },
      },
      plugins: [{ id: 'optimizerLensSignalMarker', afterRender: () => this.placeMarker() }],
    });
    this.applyTheme();
  }

  setLines(lines: SignalLine[]): void {
    this.lines = lines;
    let min = Infinity;
    let max = -Infinity;
    for (const l of lines)
      for (const p of l.points) {
        if (p.y < min) min = p.y;
        if (p.y > max) max = p.y;
      }
    const log = min > 0 && max / min > 100;
    const y = this.chart.options.scales!.y!;
    Object.assign(y, { type: log ? 'logarithmic' : 'linear', ticks: { ...(y.ticks ?? {}), callback: log ? logTick : valueTick } });
    this.chart.canvas.dataset.scale = log ? 'log' : 'linear';
    this.rebuild();
  }

  setStep(step: number | null): void {
    this.step = step;
    this.placeMarker();
  }

  applyTheme(theme: ThemeColors = this.colors()): void {
    themeAxes(this.chart.options, theme);
    this.rebuild(theme);
    this.placeMarker();
  }

  destroy(): void {
    this.chart.destroy();
    this.marker.remove();
  }

  private rebuild(theme = this.colors()): void {
    this.chart.data.datasets = this.lines.map((l, i) => {
      const color = theme.series[(this.colorIndex + i) % theme.series.length];
      return {
        label: l.label,
        data: l.points,
        borderColor: i ? withAlpha(color, 0.8) : color,
        backgroundColor: color,
        borderDash: i ? [5, 3] : [],
        pointRadius: l.points.length <= 3 ? 3 : 0,
        spanGaps: true,
      };
    });
    this.chart.update('none');
  }

  private placeMarker(): void {
    // Chart.js renders once inside its constructor, before this.chart is set.
    if (!this.chart) return;
    this.marker.placeOnChart(this.chart, this.step, withAlpha(this.colors().selection, 0.9));
  }
}
