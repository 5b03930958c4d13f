// The distribution of the optimizer's normalized update u for one layer at (or before) the selected step,
// where optimizer-state tensors exist.

import type { UpdateDistribution } from '../../src/core/engine/types';
import { formatNumber, formatStep } from '../../src/shared/format';
import { HistogramChart } from '../charts/histogram';
import { escapeHtml } from '../format';
import { Section } from './section';

export class DistributionSection extends Section {
  private chart: HistogramChart | null = null;
  /** What the chart draws now (undefined: nothing yet), so a step that keeps it redraws nothing. */
  private drawn: UpdateDistribution | null | undefined = undefined;

  html(): string {
    return `
  <section class="card chart-card" id="u-dist-card">
    <div class="card-head"><h2>Distribution of u</h2><span class="spacer"></span>
      <select id="u-layer-select" aria-label="Layer"></select></div>
    <div class="chart-box"><canvas id="chart-u-dist" role="img" aria-label="Histogram of the optimizer's normalized update"></canvas></div>
    <p class="note" id="u-dist-note"></p>
  </section>`;
  }

  override mount(): void {
    this.chart = new HistogramChart(this.$<HTMLCanvasElement>('#chart-u-dist')!, () => this.ctx.host.colors(), 'u = m̂/(√v̂+ε)');
    const select = this.$<HTMLSelectElement>('#u-layer-select')!;
    select.addEventListener('change', () => {
      this.ctx.host.setState({ distributionLayer: select.value });
      this.render();
    });
  }

  override onData(): void {
    const select = this.$<HTMLSelectElement>('#u-layer-select');
    if (select) {
      const layers = [...new Set(this.ctx.model.analysis.distributions.map((d) => d.layer))];
      const previous = select.value || this.ctx.host.getState().distributionLayer || null;
      select.innerHTML = layers.map((l) => `<option value="${escapeHtml(l)}">${escapeHtml(l)}</option>`).join('');
      select.hidden = layers.length === 0;
      if (previous && layers.includes(previous)) select.value = previous;
    }
    const card = this.$('#u-dist-card');
    if (card) card.hidden = !this.ctx.model.hasLayers;
    this.render();
  }

  override onStep(): void {
    this.render();
  }

  override onLayer(): void {
    const layer = this.ctx.layer;
    const select = this.$<HTMLSelectElement>('#u-layer-select');
    if (layer !== null && select && [...select.options].some((o) => o.value === layer)) {
      select.value = layer;
      this.ctx.host.setState({ distributionLayer: layer });
      this.render();
    }
  }

  override applyTheme(): void {
    this.chart?.applyTheme();
  }

  override destroy(): void {
    this.chart?.destroy();
    this.chart = null;
  }

  private render(): void {
    const note = this.$('#u-dist-note');
    const box = this.$('#u-dist-card .chart-box');
    const dists = this.ctx.model.analysis.distributions;
    if (!dists.length) {
      if (this.drawn !== null) this.chart?.setData(null);
      this.drawn = null;
      box?.classList.add('empty');
      if (note)
        note.textContent =
          'Needs tensors: the distribution of u comes from optimizer state (exp_avg, exp_avg_sq) in a checkpoint or tensor dump. Open one to see it.';
      return;
    }
    box?.classList.remove('empty');
    const select = this.$<HTMLSelectElement>('#u-layer-select');
    const layer = select?.value || dists[0].layer;
    const forLayer = dists.filter((d) => d.layer === layer).sort((a, b) => a.step - b.step);
    const step = this.ctx.step;
    let chosen: UpdateDistribution | undefined = forLayer.find((d) => d.step === step);
    if (!chosen) chosen = [...forLayer].reverse().find((d) => step === null || d.step <= step) ?? forLayer[0];
    if (this.drawn !== (chosen ?? null)) this.chart?.setData(chosen ?? null);
    this.drawn = chosen ?? null;
    if (note && chosen) {
      const total = chosen.counts.reduce((a, b) => a + b, 0);
      const available = forLayer.map((d) => formatStep(d.step)).join(', ');
      note.textContent = `${chosen.layer} at step ${formatStep(chosen.step)} (${formatNumber(total)} elements; tensors at steps ${available}).`;
    }
  }
}
