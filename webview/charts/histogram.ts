// Histogram of the optimizer's normalized update u for one layer at one step (bars over bin centres).

import { formatNumber } from '../../src/shared/format';
import { withAlpha, type ThemeColors } from '../theme';
import { Chart, themeAxes, valueTick } from './setup';

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
          y: {
            type: 'linear',
            beginAtZero: true,
            title: { display: true, text: 'elements' },
            ticks: { precision: 0, callback: valueTick },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? `u ∈ ${items[0].label}` : ''),
              label: (item) => `${formatNumber(item.parsed.y)} elements`,
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
    themeAxes(this.chart.options, theme);
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
