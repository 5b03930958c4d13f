// The heatmap of a model with blocks: block × tensor kind at the selected step, each cell coloured by
// the tensor's relative step (log scale; the legend marks relativeStepLow, the target and relativeStepHigh);
// a click opens that tensor's series. Over time: one row per kind or per block (the median of its
// tensors), steps along x; a click there selects the step.

import type { HeatmapMode } from '../../src/shared/protocol';
import { formatNumber, formatStep } from '../../src/shared/format';
import { lrNearZero } from '../../src/shared/schedule';
import { kindLabel } from '../../src/shared/tensorKinds';
import { TimeHeatmap } from '../charts/timeHeatmap';
import { escapeHtml } from '../format';
import { withAlpha } from '../theme';
import { relStepScale, type RelStepScale } from './colorScale';
import { cssEscape, Section, Throttle } from './section';
import { LIVE_CHART_MS } from './charts';

/** Models with at least this many blocks get the heatmap (fewer: the table says it all). */
export const HEATMAP_MIN_BLOCKS = 2;

const MODES: { mode: HeatmapMode; label: string }[] = [
  { mode: 'blocks', label: 'block × kind at the step' },
  { mode: 'kinds-time', label: 'per kind over steps' },
  { mode: 'blocks-time', label: 'per block over steps' },
];

export function hasHeatmap(blocks: { inBlock: boolean }[]): boolean {
  return blocks.filter((b) => b.inBlock).length >= HEATMAP_MIN_BLOCKS;
}

export class HeatmapSection extends Section {
  private scale: RelStepScale | null = null;
  private time: TimeHeatmap | null = null;
  private cells: HTMLElement[] = [];
  private readonly redraw = new Throttle(LIVE_CHART_MS, () => this.onData());

  html(): string {
    if (!hasHeatmap(this.ctx.model.blocks)) return '';
    const mode = this.mode();
    return `
<section class="card" id="heatmap-card" aria-labelledby="heatmap-heading">
  <div class="card-head">
    <h2 id="heatmap-heading">Relative step by block and kind</h2>
    <span class="spacer"></span>
    <select id="heatmap-mode" aria-label="Heatmap layout">${MODES.map((m) => `<option value="${m.mode}"${m.mode === mode ? ' selected' : ''}>${escapeHtml(m.label)}</option>`).join('')}</select>
  </div>
  <div class="hm-legend" id="heatmap-legend"><canvas id="heatmap-legend-canvas" height="34" aria-hidden="true"></canvas></div>
  <div id="heatmap-body"></div>
  <p class="note" id="heatmap-note"></p>
</section>`;
  }

  override mount(): void {
    const select = this.$<HTMLSelectElement>('#heatmap-mode');
    select?.addEventListener('change', () => {
      this.ctx.host.setState({ heatmapMode: select.value as HeatmapMode });
      this.build();
    });
    this.$('#heatmap-body')?.addEventListener('click', (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>('[data-layer]');
      if (cell) this.ctx.selectLayer(cell.dataset.layer!, { reveal: 'tensor' });
    });
    this.$('#heatmap-body')?.addEventListener('keydown', (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>('[data-layer]');
      if (cell && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.ctx.selectLayer(cell.dataset.layer!, { reveal: 'tensor' });
      }
    });
  }

  override onData(): void {
    this.redraw.done();
    if (!this.$('#heatmap-card')) return;
    this.build();
  }

  /**
   * Appended steps: block × kind colours the newest step's cells at once (the grid is the same: appended steps
   * have the same tensors); the maps over steps get the new columns with the charts, at most every LIVE_CHART_MS
   * (rebuilding them read every tensor's column over every step: ~100 ms per refresh at 291 tensors).
   */
  override onAppend(): void {
    if (!this.$('#heatmap-card')) return;
    if (this.mode() === 'blocks') this.onStep();
    else {
      this.renderNote();
      this.redraw.request();
    }
  }

  override onStep(): void {
    if (this.mode() === 'blocks') this.colorCells();
    else this.time?.setStep(this.ctx.step);
    this.renderNote();
  }

  override onLayer(): void {
    const layer = this.ctx.layer;
    for (const c of this.cells) c.classList.toggle('selected', c.dataset.layer === layer);
  }

  override applyTheme(): void {
    if (!this.$('#heatmap-card')) return;
    this.build();
  }

  override destroy(): void {
    this.redraw.cancel();
    this.time?.destroy();
    this.time = null;
  }

  private mode(): HeatmapMode {
    return this.ctx.host.getState().heatmapMode ?? (this.decayedReport() ? 'kinds-time' : 'blocks');
  }

  /**
   * The report step's lr is near zero next to the schedule's peak (the last step of a decayed schedule): the map
   * at that step would show one colour, the decay, so the heatmap opens over steps unless the user chose a layout.
   */
  private decayedReport(): { lr: number; peak: number; step: number } | null {
    const a = this.ctx.model.analysis;
    const lr = a.result.optimizer.lr;
    const peak = a.summary?.lrSchedule?.peak;
    return a.result.step !== null && lrNearZero(lr, peak) ? { lr: lr!, peak: peak!, step: a.result.step } : null;
  }

  private build(): void {
    const body = this.$('#heatmap-body');
    if (!body) return;
    const m = this.ctx.model;
    this.scale = relStepScale(m.settings.thresholds, m.settings.targetRelativeStep, this.ctx.host.colors());
    this.drawLegend();
    this.time?.destroy();
    this.time = null;
    this.cells = [];
    const mode = this.mode();
    body.dataset.mode = mode;
    if (mode === 'blocks') {
      body.innerHTML = this.gridHtml();
      this.cells = [...body.querySelectorAll<HTMLElement>('[data-layer]')];
      this.colorCells();
      this.onLayer();
    } else {
      body.innerHTML =
        '<div class="hm-time-box"><canvas id="heatmap-time" role="img" aria-label="Relative step over steps"></canvas></div>';
      const scale = this.scale;
      this.time = new TimeHeatmap(
        body.querySelector<HTMLCanvasElement>('#heatmap-time')!,
        () => this.ctx.host.colors(),
        (v) => scale.color(v),
        (v) => scale.distance(v),
        (_row, step) => this.ctx.selectStep(step),
      );
      const grid = m.timeGrid(mode === 'kinds-time' ? 'kinds' : 'blocks');
      this.time.setData({ rows: grid.rows, steps: m.steps, values: grid.values });
      this.time.setStep(this.ctx.step);
    }
    this.renderNote();
  }

  private gridHtml(): string {
    const m = this.ctx.model;
    const columns = m.slotColumns;
    const head = columns.map((c) => `<th scope="col" title="${escapeHtml(c.slot)}">${escapeHtml(c.label)}</th>`).join('');
    const rows: string[] = [];
    const outside: string[] = [];
    for (const block of m.blocks) {
      if (!block.inBlock) {
        for (const l of block.layers)
          outside.push(
            `<button type="button" class="hm-cell hm-chip" data-layer="${escapeHtml(l)}">${escapeHtml(kindLabel(m.infos.get(l)!))}</button>`,
          );
        continue;
      }
      const bySlot = new Map(block.layers.map((l) => [m.infos.get(l)!.slot, l]));
      const cells = columns
        .map((c) => {
          const layer = bySlot.get(c.slot);
          return layer ? `<td class="hm-cell" data-layer="${escapeHtml(layer)}" tabindex="0"></td>` : '<td class="hm-none"></td>';
        })
        .join('');
      rows.push(
        `<tr data-block="${escapeHtml(block.key)}"><th scope="row" title="${escapeHtml(block.label)}">${escapeHtml(block.short)}</th>${cells}</tr>`,
      );
    }
    const strip = outside.length ? `<div class="hm-outside"><span class="muted">outside blocks</span> ${outside.join('')}</div>` : '';
    return `${strip}<div class="hm-scroll"><table class="heatmap" id="heatmap-grid"><thead><tr><th scope="col" class="muted">block</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
  }

  private colorCells(): void {
    const m = this.ctx.model;
    const scale = this.scale;
    if (!scale) return;
    const step = this.ctx.step;
    const stepText = step === null ? '' : ` at step ${formatStep(step)}`;
    for (const cell of this.cells) {
      const layer = cell.dataset.layer!;
      const { value, predicted } = m.relStepAt(layer, step);
      const color = scale.color(value);
      cell.style.backgroundColor = color ?? '';
      cell.classList.toggle('empty', color === null);
      cell.classList.toggle('predicted', predicted);
      cell.dataset.value = value === null ? '' : String(value);
      cell.title = `${layer}${stepText}: ${value === null ? 'no relative step' : `${formatNumber(value)}${predicted ? ' (predicted)' : ''}`}`;
    }
  }

  private renderNote(): void {
    const note = this.$('#heatmap-note');
    if (!note) return;
    const mode = this.mode();
    note.textContent =
      mode === 'blocks'
        ? `Relative step per step (measured, else predicted — dotted) at step ${formatStep(this.ctx.step)}. Click a cell for that tensor's series; the step slider moves the map.`
        : `The median relative step of each ${mode === 'kinds-time' ? 'kind' : 'block'}'s tensors at every step shown; where a pixel covers several steps, the one furthest from the target. Click to select that step.${this.openedOverSteps()}`;
  }

  /** Why the map opened over steps, while the layout is the default one. */
  private openedOverSteps(): string {
    const d = this.ctx.host.getState().heatmapMode ? null : this.decayedReport();
    return d
      ? ` Opened over steps: at the report step ${formatStep(d.step)} the lr schedule has decayed to ${formatNumber(d.lr)} (peak ${formatNumber(d.peak)}), so every tensor's step there is small; choose "block × kind at the step" for that step.`
      : '';
  }

  /** The colour scale with the threshold bands: below relativeStepLow, the target, above relativeStepHigh. */
  private drawLegend(): void {
    const canvas = this.$<HTMLCanvasElement>('#heatmap-legend-canvas');
    const scale = this.scale;
    if (!canvas || !scale) return;
    const theme = this.ctx.host.colors();
    const width = Math.min(520, Math.max(240, canvas.parentElement?.clientWidth ?? 400));
    const height = 34;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const [d0, d1] = scale.domain;
    const x = (log: number) => ((log - d0) / (d1 - d0)) * (width - 2) + 1;
    for (let px = 1; px < width - 1; px++) {
      const log = d0 + ((px - 1) / (width - 2)) * (d1 - d0);
      ctx.fillStyle = scale.color(10 ** log) ?? 'transparent';
      ctx.fillRect(px, 2, 1, 12);
    }
    // The band between the thresholds framed; the gradient itself is drawn exactly as the cells are coloured
    // (a dimmed outer band made a cell far below relativeStepLow match no colour of the legend).
    const xLow = x(Math.log10(scale.low));
    const xHigh = x(Math.log10(scale.high));
    ctx.strokeStyle = withAlpha(theme.foreground, 0.8);
    ctx.lineWidth = 1;
    ctx.strokeRect(xLow + 0.5, 1.5, xHigh - xLow - 1, 13);
    ctx.font = `${Math.max(10, theme.fontSize - 2)}px ${theme.fontFamily}`;
    ctx.textBaseline = 'top';
    for (const [v, label, align] of [
      [scale.low, `low ${formatNumber(scale.low)}`, 'center'],
      [scale.target, `target ${formatNumber(scale.target)}`, 'center'],
      [scale.high, `high ${formatNumber(scale.high)}`, 'center'],
    ] as [number, string, CanvasTextAlign][]) {
      const px = x(Math.log10(v));
      ctx.strokeStyle = theme.foreground;
      ctx.beginPath();
      ctx.moveTo(px, 0);
      ctx.lineTo(px, 16);
      ctx.stroke();
      ctx.fillStyle = theme.foreground;
      ctx.textAlign = align;
      ctx.fillText(label, Math.min(width - 40, Math.max(40, px)), 19);
    }
    // The ends (everything further out takes the end colour), where they fit beside the threshold labels.
    ctx.fillStyle = withAlpha(theme.foreground, 0.7);
    const lowEnd = `≤ ${formatNumber(10 ** d0)}`;
    const highEnd = `≥ ${formatNumber(10 ** d1)}`;
    const half = (t: string) => ctx.measureText(t).width / 2;
    if (ctx.measureText(lowEnd).width + 6 < Math.max(40, xLow) - half(`low ${formatNumber(scale.low)}`)) {
      ctx.textAlign = 'left';
      ctx.fillText(lowEnd, 1, 19);
    }
    if (width - 1 - ctx.measureText(highEnd).width - 6 > Math.min(width - 40, xHigh) + half(`high ${formatNumber(scale.high)}`)) {
      ctx.textAlign = 'right';
      ctx.fillText(highEnd, width - 1, 19);
    }
    canvas.title = `Relative step per step, log scale: below ${formatNumber(scale.low)} (relativeStepLow) the weights barely move; above ${formatNumber(scale.high)} (relativeStepHigh) each step changes them by more than ${formatNumber(scale.high * 100)}%.`;
    this.$('#heatmap-legend')?.setAttribute('data-low', String(scale.low));
  }

  /** For a caller that wants a cell in view. */
  cellFor(layer: string): HTMLElement | null {
    return this.$(`#heatmap-body [data-layer="${cssEscape(layer)}"]`);
  }
}
