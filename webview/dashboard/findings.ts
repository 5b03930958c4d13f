// The findings, as the rules group them: one per rule and cause, with the layers it holds for (listed by
// block, each a link to that tensor), the steps it holds at, and the cause (the lr schedule near zero).
// A click selects the finding's step and its most extreme layer.

import type { Finding } from '../../src/core/rules/types';
import { formatNumber, formatStep } from '../../src/shared/format';
import { kindLabel } from '../../src/shared/tensorKinds';
import { escapeHtml } from '../format';
import { Section } from './section';

const SEVERITY_ORDER: Record<string, number> = { error: 0, warning: 1, info: 2 };

const CAUSES: Record<string, { label: string; title: string }> = {
  'lr-near-zero': {
    label: 'lr near zero',
    title:
      'Only where the lr schedule has driven the lr to ~0 (warm-up or the end of a decay): the schedule, not these layers, makes the step small.',
  },
};

/** The layer a click on a finding highlights: its own layer, or a grouped finding's most extreme one. */
export function findingTarget(f: Finding): string | null {
  const worst = (f.evidence as { worst?: { layer?: unknown } }).worst;
  return f.layer ?? (typeof worst?.layer === 'string' ? worst.layer : (f.layers?.[0] ?? null));
}

export class FindingsSection extends Section {
  html(): string {
    return `
<section class="card" id="findings-card" aria-labelledby="findings-heading">
  <div class="card-head"><h2 id="findings-heading">Findings</h2> <vscode-badge id="findings-count" variant="counter">0</vscode-badge></div>
  <ul id="findings"></ul>
</section>`;
  }

  override mount(): void {
    const list = this.$('#findings')!;
    list.addEventListener('click', (e) => this.activate(e));
    list.addEventListener('keydown', (e) => {
      const key = (e as KeyboardEvent).key;
      if ((key === 'Enter' || key === ' ') && !(e.target as HTMLElement).closest('a, summary')) this.activate(e);
    });
  }

  /** Appended steps leave the findings as they were (a whole-run pass re-evaluates them): nothing to redo. */
  override onAppend(): void {}

  override onData(): void {
    const list = this.$('#findings')!;
    const findings = [...this.ctx.model.analysis.result.findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
    const count = this.$('#findings-count');
    if (count) count.textContent = formatNumber(findings.length);
    if (!findings.length) {
      list.innerHTML = '<li class="empty">No findings: every rule passed at its threshold.</li>';
      return;
    }
    list.innerHTML = findings.map((f) => this.itemHtml(f)).join('');
  }

  private itemHtml(f: Finding): string {
    const model = this.ctx.model;
    const target = findingTarget(f);
    const total = model.layerNames.length;
    const layers = f.layers ?? (f.layer ? [f.layer] : []);
    const who =
      layers.length > 1
        ? `${layers.length === total ? 'all ' : ''}${formatNumber(layers.length)} ${layers.length === total ? 'tensors' : `of ${formatNumber(total)} tensors`}`
        : target
          ? `<code>${escapeHtml(target)}</code>`
          : 'the whole run';
    const when = f.steps
      ? f.steps.count === 1
        ? `step ${formatStep(f.steps.first)}`
        : `steps ${formatStep(f.steps.first)}–${formatStep(f.steps.last)} (${formatStep(f.steps.count)} with figures)`
      : f.step !== null
        ? `step ${formatStep(f.step)}`
        : '';
    const cause = f.cause
      ? `<span class="cause" data-cause="${escapeHtml(f.cause)}" title="${escapeHtml(CAUSES[f.cause]?.title ?? f.cause)}">${escapeHtml(CAUSES[f.cause]?.label ?? f.cause)}</span>`
      : '';
    const list = layers.length > 1 ? this.layersHtml(f, layers) : '';
    return `<li data-rule="${escapeHtml(f.rule)}" data-severity="${f.severity}" data-layer="${escapeHtml(target ?? '')}" data-step="${f.step ?? ''}"${
      f.cause ? ` data-cause="${escapeHtml(f.cause)}"` : ''
    } tabindex="0" role="button" class="sev-${f.severity}">
  <span class="sev-dot" aria-hidden="true"></span>
  <span class="finding-rule">${escapeHtml(f.rule)}</span>
  <span class="finding-message">${escapeHtml(f.message)}</span>
  <span class="finding-where">${[who, when].filter(Boolean).join(' · ')}${cause ? ` ${cause}` : ''}</span>
  ${list}
</li>`;
  }

  /** The finding's layers by block: "layers.3: q k v o gate", each kind a link to that tensor. */
  private layersHtml(f: Finding, layers: string[]): string {
    const model = this.ctx.model;
    const set = new Set(layers);
    const perLayer = new Map(
      ((f.evidence as { perLayer?: { layer: string; last: number }[] }).perLayer ?? []).map((p) => [p.layer, p.last]),
    );
    const link = (layer: string, text: string) =>
      `<a href="#" data-layer="${escapeHtml(layer)}"${perLayer.has(layer) ? ` data-step="${perLayer.get(layer)}"` : ''} title="${escapeHtml(layer)}">${escapeHtml(text)}</a>`;
    const rows: string[] = [];
    for (const block of model.blocks) {
      const members = block.layers.filter((l) => set.has(l));
      if (!members.length) continue;
      if (!block.inBlock) {
        rows.push(`<div class="layer-links">${members.map((l) => link(l, l)).join(' ')}</div>`);
        continue;
      }
      const all = members.length === block.layers.length ? ' <span class="muted">(all)</span>' : '';
      rows.push(
        `<div class="layer-links"><span class="block-name">${escapeHtml(block.label)}</span>${all} ${members.map((l) => link(l, kindLabel(model.infos.get(l)!))).join(' ')}</div>`,
      );
    }
    // Layers this analysis does not list (a finding over layers of another input): by name.
    const known = new Set(model.layerNames);
    const unknown = layers.filter((l) => !known.has(l));
    if (unknown.length) rows.push(`<div class="layer-links">${unknown.map((l) => escapeHtml(l)).join(' ')}</div>`);
    return `<details class="finding-layers"><summary>${formatNumber(layers.length)} tensors</summary>${rows.join('')}</details>`;
  }

  private activate(e: Event): void {
    const target = e.target as HTMLElement;
    const link = target.closest<HTMLElement>('a[data-layer]');
    if (link) {
      e.preventDefault();
      const step = link.dataset.step ? Number(link.dataset.step) : null;
      if (step !== null) this.ctx.selectStep(step, link.dataset.layer!);
      else this.ctx.selectLayer(link.dataset.layer!, { scroll: true, reveal: 'table' });
      return;
    }
    if (target.closest('summary, details')) return;
    const li = target.closest<HTMLElement>('li[data-rule]');
    if (!li) return;
    e.preventDefault();
    for (const other of this.$$('#findings li.selected')) other.classList.remove('selected');
    li.classList.add('selected');
    const step = li.dataset.step ? Number(li.dataset.step) : null;
    const layer = li.dataset.layer || null;
    if (step !== null) this.ctx.selectStep(step, layer);
    else if (layer) this.ctx.selectLayer(layer, { scroll: true, reveal: 'table' });
  }
}
