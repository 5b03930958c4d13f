// The dashboard's sticky header: the run at a glance (steps, lr schedule, the default report step, where
// the findings are), the optimizer in its own words (label, how it normalizes, what its lr means),
// where hyper-parameters came from, and the step control (slider and list) every section follows.

import type { RunAnalysis } from '../../src/core/analysis';
import type { InputFacts } from '../../src/shared/protocol';
import { MessageType } from '../../src/shared/protocol';
import { formatNumber, formatStep } from '../../src/shared/format';
import { escapeHtml } from '../format';
import { lrMeaningText, NORMALIZATION_TEXT } from './optimizerText';
import { Section } from './section';

export class HeaderSection extends Section {
  private slider: HTMLInputElement | null = null;
  private select: HTMLSelectElement | null = null;

  html(): string {
    const m = this.ctx.message;
    const exportButton = this.ctx.host.interactive
      ? '<vscode-button id="export-report" secondary title="Save a standalone HTML report">Export Report</vscode-button>'
      : '';
    return `
<header class="header">
  <div class="title-row">
    <h1 id="run-title" title="${escapeHtml(m.title)}">${escapeHtml(m.title)}</h1>
    ${m.live ? '<vscode-badge id="live-badge" title="The file is watched: new steps appear as it grows">live</vscode-badge>' : ''}
    <span class="spacer"></span>
    ${exportButton}
  </div>
  <div class="meta" id="run-summary"></div>
  <div class="meta" id="run-meta"></div>
  <div class="step-bar" id="step-bar">
    <label class="step-label" for="step-slider">Step</label>
    <input type="range" id="step-slider" min="0" max="0" value="0" aria-label="Step (slider over the steps with figures)">
    <select id="step-select" aria-label="Step"></select>
    <span class="step-note" id="step-note"></span>
  </div>
</header>`;
  }

  override mount(): void {
    this.slider = this.$<HTMLInputElement>('#step-slider');
    this.select = this.$<HTMLSelectElement>('#step-select');
    this.slider?.addEventListener('input', () => {
      const step = this.ctx.model.steps[Number(this.slider!.value)];
      if (step !== undefined) this.ctx.requestStep(step);
    });
    this.select?.addEventListener('change', () => this.ctx.selectStep(Number(this.select!.value)));
    this.$('#export-report')?.addEventListener('click', () => this.ctx.host.post({ type: MessageType.ExportReport }));
    this.$('#run-summary')?.addEventListener('click', (e) => {
      const a = (e.target as HTMLElement).closest<HTMLElement>('[data-goto-step]');
      if (!a) return;
      e.preventDefault();
      this.ctx.selectStep(Number(a.dataset.gotoStep));
    });
  }

  override onAppend(): void {
    // Only the new steps' options when the list is a prefix of the steps (2,000 rebuilt options were a tenth
    // of a live update's time at 291 tensors).
    const steps = this.ctx.model.steps;
    const have = this.select?.options.length ?? 0;
    const prefix = have > 0 && have <= steps.length && Number(this.select!.options[have - 1].value) === steps[have - 1];
    this.refresh(prefix ? have : 0);
  }

  override onData(): void {
    this.refresh(0);
  }

  /** Summary, optimizer line and step control; the step list keeps its first `keep` options. */
  private refresh(keep: number): void {
    const model = this.ctx.model;
    // a live update may retitle the run ("— reading, 40% so far" once the whole run is in)
    const title = this.$('#run-title');
    const text = this.ctx.message.title;
    if (title && title.textContent !== text) {
      title.textContent = text;
      title.title = text;
    }
    const summary = this.$('#run-summary');
    if (summary) summary.innerHTML = summaryHtml(model.analysis, this.ctx.message.totalSteps);
    const meta = this.$('#run-meta');
    if (meta) meta.innerHTML = this.metaHtml();
    const steps = model.steps;
    if (this.select) {
      const options = steps
        .slice(keep)
        .map((s) => `<option value="${s}">${formatStep(s)}</option>`)
        .join('');
      if (keep) this.select.insertAdjacentHTML('beforeend', options);
      else this.select.innerHTML = options;
      this.select.hidden = steps.length === 0;
    }
    if (this.slider) {
      this.slider.max = String(Math.max(0, steps.length - 1));
      this.slider.hidden = steps.length < 2;
    }
    const bar = this.$('#step-bar');
    if (bar) bar.hidden = steps.length === 0;
    this.onStep();
  }

  override onStep(): void {
    const step = this.ctx.step;
    const model = this.ctx.model;
    if (step === null) return;
    if (this.select && this.select.value !== String(step)) this.select.value = String(step);
    const i = model.indexOfStep(step);
    if (this.slider && i >= 0 && this.slider.value !== String(i)) this.slider.value = String(i);
    const note = this.$('#step-note');
    if (note) {
      const tags: string[] = [];
      if (step === model.reportStep) tags.push('the report step');
      if (step === model.analysis.summary?.lastFullStep && step !== model.reportStep) tags.push('last with full figures');
      note.textContent = `${i + 1} of ${formatStep(model.steps.length)}${tags.length ? ` · ${tags.join(', ')}` : ''}`;
    }
  }

  private metaHtml(): string {
    const r = this.ctx.model.analysis.result;
    const o = r.optimizer;
    const view = this.ctx.model.optimizer;
    const prov = provenance(o.source, this.ctx.model.facts);
    const fromSettings = (what: string) =>
      prov.fromSettings.includes(what)
        ? ' <span class="from-settings" title="From the settings optimizerLens.defaults.* (the input does not state it)">(settings)</span>'
        : '';
    const parts: string[] = [];
    const name = view.label ?? 'not stated';
    const assumed = view.assumedFrom
      ? ` <span class="from-settings" title="No input names the optimizer">(assumed: ${escapeHtml(view.assumedFrom)})</span>`
      : '';
    parts.push(
      `<span id="run-optimizer"${prov.optimizerTitle ? ` title="${escapeHtml(prov.optimizerTitle)}"` : ''}><span class="label">optimizer</span> ${escapeHtml(name)}${assumed}</span>`,
    );
    if (view.normalization)
      parts.push(`<span id="run-normalization" class="muted">${escapeHtml(NORMALIZATION_TEXT[view.normalization])}</span>`);
    parts.push(`<span><span class="label">lr</span> ${formatNumber(o.lr)}</span>`);
    if (o.betas)
      parts.push(
        `<span><span class="label">betas</span> (${o.betas.map((b) => formatNumber(b, 4)).join(', ')})${fromSettings('betas')}</span>`,
      );
    if (o.eps !== null) parts.push(`<span><span class="label">ε</span> ${formatNumber(o.eps)}${fromSettings('eps')}</span>`);
    if (o.weightDecay !== null) parts.push(`<span><span class="label">weight decay</span> ${formatNumber(o.weightDecay)}</span>`);
    if (prov.stated) parts.push(`<span><span class="label">stated in</span> ${escapeHtml(prov.stated)}</span>`);
    const line = provenanceLine(o, prov);
    const meaning =
      this.ctx.model.hasLayers || o.lr !== null ? `<p class="lr-meaning" id="run-lr-meaning">${escapeHtml(lrMeaningText(view))}</p>` : '';
    return `<div class="meta-row">${parts.join('')}</div>${line ? `<p class="provenance" id="run-provenance">${line}</p>` : ''}${meaning}`;
  }
}

/** The run at a glance: steps (and how many are shown), the lr schedule, the default report step, the findings. */
function summaryHtml(analysis: RunAnalysis, totalSteps: number | undefined): string {
  const r = analysis.result;
  const s = analysis.summary;
  const parts: string[] = [];
  const range = s?.steps ?? (r.steps.length ? { first: r.steps[0], last: r.steps[r.steps.length - 1], count: r.steps.length } : null);
  const total = totalSteps ?? range?.count ?? r.steps.length;
  const thinned = total > r.steps.length && r.steps.length > 0;
  const count = thinned
    ? `<span title="A long run is thinned for the dashboard: per bucket of steps the first one and those with the largest and smallest relative step are kept, with exact figures. The CLI reports every step.">${formatStep(r.steps.length)} of ${formatStep(total)} shown</span>`
    : formatStep(range?.count ?? r.steps.length);
  const steps = !range
    ? '<span class="label">steps</span> none with per-layer figures'
    : range.count === 1
      ? `<span class="label">step</span> ${formatStep(range.first)}`
      : `<span class="label">steps</span> ${formatStep(range.first)}–${formatStep(range.last)} (${count})`;
  parts.push(`<span id="run-steps">${steps}</span>`);
  const lr = s?.lrSchedule;
  if (lr) {
    const constant = lr.first === lr.last && lr.peak === lr.first;
    const text =
      lr.points === 1
        ? `${formatNumber(lr.peak)} at step ${formatStep(lr.peakStep)}`
        : constant
          ? `constant ${formatNumber(lr.peak)} (steps ${formatStep(lr.firstStep)}–${formatStep(lr.lastStep)})`
          : `peak ${formatNumber(lr.peak)} at step ${formatStep(lr.peakStep)}; ${formatNumber(lr.first)} at step ${formatStep(lr.firstStep)} → ${formatNumber(lr.last)} at step ${formatStep(lr.lastStep)}`;
    parts.push(`<span id="run-lr-schedule"><span class="label">lr schedule</span> ${text}</span>`);
  }
  const lastFull = s?.lastFullStep ?? null;
  if (lastFull !== null && range && range.count > 1) {
    parts.push(
      `<span id="run-last-full"><span class="label">last full step</span> <a href="#" data-goto-step="${lastFull}" title="The last step where every layer has its relative step: the dashboard opens here">${formatStep(lastFull)}</a></span>`,
    );
  }
  const findings = r.findings;
  if (findings.length) {
    const bySeverity = (sev: string) => findings.filter((f) => f.severity === sev).length;
    const counts = (['error', 'warning', 'info'] as const)
      .map((sev) => [sev, bySeverity(sev)] as const)
      .filter(([, n]) => n > 0)
      .map(([sev, n]) => `<span class="sev-${sev}">${formatNumber(n)} ${sev === 'info' ? 'info' : n > 1 ? `${sev}s` : sev}</span>`)
      .join(', ');
    const timed = findings.filter((f) => f.steps);
    const cluster = timed.length
      ? ` at steps ${formatStep(Math.min(...timed.map((f) => f.steps!.first)))}–${formatStep(Math.max(...timed.map((f) => f.steps!.last)))}`
      : '';
    parts.push(`<span id="run-findings"><span class="label">findings</span> ${counts}${cluster}</span>`);
  }
  return `<div class="meta-row">${parts.join('')}</div>`;
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

/** What the input states and what the settings filled: the host's facts; the worker's source label names where from. */
export function provenance(source: string | null | undefined, facts: InputFacts | undefined): Provenance {
  const text = source ?? '';
  const base = text.replace(/(?:\s*\+\s*)?settings defaults \([^)]*\)/, '').trim();
  const stated = base && base !== 'none' && base !== 'unknown' && base !== 'default' ? (SOURCE_NAMES[base] ?? base) : null;
  const stateRoles = facts?.stateRoles ?? [];
  const optimizerTitle = stateRoles.length ? `Optimizer state tensors in the input: ${stateRoles.join(', ')}` : null;
  return { stated, fromSettings: facts?.fromSettings ?? [], stateRoles, optimizerTitle };
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
