// Equivalent learning rates: (lr, scale[, ε]) settings that train alike under the run's optimizer (the one
// arithmetic of src/shared/equivalence.ts), and per layer the lr that would give the target relative step.

import { equivalentPairs, lrForTarget, median, type TargetBasis } from '../../src/shared/equivalence';
import { formatNumber, formatStep } from '../../src/shared/format';
import { escapeHtml, rawValue } from '../format';
import { equivalenceRule } from './optimizerText';
import { Section } from './section';
import { WhenVisible } from './visibility';

const BASIS_TEXT: Record<TargetBasis, string> = {
  measured: 'measured',
  'rms-u': 'RMS(u)',
  'rms-d': 'RMS(d)',
  'u-approx-1': 'u ≈ 1',
  sign: 'sign: |d| = 1',
  'trust-ratio': 'trust ratio',
};

export class EquivalenceSection extends Section {
  html(): string {
    const m = this.ctx.model;
    return `
<section class="card" id="equivalence" aria-labelledby="equivalence-heading">
  <div class="card-head"><h2 id="equivalence-heading">Equivalent learning rates</h2></div>
  <div id="equivalence-pairs"></div>
  <h3 class="per-layer">lr per layer for a relative step of <span id="target-rel-step">${formatNumber(m.settings.targetRelativeStep)}</span></h3>
  <div class="table-wrap per-layer scroll-y"><table id="target-lr-table" class="compact"><thead><tr>
    <th>Layer</th><th class="num">Param RMS</th><th class="num">Rel. step</th><th class="num">lr for target</th><th>Basis</th>
  </tr></thead><tbody></tbody></table></div>
  <p class="note per-layer">Setting <code>optimizerLens.targetRelativeStep</code>. “measured”: lr × target ÷ measured relative step at the selected step; “${
    m.optimizer.adamLike
      ? 'RMS(u)”: target × param RMS ÷ RMS(u); “u ≈ 1”: target × param RMS (early training only)'
      : 'RMS(d)”: target × param RMS ÷ the direction RMS'
  }.</p>
</section>`;
  }

  private gate: WhenVisible | null = null;

  override mount(): void {
    this.gate = new WhenVisible(this.$('#target-lr-table'));
  }

  override onData(): void {
    this.renderPairs();
    this.renderTargets();
  }

  /** Appended steps: the per-layer lr table (291 rows at LLM scale) waits until it is on screen, as on a step change. */
  override onAppend(): void {
    this.renderPairs();
    this.onStep();
  }

  override onStep(): void {
    this.gate?.run(() => this.renderTargets());
  }

  override destroy(): void {
    this.gate?.dispose();
    this.gate = null;
  }

  /** The lr the inputs state at a step: the report step's, or a logged run-level lr at exactly that step. */
  private lrAt(step: number | null): number | null {
    const a = this.ctx.model.analysis;
    if (step === a.result.step) return a.result.optimizer.lr;
    const g = a.globals.find((x) => x.step === step);
    const v = g?.values.lr;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  private renderPairs(): void {
    const el = this.$('#equivalence-pairs');
    if (!el) return;
    const m = this.ctx.model;
    const r = m.analysis.result;
    const o = m.optimizer;
    const lr = this.lrAt(r.step);
    const layers = m.rowsAt(r.step);
    // Presentation: the median over layers stands for "the scale" of the run.
    const scale = median(layers.map((l) => (l.paramRms !== null && l.paramRms > 0 ? l.paramRms : null)));
    const rel = median(layers.map((l) => l.relStep));
    if (lr === null || scale === null) {
      el.innerHTML = `<p class="note">${
        lr === null ? 'The input states no learning rate' : 'The input states no parameter scale'
      }: equivalent (lr, scale) pairs need both. ${scale === null ? 'Log per-layer parameter RMS or open a checkpoint.' : ''}</p>`;
      return;
    }
    const withEps = o.normalization === null || o.normalization === 'second-moment' || o.kind === 'lamb';
    const eps = r.optimizer.eps ?? (withEps ? m.settings.defaultEps : null);
    const pairs = equivalentPairs(lr, scale, eps, o.kind);
    if (!pairs.length) {
      el.innerHTML = `<p class="note">${escapeHtml(equivalenceRule(o))}</p>`;
      return;
    }
    const showEps = pairs.some((p) => p.eps !== null);
    el.innerHTML = `<p>These (lr, scale${showEps ? ', ε' : ''}) settings train exactly alike: the same relative step per step${
      rel !== null ? ` (median over layers at step ${formatStep(r.step)}: <strong>${formatNumber(rel)}</strong>)` : ''
    }. Scale = median parameter RMS at step ${formatStep(r.step)}. ${escapeHtml(equivalenceRule(o))}</p>
<table class="compact" id="equivalence-table"><thead><tr><th class="num">k</th><th class="num">lr</th><th class="num">scale</th>${
      showEps ? '<th class="num">ε</th>' : ''
    }</tr></thead><tbody>${pairs
      .map(
        (p) =>
          `<tr${p.k === 1 ? ' class="current"' : ''}><td class="num">${p.k === 1 ? 'this run' : `×${formatNumber(p.k)}`}</td><td class="num" data-value="${p.lr}">${formatNumber(p.lr)}</td><td class="num" data-value="${p.scale}">${formatNumber(p.scale)}</td>${
            showEps ? `<td class="num" data-value="${rawValue(p.eps)}">${formatNumber(p.eps)}</td>` : ''
          }</tr>`,
      )
      .join('')}</tbody></table>`;
  }

  private renderTargets(): void {
    const tbody = this.$('#target-lr-table tbody');
    if (!tbody) return;
    const m = this.ctx.model;
    // Nothing per layer (a log of run-level figures): no empty table under its heading.
    this.$('#equivalence')?.classList.toggle('no-layers', m.analysis.result.layers.length === 0);
    const lr = this.lrAt(this.ctx.step);
    const target = m.settings.targetRelativeStep;
    tbody.innerHTML = m
      .rowsAt(this.ctx.step)
      .map((l) => {
        const t = lrForTarget(l, lr, target, m.optimizer.kind);
        return `<tr data-layer="${escapeHtml(l.name)}"><th scope="row">${escapeHtml(l.name)}</th><td class="num">${formatNumber(l.paramRms)}</td><td class="num">${formatNumber(l.relStep)}</td><td class="num" data-field="lrForTarget" data-value="${rawValue(t.lr)}">${formatNumber(t.lr)}</td><td class="basis">${t.basis ? BASIS_TEXT[t.basis] : '—'}</td></tr>`;
      })
      .join('');
  }
}
