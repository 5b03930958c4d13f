// Compare Runs: relative step per layer of two or more runs side by side (table + grouped bars).

import type { ShowCompareMessage } from '../src/shared/protocol';
import { GroupedBarChart } from './charts/groupedBars';
import { escapeHtml, rawValue } from './format';
import { formatNumber, formatStep } from '../src/shared/format';
import { normalizeOptimizer } from '../src/shared/equivalence';
import { optimizerLabel } from '../src/shared/optimizers';
import type { ThemeColors } from './theme';

export class CompareView {
  private chart: GroupedBarChart | null = null;
  constructor(
    private readonly root: HTMLElement,
    private readonly colors: () => ThemeColors,
  ) {}

  render(message: ShowCompareMessage): void {
    this.destroy();
    const runs = message.runs;
    const layers: string[] = [];
    for (const run of runs) for (const l of run.analysis.result.layers) if (!layers.includes(l.name)) layers.push(l.name);
    const value = (run: number, layer: string) => runs[run].analysis.result.layers.find((l) => l.name === layer)?.relStep ?? null;
    const paramRms = (run: number, layer: string) => runs[run].analysis.result.layers.find((l) => l.name === layer)?.paramRms ?? null;
    const t = message.settings.thresholds;
    const cls = (v: number | null) =>
      v === null ? 'num' : v > t.relativeStepHigh ? 'num high' : v < t.relativeStepLow ? 'num low' : 'num';
    const head = runs
      .map((r, i) => {
        const res = r.analysis.result;
        return `<th class="num" data-run="${i}" title="${escapeHtml(res.inputs.map((x) => x.path).join('\n'))}">${escapeHtml(r.label)}<div class="sub">${[res.optimizer.type ? escapeHtml(optimizerLabel(normalizeOptimizer(res.optimizer.type)) ?? res.optimizer.type) : '', `lr ${formatNumber(res.optimizer.lr)}`, `step ${formatStep(res.step)}`].filter(Boolean).join(' · ')}</div></th>`;
      })
      .join('');
    const ratioHead = runs.length === 2 ? `<th class="num" title="relative step of run 2 ÷ run 1">ratio</th>` : '';
    const body = layers
      .map((layer) => {
        const cells = runs
          .map((_, i) => {
            const v = value(i, layer);
            const p = paramRms(i, layer);
            return `<td data-run="${i}" data-field="relStep" data-value="${rawValue(v)}" class="${cls(v)}" title="param RMS ${formatNumber(p)}">${formatNumber(v)}</td>`;
          })
          .join('');
        let ratio = '';
        if (runs.length === 2) {
          const a = value(0, layer);
          const b = value(1, layer);
          const r = a !== null && b !== null && a !== 0 ? b / a : null;
          ratio = `<td class="num" data-field="ratio" data-value="${rawValue(r)}">${r === null ? '—' : `×${formatNumber(r)}`}</td>`;
        }
        return `<tr data-layer="${escapeHtml(layer)}"><th scope="row" class="name-col">${escapeHtml(layer)}</th>${cells}${ratio}</tr>`;
      })
      .join('');
    this.root.innerHTML = `
<header class="header"><div class="title-row"><h1>${escapeHtml(message.title)}</h1></div>
<div class="meta">${formatNumber(runs.length)} runs · relative step per layer at each run's report step</div></header>
<section class="card"><div class="card-head"><h2>Relative step per layer</h2></div>
<div class="table-wrap"><table id="compare-table"><thead><tr><th class="name-col">Layer</th>${head}${ratioHead}</tr></thead><tbody>${body}</tbody></table></div>
<p class="note">— : the run does not state the figure for that layer.</p></section>
<section class="card chart-card"><div class="card-head"><h2>Relative step per layer, by run</h2></div><div class="chart-box tall"><canvas id="chart-compare" role="img" aria-label="Relative step per layer per run"></canvas></div></section>`;
    this.chart = new GroupedBarChart(this.root.querySelector<HTMLCanvasElement>('#chart-compare')!, this.colors, 'relative step per step');
    this.chart.setData(
      layers,
      runs.map((r, i) => ({ label: r.label, values: layers.map((l) => value(i, l)) })),
    );
  }

  applyTheme(): void {
    this.chart?.applyTheme();
  }

  destroy(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}
