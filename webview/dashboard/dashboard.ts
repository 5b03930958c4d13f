// The single-run dashboard: builds the model of an analysis (model.ts) and composes the sections — header
// with the step control, lr-without-scale banner, findings, run-level signals, heatmap, the selected
// tensor, the layer table, charts, distribution of u, equivalence, reading problems. It owns the selected
// step and layer and tells every section when they change; a live-tail update refreshes the sections in
// place (the user's step, sort, filter and selection stay).

import type { ShowAnalysisMessage } from '../../src/shared/protocol';
import type { ViewHost } from '../host';
import { BannerSection } from './banner';
import { ChartsSection } from './charts';
import { ContextSection } from './context';
import { DistributionSection } from './distribution';
import { EquivalenceSection } from './equivalence';
import { FindingsSection } from './findings';
import { HeaderSection } from './header';
import { HeatmapSection, hasHeatmap } from './heatmap';
import { IssuesSection } from './issues';
import { DashboardModel } from './model';
import type { DashboardContext, Section } from './section';
import { TableSection } from './table';
import { TensorSection } from './tensor';

export class Dashboard implements DashboardContext {
  model!: DashboardModel;
  message!: ShowAnalysisMessage;
  step: number | null = null;
  layer: string | null = null;
  private sections: Section[] = [];
  private table: TableSection | null = null;
  private tensor: TensorSection | null = null;
  private signature = '';
  private pendingStep: number | null = null;
  private frame = 0;
  /** Sections below the first screen, rendered after it has been painted (null: all rendered). */
  private deferred: Section[] | null = null;
  private deferTimer = 0;
  private deferFrame = 0;

  constructor(
    readonly root: HTMLElement,
    readonly host: ViewHost,
  ) {}

  /** `appendedOnly`: a live update that only appended steps (the sections may update just what that changes). */
  render(message: ShowAnalysisMessage, { appendedOnly = false }: { appendedOnly?: boolean } = {}): void {
    const state = this.host.getState();
    // Live tail: a user looking at the newest step keeps looking at the newest step.
    const previousSteps = this.model?.steps ?? [];
    const followLatest = message.update && this.step !== null && this.step === previousSteps[previousSteps.length - 1];
    this.message = message;
    this.model = new DashboardModel(message.analysis, message.settings, message.facts);
    const wanted = message.update ? (followLatest ? null : this.step) : state.step;
    this.step = this.model.hasStep(wanted) ? wanted : this.model.defaultStep;
    if (message.update) this.host.setState({ step: this.step });
    const layer = message.update ? this.layer : (state.highlightedLayer ?? null);
    this.layer = layer !== null && this.model.infos.has(layer) ? layer : null;
    const signature = this.structure();
    if (message.update && this.sections.length && signature === this.signature) {
      this.flushDeferred();
      for (const s of this.sections)
        if (appendedOnly) s.onAppend();
        else s.onData();
      return;
    }
    this.destroy();
    this.signature = signature;
    const header = new HeaderSection(this);
    this.table = new TableSection(this);
    this.tensor = new TensorSection(this);
    const charts = new ChartsSection(this);
    const distribution = new DistributionSection(this);
    const before = [
      header,
      new BannerSection(this),
      new FindingsSection(this),
      new ContextSection(this),
      new HeatmapSection(this),
      this.tensor,
      this.table,
    ];
    const after = [new EquivalenceSection(this), new IssuesSection(this)];
    this.sections = [...before, charts, distribution, ...after];
    this.root.innerHTML = `${before.map((s) => s.html()).join('')}<div class="charts">${charts.html()}${distribution.html()}</div>${after.map((s) => s.html()).join('')}`;
    for (const s of this.sections) s.mount();
    // The first screen (header, findings, run signals, heatmap, table) first; the charts and tables below
    // it once that has been painted: on a 291-tensor run their bands and outliers are most of the work.
    const restore = !message.update && state.scrollY ? state.scrollY : 0;
    const now = restore ? this.sections : before;
    for (const s of now) s.onData();
    if (this.layer !== null) for (const s of now) s.onLayer();
    this.deferred = restore ? null : [charts, distribution, ...after];
    if (this.deferred) {
      this.root.dataset.complete = 'false';
      this.deferFrame = requestAnimationFrame(() => {
        this.deferFrame = 0;
        this.deferTimer = window.setTimeout(() => this.flushDeferred(), 0);
      });
    } else this.root.dataset.complete = 'true';
    if (restore) window.scrollTo(0, restore);
  }

  /** Render the sections below the first screen now (their time has come, or something needs them). */
  private flushDeferred(): void {
    const later = this.deferred;
    if (!later) return;
    this.deferred = null;
    window.clearTimeout(this.deferTimer);
    for (const s of later) s.onData();
    if (this.layer !== null) for (const s of later) s.onLayer();
    this.root.dataset.complete = 'true';
  }

  /** The sections that have their data (the deferred ones hear of steps and layers once rendered). */
  private live(): Section[] {
    const later = this.deferred;
    return later ? this.sections.filter((s) => !later.includes(s)) : this.sections;
  }

  selectStep(step: number, layer?: string | null): void {
    if (!this.model) return;
    const chosen = this.model.hasStep(step) ? step : this.model.nearestStep(step);
    if (chosen === null) return;
    this.pendingStep = null;
    if (chosen !== this.step) {
      this.step = chosen;
      this.host.setState({ step: chosen });
      for (const s of this.live()) s.onStep();
    }
    if (layer !== undefined) this.selectLayer(layer, { scroll: true });
  }

  requestStep(step: number): void {
    this.pendingStep = step;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const s = this.pendingStep;
      if (s !== null) this.selectStep(s);
    });
  }

  selectLayer(layer: string | null, options: { scroll?: boolean; reveal?: 'table' | 'tensor' } = {}): void {
    if (layer !== this.layer) {
      this.layer = layer;
      this.host.setState({ highlightedLayer: layer });
      for (const s of this.live()) s.onLayer();
    }
    if (layer === null) return;
    if (options.scroll || options.reveal === 'table') this.table?.reveal(layer);
    else if (options.reveal === 'tensor') this.tensor?.reveal();
  }

  applyTheme(): void {
    for (const s of this.live()) s.applyTheme();
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    cancelAnimationFrame(this.deferFrame);
    window.clearTimeout(this.deferTimer);
    this.frame = this.deferFrame = 0;
    this.deferred = null;
    for (const s of this.sections) s.destroy();
    this.sections = [];
  }

  /** What decides the page's skeleton: when a live update changes it, the page is built again. */
  private structure(): string {
    const m = this.model;
    const keys = new Set(m.analysis.globals.flatMap((g) => Object.keys(g.values)));
    return JSON.stringify([
      m.hasLayers,
      hasHeatmap(m.blocks),
      ['loss', 'gradNorm', 'lr'].filter((k) => keys.has(k)),
      m.analysis.result.findings.some((f) => f.rule === 'lr-without-scale'),
      m.analysis.result.issues.length,
      m.layerNames.length > 32,
      m.optimizer.adamLike,
      this.message.live ?? false,
    ]);
  }
}
