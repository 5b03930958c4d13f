// Separate runs found in one input (two TensorBoard trials, Lightning's version_0/ and version_11/): never
// merged. A picker above the view: one run's dashboard, or every run side by side (Compare Runs' view).

import { MessageType, type ShowAnalysisMessage, type ShowCompareMessage, type ShowRunsMessage } from '../src/shared/protocol';
import { formatNumber, formatStep } from '../src/shared/format';
import { CompareView } from './compare';
import { Dashboard } from './dashboard/dashboard';
import { escapeHtml } from './format';
import type { ViewHost } from './host';

export class RunsView {
  private dashboard: Dashboard | null = null;
  private compare: CompareView | null = null;
  private message: ShowRunsMessage | null = null;
  private labels = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly host: ViewHost,
  ) {}

  render(message: ShowRunsMessage): void {
    const labels = JSON.stringify(message.runs.map((r) => r.label));
    const same = !!message.update && this.message !== null && labels === this.labels;
    this.message = message;
    if (!same) {
      this.destroy();
      this.labels = labels;
      this.root.innerHTML = `
<div class="run-picker" id="run-picker">
  <label for="run-select">Run</label>
  <select id="run-select">${message.runs
    .map((r, i) => {
      const s = r.analysis.summary?.steps;
      const steps = s ? ` · steps ${formatStep(s.first)}–${formatStep(s.last)}` : '';
      return `<option value="${i}">${escapeHtml(r.label)}${steps}</option>`;
    })
    .join('')}<option value="compare">Compare all ${formatNumber(message.runs.length)} runs</option></select>
  <span class="note">${formatNumber(message.runs.length)} separate runs in ${escapeHtml(message.title)} — analyzed one by one, never merged.</span>
</div>
<div id="run-view"></div>`;
      const select = this.root.querySelector<HTMLSelectElement>('#run-select')!;
      select.value = String(this.choice());
      select.addEventListener('change', () => {
        this.host.setState({ run: select.value === 'compare' ? 'compare' : Number(select.value) });
        this.show(false);
      });
    }
    this.show(same);
  }

  applyTheme(): void {
    this.dashboard?.applyTheme();
    this.compare?.applyTheme();
  }

  destroy(): void {
    this.dashboard?.destroy();
    this.compare?.destroy();
    this.dashboard = null;
    this.compare = null;
  }

  private choice(): number | 'compare' {
    const run = this.host.getState().run;
    if (run === 'compare') return 'compare';
    return typeof run === 'number' && this.message && run >= 0 && run < this.message.runs.length ? run : 0;
  }

  private show(update: boolean): void {
    const m = this.message!;
    const view = this.root.querySelector<HTMLElement>('#run-view')!;
    const choice = this.choice();
    if (choice === 'compare') {
      this.dashboard?.destroy();
      this.dashboard = null;
      this.compare ??= new CompareView(view, () => this.host.colors());
      const compare: ShowCompareMessage = {
        type: MessageType.ShowCompare,
        title: m.title,
        runs: m.runs.map((r) => ({ label: r.label, analysis: r.analysis })),
        settings: m.settings,
      };
      this.compare.render(compare);
      view.dataset.run = 'compare';
      return;
    }
    this.compare?.destroy();
    this.compare = null;
    const run = m.runs[choice];
    const sameRun = update && view.dataset.run === String(choice) && this.dashboard !== null;
    if (!sameRun) {
      this.dashboard?.destroy();
      this.dashboard = new Dashboard(view, this.host);
    }
    const message: ShowAnalysisMessage = {
      type: MessageType.ShowAnalysis,
      title: `${m.title} · ${run.label}`,
      analysis: run.analysis,
      settings: m.settings,
      totalSteps: run.totalSteps,
      facts: run.facts,
      live: m.live,
      update: sameRun,
    };
    this.dashboard!.render(message);
    view.dataset.run = String(choice);
  }
}
