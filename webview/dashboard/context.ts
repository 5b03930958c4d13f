// The run-level signals the logs have — loss, global grad norm, the lr schedule — as small charts over
// steps: the context the per-layer figures sit in (a loss spike, a warm-up, a decay to ~0).

import type { Point } from '../charts/layerChart';
import { SignalChart, type SignalLine } from '../charts/signalChart';
import { escapeHtml } from '../format';
import { globalKeys, globalName } from './inputLog';
import { LIVE_CHART_MS } from './charts';
import { Section, Throttle } from './section';

/** The charts drawn, each with the keys it plots (first: the main line). */
const SIGNALS: { id: string; title: string; keys: string[] }[] = [
  { id: 'loss', title: 'Loss', keys: ['loss', 'evalLoss'] },
  { id: 'grad-norm', title: 'Global grad norm', keys: ['gradNorm'] },
  { id: 'lr', title: 'Learning rate', keys: ['lr'] },
];

export class ContextSection extends Section {
  private charts: SignalChart[] = [];
  private readonly redraw = new Throttle(LIVE_CHART_MS, () => this.onData());

  html(): string {
    const present = this.present();
    if (!present.length) return '';
    return `
<section class="card" id="context-card" aria-labelledby="context-heading">
  <div class="card-head"><h2 id="context-heading">Run</h2><span class="sub">run-level signals of the log</span></div>
  <div class="signals">${present
    .map(
      (s) =>
        `<div class="signal" data-signal="${s.id}"><div class="signal-title">${escapeHtml(s.title)}</div><div class="chart-box small"><canvas id="signal-${s.id}" role="img" aria-label="${escapeHtml(s.title)} over steps"></canvas></div></div>`,
    )
    .join('')}</div>
  <p class="note" id="context-note"></p>
</section>`;
  }

  override mount(): void {
    this.charts = this.present().map(
      (s, i) => new SignalChart(this.$<HTMLCanvasElement>(`#signal-${s.id}`)!, () => this.ctx.host.colors(), i),
    );
  }

  override onAppend(): void {
    this.onStep();
    this.redraw.request();
  }

  override onData(): void {
    this.redraw.done();
    const present = this.present();
    present.forEach((s, i) => this.charts[i]?.setLines(this.lines(s.keys)));
    const note = this.$('#context-note');
    if (note) {
      const drawn = new Set(present.flatMap((s) => s.keys));
      const others = globalKeys(this.ctx.model).filter((k) => !drawn.has(k));
      note.innerHTML = others.length ? `Also logged: ${others.map((k) => `<code>${escapeHtml(globalName(k))}</code>`).join(', ')}.` : '';
      note.hidden = !others.length;
    }
    this.onStep();
  }

  override onStep(): void {
    for (const c of this.charts) c.setStep(this.ctx.step);
  }

  override applyTheme(): void {
    for (const c of this.charts) c.applyTheme();
  }

  override destroy(): void {
    this.redraw.cancel();
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }

  private present(): typeof SIGNALS {
    const keys = new Set(globalKeys(this.ctx.model));
    return SIGNALS.filter((s) => keys.has(s.keys[0]));
  }

  private lines(keys: string[]): SignalLine[] {
    const out: SignalLine[] = [];
    for (const key of keys) {
      const points: Point[] = [];
      for (const g of this.ctx.model.analysis.globals) {
        const v = g.values[key];
        if (v !== undefined && Number.isFinite(v)) points.push({ x: g.step, y: v });
      }
      points.sort((a, b) => a.x - b.x);
      if (points.length) out.push({ label: globalName(key), points });
    }
    return out;
  }
}
