// Reading problems that did not stop the analysis (each opens its file at the line), and the inputs read.

import { MessageType } from '../../src/shared/protocol';
import { formatNumber, formatStep } from '../../src/shared/format';
import { escapeHtml } from '../format';
import { baseName, Section } from './section';

export class IssuesSection extends Section {
  html(): string {
    const r = this.ctx.model.analysis.result;
    const issues = r.issues;
    const inputs = r.inputs.map((i) => `<li><code>${escapeHtml(i.format)}</code> ${escapeHtml(i.path)}</li>`).join('');
    const items = issues
      .map((i) => {
        const where = i.line !== undefined ? `:${formatStep(i.line)}` : i.offset !== undefined ? ` @ byte ${formatStep(i.offset)}` : '';
        return `<li class="sev-${i.severity}" data-path="${escapeHtml(i.path)}" data-line="${i.line ?? ''}"><span class="sev-dot" aria-hidden="true"></span><span class="issue-where">${escapeHtml(baseName(i.path) + where)}</span> ${escapeHtml(i.message)}</li>`;
      })
      .join('');
    const card = issues.length
      ? `<section class="card" id="issues-card"><vscode-collapsible heading="Reading problems (${formatNumber(issues.length)})" ${issues.length <= 5 ? 'open' : ''}><ul id="read-issues">${items}</ul></vscode-collapsible></section>`
      : '';
    return `${card}<section class="card inputs"><div class="card-head"><h2>Inputs</h2></div><ul class="input-list">${inputs}</ul></section>`;
  }

  override mount(): void {
    if (!this.ctx.host.interactive) return;
    for (const li of this.$$('#read-issues li[data-path]')) {
      li.classList.add('link');
      li.addEventListener('click', () =>
        this.ctx.host.post({
          type: MessageType.OpenFile,
          path: li.dataset.path!,
          ...(li.dataset.line ? { line: Number(li.dataset.line) } : {}),
        }),
      );
    }
  }
}
