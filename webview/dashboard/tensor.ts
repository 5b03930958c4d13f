// The selected tensor on its own: what it is (kind, block, shape), its figures at the selected step, and
// its series over steps — the relative step measured and predicted against the threshold bands, and its
// parameter, gradient and update RMS. Opens when a tensor is picked in the heatmap, the table or a finding.

import type { SeriesFigure } from '../../src/shared/series';
import { formatNumber, formatPercent, formatStep } from '../../src/shared/format';
import { blockLabel, kindLabel } from '../../src/shared/tensorKinds';
import { LayerLineChart, logPoints, type LayerLine } from '../charts/layerChart';
import { escapeHtml, rawValue } from '../format';
import { directionColumn } from './optimizerText';
import { Section } from './section';

export class TensorSection extends Section {
  private rel: LayerLineChart | null = null;
  private rms: LayerLineChart | null = null;
  private shownFor: string | null = null;

  html(): string {
    if (!this.ctx.model.hasLayers) return '';
    return `
<section class="card" id="tensor-card" aria-labelledby="tensor-heading" hidden>
  <div class="card-head"><h2 id="tensor-heading">Tensor</h2><code id="tensor-name"></code><span class="spacer"></span>
    <vscode-button id="tensor-close" secondary title="Close (deselect the tensor)">Close</vscode-button></div>
  <dl class="facts inline" id="tensor-facts"></dl>
  <div class="charts two">
    <div class="chart-box"><canvas id="chart-tensor-rel" role="img" aria-label="The tensor's relative step over steps"></canvas></div>
    <div class="chart-box"><canvas id="chart-tensor-rms" role="img" aria-label="The tensor's parameter, gradient and update RMS over steps"></canvas></div>
  </div>
</section>`;
  }

  override mount(): void {
    if (!this.$('#tensor-card')) return;
    const t = this.ctx.model.settings.thresholds;
    const colors = () => this.ctx.host.colors();
    this.rel = new LayerLineChart(this.$<HTMLCanvasElement>('#chart-tensor-rel')!, colors, 'relative step per step', {
      bands: { high: t.relativeStepHigh, low: t.relativeStepLow },
    });
    this.rms = new LayerLineChart(this.$<HTMLCanvasElement>('#chart-tensor-rms')!, colors, 'RMS');
    this.$('#tensor-close')?.addEventListener('click', () => this.ctx.selectLayer(null));
  }

  override onData(): void {
    this.shownFor = null;
    this.onLayer();
  }

  override onLayer(): void {
    const card = this.$('#tensor-card');
    if (!card) return;
    const layer = this.ctx.layer;
    const known = layer !== null && this.ctx.model.infos.has(layer);
    card.hidden = !known;
    if (!known) {
      this.shownFor = null;
      return;
    }
    if (this.shownFor !== layer) {
      this.shownFor = layer;
      const m = this.ctx.model;
      const info = m.infos.get(layer)!;
      this.$('#tensor-name')!.textContent = layer;
      card.dataset.layer = layer;
      const lines = (figures: [SeriesFigure, string][]): LayerLine[] => {
        const s = m.series(layer);
        return figures.map(([f, label], i) => ({
          layer: `${layer}:${f}`,
          label,
          points: s ? logPoints(s.steps, s.figures[f] ?? []) : [],
          color: i,
        }));
      };
      const many = m.steps.length > 1;
      for (const box of this.$$('#tensor-card .chart-box')) box.hidden = !many;
      if (many) {
        this.rel?.setLines(
          lines([
            ['relStep', 'measured'],
            ['relStepPredicted', 'predicted'],
          ]),
        );
        this.rms?.setLines(
          lines([
            ['paramRms', 'parameter RMS'],
            ['gradRms', 'gradient RMS'],
            ['updateRms', 'update RMS'],
          ]),
        );
      }
      card.dataset.kind = kindLabel(info);
      card.dataset.block = info.blockKey ?? '';
    }
    this.onStep();
  }

  override onStep(): void {
    const layer = this.shownFor;
    const dl = this.$('#tensor-facts');
    if (!layer || !dl) return;
    const m = this.ctx.model;
    const info = m.infos.get(layer)!;
    const step = this.ctx.step;
    const row = m.rowsAt(step).find((r) => r.name === layer);
    const direction = directionColumn(m.optimizer);
    const fact = (label: string, field: string, value: number | null, text = formatNumber(value)) =>
      `<div><dt>${escapeHtml(label)}</dt><dd data-field="${field}" data-value="${rawValue(value)}">${text}</dd></div>`;
    const shape = row?.shape ? row.shape.map((d) => formatStep(d)).join(' × ') : '—';
    dl.innerHTML = [
      `<div><dt>kind</dt><dd>${escapeHtml(kindLabel(info))}</dd></div>`,
      `<div><dt>block</dt><dd>${info.blockKey ? escapeHtml(`${info.blockKey} (${blockLabel(info, true)})`) : 'outside blocks'}</dd></div>`,
      `<div><dt>shape</dt><dd>${shape}</dd></div>`,
      `<div><dt>step</dt><dd>${formatStep(step)}</dd></div>`,
      fact('param RMS', 'paramRms', row?.paramRms ?? null),
      fact('grad RMS', 'gradRms', row?.gradRms ?? null),
      fact(direction.label, direction.field, (direction.field === 'directionRms' ? row?.directionRms : row?.adamUpdateRms) ?? null),
      fact('rel. step', 'relStep', row?.relStep ?? null),
      fact('predicted', 'relStepPredicted', row?.relStepPredicted ?? null),
      fact('ε-dominated', 'epsDominatedFraction', row?.epsDominatedFraction ?? null, formatPercent(row?.epsDominatedFraction ?? null)),
    ].join('');
    this.rel?.setMarks({ step });
    this.rms?.setMarks({ step });
  }

  /** Bring the card into view (a heatmap click opens it below the map). */
  reveal(): void {
    this.$('#tensor-card')?.scrollIntoView({ block: 'nearest' });
  }

  override applyTheme(): void {
    this.rel?.applyTheme();
    this.rms?.applyTheme();
  }

  override destroy(): void {
    this.rel?.destroy();
    this.rms?.destroy();
    this.rel = this.rms = null;
  }
}
