// The single-run dashboard: header, lr-without-scale banner, per-layer table with step selector,
// charts (relative step with threshold bands, parameter scale, distribution of u), findings linked to
// layer/step, equivalence view, reader issues. Renders only what the analysis says (null shows as —).

import type { Finding } from '../src/core/rules/types';
import type { LayerStats, UpdateDistribution } from '../src/core/engine/types';
import type { RunAnalysis } from '../src/core/analysis';
import type { SeriesFigure } from '../src/shared/series';
import type { DashboardSettings, InputFacts, ShowAnalysisMessage, WebviewState } from '../src/shared/protocol';
import { HistogramChart, LayerLineChart, logPoints } from './charts';
import { equivalentPairs, lrForTarget, median, normalizeOptimizer } from '../src/shared/equivalence';
import { escapeHtml, rawValue } from './format';
import { formatPercent, formatNumber } from '../src/shared/format';
import type { ThemeColors } from './theme';

export const TABLE_FIELDS = [
  { field: 'paramRms', label: 'Param RMS', title: 'RMS of the parameter the step consumed (its scale)' },
  { field: 'gradRms', label: 'Grad RMS', title: 'RMS of the gradient the step consumed' },
  { field: 'adamUpdateRms', label: 'RMS(u)', title: "RMS of Adam's normalized update u = m̂/(√v̂+ε)" },
  { field: 'relStep', label: 'Rel. step', title: 'Measured relative step RMS(Δp)/RMS(p)' },
  { field: 'relStepPredicted', label: 'Predicted', title: 'Relative step predicted from optimizer state: RMS(lr·u)/RMS(p)' },
  { field: 'epsDominatedFraction', label: 'ε-dominated', title: 'Fraction of elements with √v̂ < ε' },
] as const;
export type TableField = (typeof TABLE_FIELDS)[number]['field'];

export interface DashboardHost {
  post(message: { type: string; [k: string]: unknown }): void;
  getState(): WebviewState;
  setState(patch: Partial<WebviewState>): void;
  colors(): ThemeColors;
  /** False in an exported report (no extension host to answer). */
  interactive: boolean;
}

const SEVERITY_ORDER: Record<string, number> = { error: 0, warning: 1, info: 2 };

export class Dashboard {
  private analysis!: RunAnalysis;
  private settings!: DashboardSettings;
  private step: number | null = null;
  private relChart: LayerLineChart | null = null;
  private scaleChart: LayerLineChart | null = null;
  private uChart: HistogramChart | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: DashboardHost,
  ) {}

  render(message: ShowAnalysisMessage): void {
    const state = this.host.getState();
    // Live tail: a user looking at the newest step keeps looking at the newest step.
    const previousSteps = this.analysis?.result.steps ?? [];
    const followLatest = message.update && this.step !== null && this.step === previousSteps[previousSteps.length - 1];
    this.analysis = message.analysis;
    this.settings = message.settings;
    const steps = this.analysis.result.steps;
    const wanted = message.update ? (followLatest ? null : this.step) : state.step;
    this.step = wanted !== null && wanted !== undefined && steps.includes(wanted) ? wanted : this.defaultStep();
    if (message.update) this.host.setState({ step: this.step });
    if (message.update && this.relChart) {
      this.refreshAll(message);
      return;
    }
    this.destroyCharts();
    this.root.innerHTML = this.skeleton(message);
    this.bindStatic();
    this.relChart = new LayerLineChart(this.canvas('chart-rel-step'), () => this.host.colors(), 'relative step per step', {
      bands: { high: this.settings.thresholds.relativeStepHigh, low: this.settings.thresholds.relativeStepLow },
    });
    this.scaleChart = new LayerLineChart(this.canvas('chart-param-scale'), () => this.host.colors(), 'parameter RMS');
    this.uChart = new HistogramChart(this.canvas('chart-u-dist'), () => this.host.colors(), 'u = m̂/(√v̂+ε)');
    this.refreshAll(message);
    if (state.highlightedLayer) this.highlightLayer(state.highlightedLayer, false);
    if (state.scrollY) window.scrollTo(0, state.scrollY);
  }

  /** Select a step (step selector, a finding, or the host); optionally highlight a layer's row. */
  selectStep(step: number, layer?: string | null): void {
    if (!this.analysis) return;
    const steps = this.analysis.result.steps;
    const chosen = steps.includes(step) ? step : nearest(steps, step);
    if (chosen === null) return;
    this.step = chosen;
    this.host.setState({ step: chosen });
    const select = this.root.querySelector<HTMLSelectElement>('#step-select');
    if (select) select.value = String(chosen);
    this.renderTableBody();
    this.renderDistribution();
    this.renderTargetLr();
    this.relChart?.setMarks({ step: chosen });
    this.scaleChart?.setMarks({ step: chosen });
    if (layer !== undefined) this.highlightLayer(layer ?? null, true);
  }

  highlightLayer(layer: string | null, scroll: boolean): void {
    this.host.setState({ highlightedLayer: layer });
    for (const row of this.root.querySelectorAll('#layer-table tbody tr')) {
      row.classList.toggle('highlight', layer !== null && row.getAttribute('data-layer') === layer);
    }
    this.relChart?.setMarks({ layer });
    this.scaleChart?.setMarks({ layer });
    if (layer !== null) {
      const select = this.root.querySelector<HTMLSelectElement>('#u-layer-select');
      if (select && [...select.options].some((o) => o.value === layer)) {
        select.value = layer;
        this.host.setState({ distributionLayer: layer });
        this.renderDistribution();
      }
      if (scroll) {
        const row = this.root.querySelector(`#layer-table tr[data-layer="${cssEscape(layer)}"]`);
        row?.scrollIntoView({ block: 'nearest' });
      }
    }
  }

  applyTheme(): void {
    const theme = this.host.colors();
    this.relChart?.applyTheme(theme);
    this.scaleChart?.applyTheme(theme);
    this.uChart?.applyTheme(theme);
  }

  destroyCharts(): void {
    this.relChart?.destroy();
    this.scaleChart?.destroy();
    this.uChart?.destroy();
    this.relChart = this.scaleChart = this.uChart = null;
  }

  // ---- rendering ------------------------------------------------------------------------------

  private defaultStep(): number | null {
    const r = this.analysis.result;
    return r.step ?? (r.steps.length ? r.steps[r.steps.length - 1] : null);
  }

  private canvas(id: string): HTMLCanvasElement {
    return this.root.querySelector<HTMLCanvasElement>(`#${id}`)!;
  }

  private metaHtml(message: ShowAnalysisMessage): string {
    const r = this.analysis.result;
    const o = r.optimizer;
    const prov = provenance(o.source, message.facts);
    const fromSettings = (what: string) =>
      prov.fromSettings.includes(what)
        ? ' <span class="from-settings" title="From the settings optimizerLens.defaults.* (the input does not state it)">(settings)</span>'
        : '';
    const meta: string[] = [];
    meta.push(
      `<span id="run-optimizer"${prov.optimizerTitle ? ` title="${escapeHtml(prov.optimizerTitle)}"` : ''}><span class="label">optimizer</span> ${escapeHtml(optimizerName(o.type, prov.stateRoles))}</span>`,
    );
    meta.push(`<span><span class="label">lr</span> ${formatNumber(o.lr)}</span>`);
    if (o.betas)
      meta.push(
        `<span><span class="label">betas</span> (${o.betas.map((b) => formatNumber(b, 4)).join(', ')})${fromSettings('betas')}</span>`,
      );
    if (o.eps !== null) meta.push(`<span><span class="label">ε</span> ${formatNumber(o.eps)}${fromSettings('eps')}</span>`);
    if (o.weightDecay !== null) meta.push(`<span><span class="label">weight decay</span> ${formatNumber(o.weightDecay)}</span>`);
    if (prov.stated) meta.push(`<span><span class="label">stated in</span> ${escapeHtml(prov.stated)}</span>`);
    const thinned = message.totalSteps !== undefined && message.totalSteps > r.steps.length;
    const count = thinned
      ? `<span title="A long run is thinned for the dashboard: per bucket of steps the first one and those with the largest and smallest relative step are kept, with exact figures. The CLI reports every step.">${r.steps.length.toLocaleString('en-US')} of ${message.totalSteps!.toLocaleString('en-US')} shown</span>`
      : r.steps.length.toLocaleString('en-US');
    const steps =
      r.steps.length === 0
        ? '<span class="label">steps</span> none with per-layer figures'
        : r.steps.length === 1
          ? `<span class="label">step</span> ${r.steps[0]}`
          : `<span class="label">steps</span> ${r.steps[0]}–${r.steps[r.steps.length - 1]} (${count})`;
    meta.push(`<span id="run-steps">${steps}</span>`);
    const line = provenanceLine(o, prov);
    return `<div class="meta-row">${meta.join('')}</div>${line ? `<p class="provenance" id="run-provenance">${line}</p>` : ''}`;
  }

  private skeleton(message: ShowAnalysisMessage): string {
    const r = this.analysis.result;
    const inputs = r.inputs.map((i) => `<li><code>${escapeHtml(i.format)}</code> ${escapeHtml(i.path)}</li>`).join('');
    const exportButton = this.host.interactive
      ? '<vscode-button id="export-report" secondary title="Save a standalone HTML report">Export Report</vscode-button>'
      : '';
    return `
<header class="header">
  <div class="title-row">
    <h1 id="run-title" title="${escapeHtml(message.title)}">${escapeHtml(message.title)}</h1>
    ${message.live ? '<vscode-badge id="live-badge" title="The file is watched: new steps appear as it grows">live</vscode-badge>' : ''}
    <span class="spacer"></span>
    ${exportButton}
  </div>
  <div class="meta" id="run-meta">${this.metaHtml(message)}</div>
</header>
${this.bannerHtml()}
<section class="card" id="layers-card" aria-labelledby="layers-heading">
  <div class="card-head">
    <h2 id="layers-heading">Layers</h2>
    <span class="spacer"></span>
    <label class="step-label" for="step-select"${r.steps.length ? '' : ' hidden'}>Step</label>
    <select id="step-select"${r.steps.length ? '' : ' hidden'}>${r.steps.map((s) => `<option value="${s}">${s}</option>`).join('')}</select>
  </div>
  <div class="table-wrap"><table id="layer-table">
    <thead><tr>
      <th data-sort="name" class="name-col">Layer</th>
      <th class="shape-col">Shape</th>
      ${TABLE_FIELDS.map((f) => `<th data-sort="${f.field}" class="num" title="${escapeHtml(f.title)}">${escapeHtml(f.label)}</th>`).join('')}
      <th class="flag-col" data-sort="findings">Findings</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
  <p class="note" id="table-note"></p>
</section>
<div class="charts">
  <section class="card chart-card">
    <div class="card-head"><h2>Relative step per layer</h2></div>
    <div class="chart-box"><canvas id="chart-rel-step" role="img" aria-label="Relative step per layer over steps"></canvas></div>
    <p class="note">Shaded: above <code>relativeStepHigh</code> ${formatNumber(this.settings.thresholds.relativeStepHigh)} and below <code>relativeStepLow</code> ${formatNumber(this.settings.thresholds.relativeStepLow)}.</p>
  </section>
  <section class="card chart-card">
    <div class="card-head"><h2>Parameter scale per layer</h2></div>
    <div class="chart-box"><canvas id="chart-param-scale" role="img" aria-label="Parameter RMS per layer over steps"></canvas></div>
    <p class="note">RMS of each parameter tensor; zero-initialised tensors appear once they are non-zero.</p>
  </section>
  <section class="card chart-card" id="u-dist-card">
    <div class="card-head"><h2>Distribution of u</h2><span class="spacer"></span>
      <select id="u-layer-select" aria-label="Layer"></select></div>
    <div class="chart-box"><canvas id="chart-u-dist" role="img" aria-label="Histogram of Adam's normalized update"></canvas></div>
    <p class="note" id="u-dist-note"></p>
  </section>
</div>
<section class="card" aria-labelledby="findings-heading">
  <div class="card-head"><h2 id="findings-heading">Findings</h2> <vscode-badge id="findings-count" variant="counter">0</vscode-badge></div>
  <ul id="findings"></ul>
</section>
<section class="card" id="equivalence" aria-labelledby="equivalence-heading">
  <div class="card-head"><h2 id="equivalence-heading">Equivalent learning rates</h2></div>
  <div id="equivalence-pairs"></div>
  <h3 class="per-layer">lr per layer for a relative step of <span id="target-rel-step">${formatNumber(this.settings.targetRelativeStep)}</span></h3>
  <div class="table-wrap per-layer"><table id="target-lr-table" class="compact"><thead><tr>
    <th>Layer</th><th class="num">Param RMS</th><th class="num">Rel. step</th><th class="num">lr for target</th><th>Basis</th>
  </tr></thead><tbody></tbody></table></div>
  <p class="note per-layer">Setting <code>optimizerLens.targetRelativeStep</code>. “measured”: lr × target ÷ measured relative step at the selected step; “RMS(u)”: target × param RMS ÷ RMS(u); “u ≈ 1”: target × param RMS (early training only).</p>
</section>
${this.issuesHtml()}
<section class="card inputs"><div class="card-head"><h2>Inputs</h2></div><ul class="input-list">${inputs}</ul></section>`;
  }

  private bannerHtml(): string {
    const finding = this.analysis.result.findings.find((f) => f.rule === 'lr-without-scale');
    if (!finding) return '';
    const button = this.host.interactive ? '<vscode-button id="banner-insert-snippet">Insert Logging Snippet</vscode-button>' : '';
    return `
<div id="lr-without-scale-banner" class="banner warning" role="alert" data-rule="lr-without-scale">
  <div class="banner-icon" aria-hidden="true">⚠</div>
  <div class="banner-body">
    <strong>A learning rate without a parameter scale.</strong>
    <p>${escapeHtml(finding.message)}</p>
    <p>Under Adam an lr is the absolute step per weight (≈ lr while |u| ≈ 1); only next to the weights' scale does it say how fast they change (relative step ≈ lr × RMS(u) ÷ RMS(p)). To make it meaningful, <strong>log per-layer parameter RMS</strong> (and grad/update RMS) — the logging snippet writes them — or <strong>state the init scale</strong> (e.g. <code>init_std: 0.02</code>) next to the lr.</p>
  </div>
  ${button}
</div>`;
  }

  private issuesHtml(): string {
    const issues = this.analysis.result.issues;
    if (!issues.length) return '';
    const items = issues
      .map((i) => {
        const where = i.line !== undefined ? `:${i.line}` : i.offset !== undefined ? ` @ byte ${i.offset}` : '';
        return `<li class="sev-${i.severity}" data-path="${escapeHtml(i.path)}" data-line="${i.line ?? ''}"><span class="sev-dot" aria-hidden="true"></span><span class="issue-where">${escapeHtml(baseName(i.path) + where)}</span> ${escapeHtml(i.message)}</li>`;
      })
      .join('');
    return `<section class="card" id="issues-card"><vscode-collapsible heading="Reading problems (${issues.length})" ${issues.length <= 5 ? 'open' : ''}><ul id="read-issues">${items}</ul></vscode-collapsible></section>`;
  }

  private bindStatic(): void {
    const select = this.root.querySelector<HTMLSelectElement>('#step-select')!;
    if (this.step !== null) select.value = String(this.step);
    select.addEventListener('change', () => this.selectStep(Number(select.value)));
    for (const th of this.root.querySelectorAll<HTMLElement>('#layer-table th[data-sort]')) {
      th.tabIndex = 0;
      const toggle = () => this.toggleSort(th.dataset.sort!);
      th.addEventListener('click', toggle);
      th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), toggle()));
    }
    this.root.querySelector('#layer-table tbody')!.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('tr[data-layer]');
      if (!row) return;
      const layer = row.getAttribute('data-layer');
      this.highlightLayer(row.classList.contains('highlight') ? null : layer, false);
    });
    this.root.querySelector('#export-report')?.addEventListener('click', () => this.host.post({ type: 'exportReport' }));
    this.root.querySelector('#banner-insert-snippet')?.addEventListener('click', () => this.host.post({ type: 'insertLoggingSnippet' }));
    for (const card of this.root.querySelectorAll('.chart-card')) {
      card.addEventListener('click', (e) => {
        if (!(e.target as HTMLElement).closest('.insert-snippet-link')) return;
        e.preventDefault();
        this.host.post({ type: 'insertLoggingSnippet' });
      });
    }
    this.root.querySelector('#findings')!.addEventListener('click', (e) => this.onFindingActivated(e));
    this.root.querySelector('#findings')!.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') this.onFindingActivated(e);
    });
    for (const li of this.root.querySelectorAll<HTMLElement>('#read-issues li[data-path]')) {
      if (!this.host.interactive) continue;
      li.classList.add('link');
      li.addEventListener('click', () =>
        this.host.post({ type: 'openFile', path: li.dataset.path!, line: li.dataset.line ? Number(li.dataset.line) : undefined }),
      );
    }
    const uSelect = this.root.querySelector<HTMLSelectElement>('#u-layer-select')!;
    uSelect.addEventListener('change', () => {
      this.host.setState({ distributionLayer: uSelect.value });
      this.renderDistribution();
    });
  }

  private onFindingActivated(e: Event): void {
    const li = (e.target as HTMLElement).closest<HTMLElement>('li[data-rule]');
    if (!li) return;
    e.preventDefault();
    for (const other of this.root.querySelectorAll('#findings li.selected')) other.classList.remove('selected');
    li.classList.add('selected');
    const step = li.dataset.step ? Number(li.dataset.step) : null;
    const layer = li.dataset.layer || null;
    if (step !== null) this.selectStep(step, layer);
    else if (layer) this.highlightLayer(layer, true);
  }

  private toggleSort(field: string): void {
    const state = this.host.getState();
    const dir = state.sortField === field && state.sortDir === 'asc' ? 'desc' : 'asc';
    this.host.setState({ sortField: field, sortDir: dir });
    this.renderTableBody();
  }

  private refreshAll(message: ShowAnalysisMessage): void {
    const r = this.analysis.result;
    if (message.update) {
      const meta = this.root.querySelector('#run-meta');
      if (meta) meta.innerHTML = this.metaHtml(message);
      const select = this.root.querySelector<HTMLSelectElement>('#step-select');
      if (select) {
        select.innerHTML = r.steps.map((s) => `<option value="${s}">${s}</option>`).join('');
        if (this.step !== null) select.value = String(this.step);
        select.hidden = r.steps.length === 0;
        const label = this.root.querySelector<HTMLElement>('.step-label');
        if (label) label.hidden = r.steps.length === 0;
      }
    }
    this.renderTableBody();
    this.renderFindings();
    this.renderCharts();
    this.renderDistributionLayers();
    this.renderDistribution();
    this.renderEquivalence();
    this.renderTargetLr();
  }

  /** Figures of every layer at the selected step (the report step uses result.layers, others the series). */
  layersAt(step: number | null): (LayerStats & { findings: Finding[] })[] {
    const r = this.analysis.result;
    const findingsByLayer = new Map<string, Finding[]>();
    for (const f of r.findings) {
      // A grouped finding flags each of its layers at the steps that layer's range covers.
      const perLayer = (f.evidence as { perLayer?: { layer: string; first: number; last: number }[] }).perLayer;
      const covered = perLayer
        ? perLayer.filter((p) => step !== null && p.first <= step && step <= p.last).map((p) => p.layer)
        : f.layer !== null && (f.step === null || f.step === step)
          ? [f.layer]
          : [];
      for (const layer of covered) findingsByLayer.set(layer, [...(findingsByLayer.get(layer) ?? []), f]);
    }
    const seriesByLayer = new Map(this.analysis.series.map((s) => [s.layer, s]));
    return r.layers.map((layer) => {
      let figures: LayerStats = layer;
      if (step !== null && step !== r.step) {
        const s = seriesByLayer.get(layer.name);
        const i = s ? s.steps.indexOf(step) : -1;
        const at = (f: SeriesFigure) => (s && i >= 0 ? (s.figures[f]?.[i] ?? null) : null);
        figures = {
          ...layer,
          paramRms: at('paramRms'),
          gradRms: at('gradRms'),
          updateRms: at('updateRms'),
          relStep: at('relStep'),
          adamUpdateRms: at('adamUpdateRms'),
          relStepPredicted: at('relStepPredicted'),
          epsDominatedFraction: at('epsDominatedFraction'),
          directionRms: at('directionRms'),
          zeroSecondMomentFraction: at('zeroSecondMomentFraction'),
        };
      }
      return { ...figures, findings: findingsByLayer.get(layer.name) ?? [] };
    });
  }

  private renderTableBody(): void {
    const tbody = this.root.querySelector('#layer-table tbody');
    if (!tbody) return;
    const state = this.host.getState();
    const rows = this.layersAt(this.step);
    const order = rows.map((_, i) => i);
    const field = state.sortField ?? null;
    if (field) {
      const sign = state.sortDir === 'desc' ? -1 : 1;
      const key = (i: number): number | string | null => {
        const row = rows[i];
        if (field === 'name') return row.name;
        if (field === 'findings') return row.findings.length;
        return (row as unknown as Record<string, number | null>)[field] ?? null;
      };
      order.sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        if (ka === null && kb === null) return a - b;
        if (ka === null) return 1; // unknown values last in both directions
        if (kb === null) return -1;
        if (typeof ka === 'string' || typeof kb === 'string') return sign * String(ka).localeCompare(String(kb));
        return sign * (ka - kb) || a - b;
      });
    }
    for (const th of this.root.querySelectorAll<HTMLElement>('#layer-table th[data-sort]')) {
      const sorted = th.dataset.sort === field;
      th.setAttribute('aria-sort', sorted ? (state.sortDir === 'desc' ? 'descending' : 'ascending') : 'none');
    }
    const t = this.settings.thresholds;
    const highlighted = state.highlightedLayer ?? null;
    tbody.innerHTML = order
      .map((i) => {
        const row = rows[i];
        const cells = TABLE_FIELDS.map(({ field: f }) => {
          const v = row[f] ?? null;
          let cls = 'num';
          if ((f === 'relStep' || f === 'relStepPredicted') && v !== null) {
            if (v > t.relativeStepHigh) cls += ' high';
            else if (v < t.relativeStepLow) cls += ' low';
          }
          if (f === 'epsDominatedFraction' && v !== null && v > t.epsDominatedFraction) cls += ' high';
          const text = f === 'epsDominatedFraction' ? formatPercent(v) : formatNumber(v);
          const prov = row.provenance?.[f];
          return `<td data-field="${f}" data-value="${rawValue(v)}" class="${cls}"${prov ? ` title="from ${escapeHtml(prov)}"` : ''}>${text}</td>`;
        }).join('');
        const worst = row.findings.reduce<string | null>(
          (acc, f) => (acc === null || SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[acc] ? f.severity : acc),
          null,
        );
        const flag = row.findings.length
          ? `<span class="flag sev-${worst}" title="${escapeHtml(row.findings.map((f) => f.rule).join(', '))}">${row.findings.length}</span>`
          : '';
        const shape = row.shape ? `[${row.shape.join(', ')}]` : '';
        return `<tr data-layer="${escapeHtml(row.name)}"${row.name === highlighted ? ' class="highlight"' : ''}><th scope="row" class="name-col" title="${escapeHtml(row.name)}">${escapeHtml(row.name)}</th><td class="shape-col">${shape}</td>${cells}<td class="flag-col">${flag}</td></tr>`;
      })
      .join('');
    const note = this.root.querySelector('#table-note');
    if (note) {
      const r = this.analysis.result;
      if (!rows.length) {
        note.innerHTML = `No per-layer figures in this input: it logs ${this.loggedSummary()}.`;
      } else {
        note.textContent =
          this.step === null
            ? 'No step with per-layer figures in this input.'
            : `Step ${this.step}${this.step === r.step ? ' (the report step)' : ''}. — means the input does not state the figure.`;
      }
    }
    this.root.querySelector('#layers-card')?.classList.toggle('is-empty', !rows.length);
  }

  private renderFindings(): void {
    const list = this.root.querySelector('#findings')!;
    const findings = [...this.analysis.result.findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
    const count = this.root.querySelector('#findings-count');
    if (count) count.textContent = String(findings.length);
    if (!findings.length) {
      list.innerHTML = '<li class="empty">No findings: every rule passed at its threshold.</li>';
      return;
    }
    list.innerHTML = findings
      .map((f) => {
        const target = findingTarget(f);
        const where = [
          f.layers && f.layers.length > 1 ? `${f.layers.length} layers` : target ? `<code>${escapeHtml(target)}</code>` : 'all layers',
          f.step !== null ? `step ${f.step}` : '',
        ]
          .filter(Boolean)
          .join(' · ');
        return `<li data-rule="${escapeHtml(f.rule)}" data-severity="${f.severity}" data-layer="${escapeHtml(target ?? '')}" data-step="${f.step ?? ''}" tabindex="0" role="button" class="sev-${f.severity}">
  <span class="sev-dot" aria-hidden="true"></span>
  <span class="finding-rule">${escapeHtml(f.rule)}</span>
  <span class="finding-message">${escapeHtml(f.message)}</span>
  <span class="finding-where">${where}</span>
</li>`;
      })
      .join('');
  }

  private renderCharts(): void {
    const series = this.analysis.series;
    const order = new Map(this.analysis.result.layers.map((l, i) => [l.name, i]));
    const sorted = [...series].sort((a, b) => (order.get(a.layer) ?? 1e9) - (order.get(b.layer) ?? 1e9));
    const relLines = sorted.map((s) => ({ layer: s.layer, points: logPoints(s.steps, s.figures.relStep ?? []) }));
    const scaleLines = sorted.map((s) => ({ layer: s.layer, points: logPoints(s.steps, s.figures.paramRms ?? []) }));
    this.relChart?.setLines(relLines);
    this.scaleChart?.setLines(scaleLines);
    const noLayers = this.analysis.result.layers.length === 0 && series.length === 0;
    const logged = this.loggedSummary();
    const snippet = this.host.interactive
      ? ' <a href="#" class="insert-snippet-link">Insert Logging Snippet</a> to log them.'
      : ' The logging snippet (Insert Logging Snippet) logs them.';
    this.markEmpty(
      'chart-rel-step',
      relLines.every((l) => l.points.length === 0),
      noLayers
        ? `No per-layer relative steps in this input: it logs only ${logged}.${snippet}`
        : 'No relative steps in this input: they need the update RMS next to the parameter RMS per layer, or parameter tensors at consecutive steps.',
    );
    this.markEmpty(
      'chart-param-scale',
      scaleLines.every((l) => l.points.length === 0),
      noLayers
        ? `No per-layer parameter scale in this input: it logs only ${logged}.${snippet}`
        : 'No parameter scale in this input: log per-layer parameter RMS, or open a checkpoint.',
    );
    this.relChart?.setMarks({ step: this.step });
    this.scaleChart?.setMarks({ step: this.step });
  }

  /** What a log without per-layer figures does record ("loss, lr, grad norm"), as HTML. */
  private loggedSummary(): string {
    const names: Record<string, string> = {
      gradNorm: 'grad norm',
      learning_rate: 'lr',
      evalAcc: 'eval accuracy',
      batchAcc: 'batch accuracy',
    };
    const keys: string[] = [];
    for (const g of this.analysis.globals) for (const k of Object.keys(g.values)) if (!keys.includes(k)) keys.push(k);
    if (!keys.length) return 'run-level figures';
    const shown = keys.slice(0, 6).map((k) => `<code>${escapeHtml(names[k] ?? k)}</code>`);
    return `${shown.join(', ')}${keys.length > 6 ? ` and ${keys.length - 6} more` : ''} for the whole run`;
  }

  private markEmpty(canvasId: string, empty: boolean, html: string): void {
    const box = this.canvas(canvasId)?.closest('.chart-box');
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

  private renderDistributionLayers(): void {
    const select = this.root.querySelector<HTMLSelectElement>('#u-layer-select');
    if (!select) return;
    const layers = [...new Set(this.analysis.distributions.map((d) => d.layer))];
    const previous = select.value || this.host.getState().distributionLayer || null;
    select.innerHTML = layers.map((l) => `<option value="${escapeHtml(l)}">${escapeHtml(l)}</option>`).join('');
    select.hidden = layers.length === 0;
    if (previous && layers.includes(previous)) select.value = previous;
  }

  private renderDistribution(): void {
    const note = this.root.querySelector('#u-dist-note');
    const box = this.root.querySelector<HTMLElement>('#u-dist-card .chart-box');
    const dists = this.analysis.distributions;
    if (!dists.length) {
      this.uChart?.setData(null);
      box?.classList.add('empty');
      if (note)
        note.textContent =
          'Needs tensors: the distribution of u comes from optimizer state (exp_avg, exp_avg_sq) in a checkpoint or tensor dump. Open one to see it.';
      return;
    }
    box?.classList.remove('empty');
    const select = this.root.querySelector<HTMLSelectElement>('#u-layer-select');
    const layer = select?.value || dists[0].layer;
    const forLayer = dists.filter((d) => d.layer === layer).sort((a, b) => a.step - b.step);
    const step = this.step;
    let chosen: UpdateDistribution | undefined = forLayer.find((d) => d.step === step);
    if (!chosen) chosen = [...forLayer].reverse().find((d) => step === null || d.step <= step) ?? forLayer[0];
    this.uChart?.setData(chosen ?? null);
    if (note && chosen) {
      const total = chosen.counts.reduce((a, b) => a + b, 0);
      const available = forLayer.map((d) => d.step).join(', ');
      note.textContent = `${chosen.layer} at step ${chosen.step} (${total} elements; tensors at steps ${available}).`;
    }
  }

  private runLr(): number | null {
    const lr = this.analysis.result.optimizer.lr;
    if (lr !== null) return lr;
    const step = this.step;
    const g = this.analysis.globals.find((x) => x.step === step) ?? this.analysis.globals[this.analysis.globals.length - 1];
    const v = g?.values.lr ?? g?.values.learning_rate;
    return typeof v === 'number' ? v : null;
  }

  private renderEquivalence(): void {
    const el = this.root.querySelector('#equivalence-pairs');
    if (!el) return;
    const r = this.analysis.result;
    const optimizer = normalizeOptimizer(r.optimizer.type);
    const lr = this.runLr();
    const layers = this.layersAt(r.step);
    const scale = median(layers.map((l) => (l.paramRms !== null && l.paramRms > 0 ? l.paramRms : null)));
    const rel = median(layers.map((l) => l.relStep));
    if (lr === null || scale === null) {
      el.innerHTML = `<p class="note">${
        lr === null ? 'The input states no learning rate' : 'The input states no parameter scale'
      }: equivalent (lr, scale) pairs need both. ${scale === null ? 'Log per-layer parameter RMS or open a checkpoint.' : ''}</p>`;
      return;
    }
    const eps = r.optimizer.eps ?? (optimizer === 'sgd' ? null : this.settings.defaultEps);
    const pairs = equivalentPairs(lr, scale, eps, optimizer);
    const sgd = optimizer === 'sgd';
    el.innerHTML = `<p>These (lr, scale${sgd ? '' : ', ε'}) settings train exactly alike: the same relative step per step${
      rel !== null ? ` (median over layers at step ${r.step}: <strong>${formatNumber(rel)}</strong>)` : ''
    }. Scale = median parameter RMS at step ${r.step}. ${
      sgd
        ? 'SGD: lr scales with k² (its step is lr × gradient, and the gradient of k·p is g/k).'
        : 'Adam: multiply lr and scale by the same k and divide ε by it (the gradient of k·p is g/k, so √v̂ shrinks by k).'
    }</p>
<table class="compact" id="equivalence-table"><thead><tr><th class="num">k</th><th class="num">lr</th><th class="num">scale</th>${
      sgd ? '' : '<th class="num">ε</th>'
    }</tr></thead><tbody>${pairs
      .map(
        (p) =>
          `<tr${p.k === 1 ? ' class="current"' : ''}><td class="num">${p.k === 1 ? 'this run' : `×${formatNumber(p.k)}`}</td><td class="num" data-value="${p.lr}">${formatNumber(p.lr)}</td><td class="num" data-value="${p.scale}">${formatNumber(p.scale)}</td>${
            sgd ? '' : `<td class="num" data-value="${rawValue(p.eps)}">${formatNumber(p.eps)}</td>`
          }</tr>`,
      )
      .join('')}</tbody></table>`;
  }

  private renderTargetLr(): void {
    const tbody = this.root.querySelector('#target-lr-table tbody');
    if (!tbody) return;
    // Nothing per layer (a log of run-level figures): no empty table under its heading.
    this.root.querySelector('#equivalence')?.classList.toggle('no-layers', this.analysis.result.layers.length === 0);
    const optimizer = normalizeOptimizer(this.analysis.result.optimizer.type);
    const lr = this.runLr();
    const target = this.settings.targetRelativeStep;
    const basisText: Record<string, string> = { measured: 'measured', 'rms-u': 'RMS(u)', 'u-approx-1': 'u ≈ 1' };
    tbody.innerHTML = this.layersAt(this.step)
      .map((l) => {
        const t = lrForTarget(l, lr, target, optimizer);
        return `<tr data-layer="${escapeHtml(l.name)}"><th scope="row">${escapeHtml(l.name)}</th><td class="num">${formatNumber(l.paramRms)}</td><td class="num">${formatNumber(l.relStep)}</td><td class="num" data-field="lrForTarget" data-value="${rawValue(t.lr)}">${formatNumber(t.lr)}</td><td class="basis">${t.basis ? basisText[t.basis] : '—'}</td></tr>`;
      })
      .join('');
  }
}

function nearest(steps: number[], step: number): number | null {
  let best: number | null = null;
  for (const s of steps) if (best === null || Math.abs(s - step) < Math.abs(best - step)) best = s;
  return best;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function cssEscape(text: string): string {
  return typeof CSS !== 'undefined' && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, '\\$&');
}

interface Provenance {
  /** Where the input states its hyper-parameters ("the log", "the checkpoint"), or null. */
  stated: string | null;
  /** Hyper-parameters the extension took from its settings. */
  fromSettings: string[];
  stateRoles: string[];
  optimizerTitle: string | null;
}

const SOURCE_NAMES: Record<string, string> = {
  log: 'the log',
  checkpoint: 'the checkpoint',
  cli: 'command-line options',
  config: 'the config',
  mixed: 'several inputs',
};

/** Splits the worker's source ("log + settings defaults (betas, eps)") into what the input states and what the settings filled. */
export function provenance(source: string | null | undefined, facts: InputFacts | undefined): Provenance {
  const text = source ?? '';
  const m = /settings defaults \(([^)]*)\)/.exec(text);
  const fromSettings = facts?.fromSettings?.length ? facts.fromSettings : m ? m[1].split(/,\s*/).filter(Boolean) : [];
  const base = text.replace(/(?:\s*\+\s*)?settings defaults \([^)]*\)/, '').trim();
  const stated = base && base !== 'none' && base !== 'unknown' ? (SOURCE_NAMES[base] ?? base) : null;
  const stateRoles = facts?.stateRoles ?? [];
  const optimizerTitle = stateRoles.length ? `Optimizer state tensors in the input: ${stateRoles.join(', ')}` : null;
  return { stated, fromSettings, stateRoles, optimizerTitle };
}

/** The optimizer as the header names it: the stated class, else what its state tensors show. */
export function optimizerName(type: string | null, stateRoles: string[]): string {
  if (type) {
    const names: Record<string, string> = { adam: 'Adam', adamw: 'AdamW', sgd: 'SGD' };
    return names[type.toLowerCase()] ?? type;
  }
  if (stateRoles.includes('exp_avg') && stateRoles.includes('exp_avg_sq')) return 'Adam-family (class not stated)';
  if (stateRoles.includes('momentum_buffer')) return 'SGD with momentum (class not stated)';
  return 'not stated';
}

/** One sentence under the header when some figures are inferred or come from the settings. */
function provenanceLine(o: RunAnalysis['result']['optimizer'], p: Provenance): string {
  const parts: string[] = [];
  // A stated optimizer needs no word about its state tensors unless the settings filled something.
  if (p.stateRoles.length && (!o.type || p.fromSettings.length)) {
    const adam = p.stateRoles.includes('exp_avg') && p.stateRoles.includes('exp_avg_sq');
    parts.push(
      `${adam ? 'Adam state found' : 'Optimizer state found'} (${p.stateRoles.map((r) => `<code>${escapeHtml(r)}</code>`).join(', ')})`,
    );
  }
  if (p.fromSettings.length) {
    const what: string[] = [];
    if (p.fromSettings.includes('betas') && o.betas) what.push(`betas ${o.betas.map((b) => formatNumber(b, 4)).join(', ')}`);
    if (p.fromSettings.includes('eps') && o.eps !== null) what.push(`ε ${formatNumber(o.eps)}`);
    if (what.length)
      parts.push(
        `${what.join(' and ')} from settings (the ${p.stateRoles.length ? 'file does' : 'inputs do'} not state ${what.length > 1 ? 'them' : 'it'})`,
      );
  }
  return parts.length ? `${parts.join('; ')}.` : '';
}

/** The layer a click on a finding highlights: its own layer, or a grouped finding's most extreme one. */
function findingTarget(f: Finding): string | null {
  const worst = (f.evidence as { worst?: { layer?: unknown } }).worst;
  return f.layer ?? (typeof worst?.layer === 'string' ? worst.layer : (f.layers?.[0] ?? null));
}
