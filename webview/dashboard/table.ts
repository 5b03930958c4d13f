// The per-layer table at the selected step: sortable columns, a filter (name or kind), and for models with
// blocks the rows grouped by block, each group collapsible with its range of relative steps in the header.
// Where the input has no per-layer figures at all, it says what the input does log and what to log instead.

import { MessageType } from '../../src/shared/protocol';
import { formatNumber, formatPercent, formatStep } from '../../src/shared/format';
import { escapeHtml, rawValue } from '../format';
import type { LayerRow } from './model';
import { directionColumn, epsTitle, predictedTitle } from './optimizerText';
import { cssEscape, Section } from './section';
import { whatTheInputLogs } from './inputLog';

/** Tables of more tensors than this open with their blocks collapsed. */
export const COLLAPSE_ABOVE = 64;

const SEVERITY_ORDER: Record<string, number> = { error: 0, warning: 1, info: 2 };

type Column = {
  field: 'paramRms' | 'gradRms' | 'adamUpdateRms' | 'directionRms' | 'relStep' | 'relStepPredicted' | 'epsDominatedFraction';
  label: string;
  title: string;
};

export class TableSection extends Section {
  private columns: Column[] = [];

  html(): string {
    this.columns = this.makeColumns();
    const blocks = this.ctx.model.blocks.filter((b) => b.inBlock).length;
    const state = this.ctx.host.getState();
    return `
<section class="card" id="layers-card" aria-labelledby="layers-heading">
  <div class="card-head">
    <h2 id="layers-heading">Layers</h2>
    <span class="spacer"></span>
    <input type="search" id="layer-filter" placeholder="Filter: name or kind (q, mlp norm…)" aria-label="Filter layers by name or kind" value="${escapeHtml(state.filter ?? '')}" spellcheck="false">
    ${blocks >= 2 ? `<label class="check"><input type="checkbox" id="group-blocks"> by block</label>` : ''}
  </div>
  <div class="table-wrap"><table id="layer-table">
    <thead><tr>
      <th data-sort="name" class="name-col">Layer</th>
      <th class="shape-col">Shape</th>
      <th data-sort="kind" class="kind-col">Kind</th>
      ${this.columns.map((f) => `<th data-sort="${f.field}" class="num" title="${escapeHtml(f.title)}">${escapeHtml(f.label)}</th>`).join('')}
      <th class="flag-col" data-sort="findings">Findings</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
  <p class="note" id="table-note"></p>
</section>`;
  }

  override mount(): void {
    for (const th of this.$$('#layer-table th[data-sort]')) {
      th.tabIndex = 0;
      const toggle = () => this.toggleSort(th.dataset.sort!);
      th.addEventListener('click', toggle);
      th.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          toggle();
        }
      });
    }
    const tbody = this.$('#layer-table tbody')!;
    tbody.addEventListener('click', (e) => {
      const target = e.target as HTMLElement;
      const group = target.closest<HTMLElement>('tr.block-row');
      if (group) {
        this.toggleBlock(group.dataset.block!);
        return;
      }
      const row = target.closest('tr[data-layer]');
      if (!row) return;
      const layer = row.getAttribute('data-layer');
      this.ctx.selectLayer(row.classList.contains('highlight') ? null : layer);
    });
    tbody.addEventListener('keydown', (e) => {
      const group = (e.target as HTMLElement).closest<HTMLElement>('tr.block-row');
      if (group && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.toggleBlock(group.dataset.block!);
      }
    });
    const filter = this.$<HTMLInputElement>('#layer-filter');
    let pending = 0;
    filter?.addEventListener('input', () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        this.ctx.host.setState({ filter: filter.value });
        this.render();
      });
    });
    const group = this.$<HTMLInputElement>('#group-blocks');
    if (group) {
      group.checked = this.grouped();
      group.addEventListener('change', () => {
        this.ctx.host.setState({ groupByBlock: group.checked });
        this.render();
      });
    }
  }

  override onData(): void {
    this.render();
  }

  override onStep(): void {
    this.render();
  }

  override onLayer(): void {
    const layer = this.ctx.layer;
    if (layer !== null) {
      const block = this.ctx.model.groupOf(layer)?.key;
      // A layer selected elsewhere (heatmap, finding) in a collapsed block: open the block.
      if (block && this.grouped() && !this.isOpen(block)) {
        this.setOpen(block, true);
        this.render();
        return;
      }
    }
    for (const row of this.$$('#layer-table tbody tr[data-layer]')) {
      row.classList.toggle('highlight', layer !== null && row.getAttribute('data-layer') === layer);
    }
  }

  /** Scroll the selected layer's row into view. */
  reveal(layer: string): void {
    this.$(`#layer-table tr[data-layer="${cssEscape(layer)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  private makeColumns(): Column[] {
    const o = this.ctx.model.optimizer;
    const direction = directionColumn(o);
    return [
      { field: 'paramRms', label: 'Param RMS', title: 'RMS of the parameter the step consumed (its scale)' },
      { field: 'gradRms', label: 'Grad RMS', title: 'RMS of the gradient the step consumed' },
      { field: direction.field, label: direction.label, title: direction.title },
      { field: 'relStep', label: 'Rel. step', title: 'Measured relative step RMS(Δp)/RMS(p)' },
      { field: 'relStepPredicted', label: 'Predicted', title: predictedTitle(o) },
      { field: 'epsDominatedFraction', label: 'ε-dominated', title: epsTitle(o) },
    ];
  }

  private grouped(): boolean {
    const blocks = this.ctx.model.blocks.filter((b) => b.inBlock).length;
    if (blocks < 2) return false;
    return this.ctx.host.getState().groupByBlock ?? true;
  }

  private isOpen(block: string): boolean {
    const open = this.ctx.host.getState().openBlocks?.[block];
    return open ?? this.ctx.model.layerNames.length <= COLLAPSE_ABOVE;
  }

  private setOpen(block: string, open: boolean): void {
    this.ctx.host.setState({ openBlocks: { ...(this.ctx.host.getState().openBlocks ?? {}), [block]: open } });
  }

  private toggleBlock(block: string): void {
    this.setOpen(block, !this.isOpen(block));
    this.render();
  }

  private toggleSort(field: string): void {
    const state = this.ctx.host.getState();
    const dir = state.sortField === field && state.sortDir === 'asc' ? 'desc' : 'asc';
    this.ctx.host.setState({ sortField: field, sortDir: dir });
    this.render();
  }

  private render(): void {
    const tbody = this.$('#layer-table tbody');
    if (!tbody) return;
    const model = this.ctx.model;
    const state = this.ctx.host.getState();
    const step = this.ctx.step;
    const rows = model.rowsAt(step);
    const byName = new Map(rows.map((r) => [r.name, r]));
    const terms = (state.filter ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (r: LayerRow) => {
      if (!terms.length) return true;
      const name = r.name.toLowerCase();
      const kind = `${r.info.cross ? 'cross ' : ''}${r.info.kind.replace('_', ' ')}${r.info.bias ? ' bias' : ''}`;
      return terms.every((t) => name.includes(t) || kind.split(' ').includes(t) || kind === t);
    };
    const field = state.sortField ?? null;
    const sortRows = (list: LayerRow[]): LayerRow[] => {
      if (!field) return list;
      const sign = state.sortDir === 'desc' ? -1 : 1;
      const key = (row: LayerRow): number | string | null => {
        if (field === 'name') return row.name;
        if (field === 'kind') return row.info.kind;
        if (field === 'findings') return row.findings.length;
        const v = (row as unknown as Record<string, number | null | undefined>)[field];
        return v ?? null;
      };
      const order = new Map(list.map((r, i) => [r, i]));
      return [...list].sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        if (ka === null && kb === null) return order.get(a)! - order.get(b)!;
        if (ka === null) return 1; // unknown values last in both directions
        if (kb === null) return -1;
        if (typeof ka === 'string' || typeof kb === 'string')
          return sign * String(ka).localeCompare(String(kb)) || order.get(a)! - order.get(b)!;
        return sign * (ka - kb) || order.get(a)! - order.get(b)!;
      });
    };
    for (const th of this.$$('#layer-table th[data-sort]')) {
      const sorted = th.dataset.sort === field;
      th.setAttribute('aria-sort', sorted ? (state.sortDir === 'desc' ? 'descending' : 'ascending') : 'none');
    }
    const highlighted = this.ctx.layer;
    const parts: string[] = [];
    let shown = 0;
    if (this.grouped()) {
      const span = this.columns.length + 4;
      for (const block of model.blocks) {
        const members = block.layers.map((l) => byName.get(l)!).filter(matches);
        if (!members.length) continue;
        shown += members.length;
        const open = terms.length > 0 || this.isOpen(block.key);
        parts.push(this.groupRowHtml(block.key, block.label, block.layers.length, members, open, span));
        if (open) for (const r of sortRows(members)) parts.push(this.rowHtml(r, highlighted, block.key));
      }
    } else {
      const list = sortRows(rows.filter(matches));
      shown = list.length;
      for (const r of list) parts.push(this.rowHtml(r, highlighted, null));
    }
    tbody.innerHTML = parts.join('');
    this.renderNote(rows.length, shown, terms.length > 0, step);
    this.$('#layers-card')?.classList.toggle('is-empty', !rows.length);
    const filter = this.$('#layer-filter');
    if (filter) filter.hidden = !rows.length;
  }

  private groupRowHtml(key: string, label: string, total: number, members: LayerRow[], open: boolean, span: number): string {
    let lo = Infinity;
    let hi = -Infinity;
    let flagged = 0;
    for (const r of members) {
      const v = r.relStep ?? r.relStepPredicted;
      if (v !== null && v > 0) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (r.findings.length) flagged++;
    }
    const t = this.ctx.model.settings.thresholds;
    const mark = (v: number) =>
      `<span class="${v < t.relativeStepLow ? 'low' : v > t.relativeStepHigh ? 'high' : ''}">${formatNumber(v)}</span>`;
    const range = hi >= lo ? ` · rel. step ${formatNumber(lo) === formatNumber(hi) ? mark(lo) : `${mark(lo)}–${mark(hi)}`}` : '';
    const tensors = (n: number) => (n === 1 ? 'tensor' : 'tensors');
    const count =
      members.length === total
        ? `${formatNumber(total)} ${tensors(total)}`
        : `${formatNumber(members.length)} of ${formatNumber(total)} ${tensors(total)}`;
    return `<tr class="block-row" data-block="${escapeHtml(key)}" aria-expanded="${open}" tabindex="0"><th colspan="${span}" scope="rowgroup"><span class="block-toggle" aria-hidden="true">${open ? '▾' : '▸'}</span> ${escapeHtml(label)} <span class="sub">${count}${range}${flagged ? ` · ${formatNumber(flagged)} flagged` : ''}</span></th></tr>`;
  }

  private rowHtml(row: LayerRow, highlighted: string | null, block: string | null): string {
    const t = this.ctx.model.settings.thresholds;
    const cells = this.columns
      .map(({ field: f }) => {
        const v = (f === 'directionRms' ? row.directionRms : row[f]) ?? null;
        let cls = 'num';
        if ((f === 'relStep' || f === 'relStepPredicted') && v !== null) {
          if (v > t.relativeStepHigh) cls += ' high';
          else if (v < t.relativeStepLow) cls += ' low';
        }
        if (f === 'epsDominatedFraction' && v !== null && v > t.epsDominatedFraction) cls += ' high';
        const text = f === 'epsDominatedFraction' ? formatPercent(v) : formatNumber(v);
        const prov = row.provenance?.[f];
        return `<td data-field="${f}" data-value="${rawValue(v)}" class="${cls}"${prov ? ` title="from ${escapeHtml(prov)}"` : ''}>${text}</td>`;
      })
      .join('');
    const worst = row.findings.reduce<string | null>(
      (acc, f) => (acc === null || SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[acc] ? f.severity : acc),
      null,
    );
    const flag = row.findings.length
      ? `<span class="flag sev-${worst}" title="${escapeHtml(row.findings.map((f) => f.rule).join(', '))}">${formatNumber(row.findings.length)}</span>`
      : '';
    const shape = row.shape ? `[${row.shape.map((d) => formatStep(d)).join(' × ')}]` : '';
    const kind = `${row.info.cross ? 'cross ' : ''}${row.info.kind.replace('_', ' ')}${row.info.bias ? ' bias' : ''}`;
    return `<tr data-layer="${escapeHtml(row.name)}"${block ? ` data-block="${escapeHtml(block)}"` : ''}${row.name === highlighted ? ' class="highlight"' : ''}><th scope="row" class="name-col" title="${escapeHtml(row.name)}">${escapeHtml(row.name)}</th><td class="shape-col">${shape}</td><td class="kind-col">${escapeHtml(kind)}</td>${cells}<td class="flag-col">${flag}</td></tr>`;
  }

  private renderNote(total: number, shown: number, filtered: boolean, step: number | null): void {
    const note = this.$('#table-note');
    if (!note) return;
    if (!total) {
      note.innerHTML = whatTheInputLogs(this.ctx.model, this.ctx.host.interactive);
      note.querySelector('.insert-snippet-link')?.addEventListener('click', (e) => {
        e.preventDefault();
        this.ctx.host.post({ type: MessageType.InsertLoggingSnippet });
      });
      return;
    }
    const model = this.ctx.model;
    const where =
      step === null
        ? 'No step with per-layer figures in this input.'
        : `Step ${formatStep(step)}${step === model.reportStep ? ' (the report step)' : ''}. — means the input does not state the figure.`;
    note.textContent = filtered ? `${formatNumber(shown)} of ${formatNumber(total)} tensors match the filter. ${where}` : where;
  }
}
