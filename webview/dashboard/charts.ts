// Relative step and parameter scale per layer over steps. A few dozen tensors: one line each. More (a
// 291-tensor LLM): per tensor kind the median and the 10–90% band of its tensors, with the tensors that
// stray from their kind drawn as lines, and the selected tensor on top — not 291 overlapping lines.

import type { SeriesFigure } from '../../src/shared/series';
import { formatNumber } from '../../src/shared/format';
import { LayerLineChart, logPoints, type KindBand, type LayerChartData, type LayerLine } from '../charts/layerChart';
import { MAX_LEGEND_ENTRIES, shortLayerName } from '../charts/setup';
import { Section, Throttle } from './section';

/** A followed log's new steps reach the charts at most this often (the step list and table show them at once). */
export const LIVE_CHART_MS = 3000;

export class ChartsSection extends Section {
  private rel: LayerLineChart | null = null;
  private scale: LayerLineChart | null = null;
  private readonly redraw = new Throttle(LIVE_CHART_MS, () => this.onData());

  html(): string {
    const t = this.ctx.model.settings.thresholds;
    const many = this.many();
    const mode = this.mode();
    return `
  <section class="card chart-card${many ? ' wide' : ''}" id="rel-step-card">
    <div class="card-head"><h2>Relative step per layer</h2><span class="spacer"></span>${
      many
        ? `<select id="chart-mode" aria-label="How to draw many tensors"><option value="bands"${mode === 'bands' ? ' selected' : ''}>per kind: median and 10–90%</option><option value="lines"${mode === 'lines' ? ' selected' : ''}>every tensor</option></select>`
        : ''
    }</div>
    <div class="chart-box"><canvas id="chart-rel-step" role="img" aria-label="Relative step per layer over steps"></canvas></div>
    <p class="note">Shaded: above <code>relativeStepHigh</code> ${formatNumber(t.relativeStepHigh)} and below <code>relativeStepLow</code> ${formatNumber(t.relativeStepLow)}.<span class="band-note"${many && mode === 'bands' ? '' : ' hidden'}> Lines: the median of each kind's tensors; bands: 10–90% of them; thin lines: tensors outside their kind's band most of the run, and the selected one.</span></p>
  </section>
  <section class="card chart-card${many ? ' wide' : ''}" id="param-scale-card">
    <div class="card-head"><h2>Parameter scale per layer</h2></div>
    <div class="chart-box"><canvas id="chart-param-scale" role="img" aria-label="Parameter RMS per layer over steps"></canvas></div>
    <p class="note">RMS of each parameter tensor; zero-initialised tensors appear once they are non-zero.</p>
  </section>`;
  }

  override mount(): void {
    const t = this.ctx.model.settings.thresholds;
    const colors = () => this.ctx.host.colors();
    this.rel = new LayerLineChart(this.$<HTMLCanvasElement>('#chart-rel-step')!, colors, 'relative step per step', {
      bands: { high: t.relativeStepHigh, low: t.relativeStepLow },
    });
    this.scale = new LayerLineChart(this.$<HTMLCanvasElement>('#chart-param-scale')!, colors, 'parameter RMS');
    const select = this.$<HTMLSelectElement>('#chart-mode');
    select?.addEventListener('change', () => {
      this.ctx.host.setState({ chartMode: select.value === 'lines' ? 'lines' : 'bands' });
      const note = this.$('.band-note');
      if (note) note.hidden = select.value !== 'bands';
      this.onData();
    });
  }

  override onAppend(): void {
    this.onStep();
    this.redraw.request();
  }

  override onData(): void {
    this.redraw.done();
    const relData = this.data('relStep');
    const scaleData = this.data('paramRms');
    this.rel?.setData(relData);
    this.scale?.setData(scaleData);
    const empty = (d: LayerChartData) => d.lines.every((l) => l.points.length === 0) && (d.bands ?? []).every((b) => b.median.length === 0);
    this.markEmpty(
      'chart-rel-step',
      empty(relData),
      'No relative steps in this input: they need the update RMS next to the parameter RMS per layer, or parameter tensors at consecutive steps.',
    );
    this.markEmpty(
      'chart-param-scale',
      empty(scaleData),
      'No parameter scale in this input: log per-layer parameter RMS, or open a checkpoint.',
    );
    // No per-layer figures at all: the table says what the input logs; empty chart cards would repeat it.
    for (const id of ['#rel-step-card', '#param-scale-card']) {
      const card = this.$(id);
      if (card) card.hidden = !this.ctx.model.hasLayers;
    }
    this.onStep();
  }

  override onStep(): void {
    this.rel?.setMarks({ step: this.ctx.step });
    this.scale?.setMarks({ step: this.ctx.step });
  }

  override onLayer(): void {
    if (this.bandMode()) {
      // The selected tensor is drawn on top of the bands: new lines.
      this.onData();
    }
    this.rel?.setMarks({ layer: this.ctx.layer });
    this.scale?.setMarks({ layer: this.ctx.layer });
  }

  override applyTheme(): void {
    this.rel?.applyTheme();
    this.scale?.applyTheme();
  }

  override destroy(): void {
    this.redraw.cancel();
    this.rel?.destroy();
    this.scale?.destroy();
    this.rel = this.scale = null;
  }

  private many(): boolean {
    return this.ctx.model.layerNames.length > MAX_LEGEND_ENTRIES && this.ctx.model.steps.length > 1;
  }

  private mode(): 'bands' | 'lines' {
    return this.ctx.host.getState().chartMode ?? 'bands';
  }

  private bandMode(): boolean {
    return this.many() && this.mode() === 'bands';
  }

  private data(figure: SeriesFigure): LayerChartData {
    const m = this.ctx.model;
    const line = (layer: string, i: number, extra: Partial<LayerLine> = {}): LayerLine => {
      const s = m.series(layer);
      return { layer, points: s ? logPoints(s.steps, s.figures[figure] ?? []) : [], color: i, ...extra };
    };
    if (!this.bandMode()) return { lines: m.layerNames.map((l, i) => line(l, i)) };
    const quantiles = m.kindQuantiles(figure);
    const bands: KindBand[] = m.kinds.map((k, i) => {
      const q = quantiles.get(k.key)!;
      return {
        key: k.key,
        label: k.label,
        color: i,
        median: logPoints(q.steps, q.median),
        p10: logPoints(q.steps, q.p10),
        p90: logPoints(q.steps, q.p90),
        count: k.layers.length,
      };
    });
    const kindIndex = new Map(m.kinds.flatMap((k, i) => k.layers.map((l) => [l, i] as const)));
    const picked = [...m.outliers(figure)];
    const selected = this.ctx.layer;
    if (selected && m.series(selected) && !picked.includes(selected)) picked.push(selected);
    const lines = picked.map((l) => line(l, kindIndex.get(l) ?? 0, { dashed: l !== selected, label: shortLayerName(l, 40) }));
    return { lines, bands };
  }

  private markEmpty(canvasId: string, empty: boolean, html: string): void {
    const box = this.$(`#${canvasId}`)?.closest('.chart-box');
    if (!box) return;
    box.classList.toggle('empty', empty);
    box.closest('.chart-card')?.classList.toggle('is-empty', empty);
    let note = box.parentElement!.querySelector<HTMLElement>('.empty-note');
    if (empty && !note) {
      note = document.createElement('p');
      note.className = 'note empty-note';
      box.after(note);
    }
    if (note) {
      note.innerHTML = html;
      note.hidden = !empty;
    }
  }
}
