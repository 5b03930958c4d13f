// Grouped bars: one group per layer, one bar per run (Compare Runs). Log y.

import { formatNumber } from '../../src/shared/format';
import { withAlpha, type ThemeColors } from '../theme';
import { Chart, logTick, shortLayerName, themeAxes } from './setup';

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
              autoSkip: true,
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
    themeAxes(this.chart.options, theme);
    this.chart.options.plugins!.legend!.labels!.color = theme.foreground;
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
