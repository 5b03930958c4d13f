// What an input without per-layer figures does log, and what to log to get them: the tags / columns its
// reader read (when the host says, InputFacts.tags), else the run-level keys of the analysis.

import { escapeHtml } from '../format';
import type { DashboardModel } from './model';
import { baseName } from './section';

/** Run-level keys as a user knows them. */
const GLOBAL_NAMES: Record<string, string> = {
  loss: 'loss',
  lr: 'lr',
  gradNorm: 'grad norm',
  paramNorm: 'param norm',
  updateNorm: 'update norm',
  relStep: 'relative step (whole model)',
  lossScale: 'loss scale',
  evalLoss: 'eval loss',
  evalAcc: 'eval accuracy',
  batchAcc: 'batch accuracy',
  epoch: 'epoch',
  learning_rate: 'lr',
};

export function globalName(key: string): string {
  return GLOBAL_NAMES[key] ?? key;
}

/** The run-level keys the analysis has, in first-seen order. */
export function globalKeys(model: DashboardModel): string[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const g of model.analysis.globals)
    for (const k of Object.keys(g.values))
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
  return keys;
}

const codeList = (names: string[], max = 8) =>
  names
    .slice(0, max)
    .map((n) => `<code>${escapeHtml(n)}</code>`)
    .join(', ') + (names.length > max ? ` and ${names.length - max} more` : '');

/** HTML: "No per-layer figures in this input: it logs …; Optimizer Lens needs …; Insert Logging Snippet …". */
export function whatTheInputLogs(model: DashboardModel, interactive: boolean): string {
  const tags = model.facts?.tags?.filter((t) => t.read.length || t.unused?.length) ?? [];
  let logs: string;
  if (tags.length) {
    logs = tags
      .map((t) => {
        const unused = t.unused?.length ? ` (not used: ${codeList(t.unused, 6)})` : '';
        return `<span class="input-tags"><span class="issue-where">${escapeHtml(baseName(t.path))}</span> ${t.read.length ? codeList(t.read) : 'nothing it uses'}${unused}</span>`;
      })
      .join('; ');
  } else {
    const keys = globalKeys(model);
    logs = keys.length ? `${codeList(keys.map(globalName))} for the whole run` : 'no figures Optimizer Lens reads';
  }
  const snippet = interactive
    ? '<a href="#" class="insert-snippet-link">Insert Logging Snippet</a> to log them'
    : 'the logging snippet (the command Insert Logging Snippet) logs them';
  return `No per-layer figures in this input: it logs ${logs}. Per layer, Optimizer Lens needs the parameter RMS (the scale) and the update RMS or the optimizer's state: ${snippet} every N steps, or open a checkpoint with the optimizer state.`;
}
