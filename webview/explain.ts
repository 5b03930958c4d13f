// Explain Learning Rate: what an (lr, scale) pair means under the optimizer, equivalent pairs, lr for the target.

import { MessageType, type ExplainData, type FromWebviewMessage } from '../src/shared/protocol';
import { escapeHtml, rawValue, renderMarkdown } from './format';
import { formatNumber } from '../src/shared/format';
import { lrMeaning, OPTIMIZER_NORMALIZATION, optimizerLabel } from '../src/shared/optimizers';

export class ExplainView {
  constructor(
    private readonly root: HTMLElement,
    private readonly post: (m: FromWebviewMessage) => void,
    private readonly interactive: boolean,
  ) {}

  render(explain: ExplainData): void {
    const x = explain;
    const pairs = x.equivalentPairs
      .map(
        (p) =>
          `<tr${p.lr === x.lr && p.scale === x.scale ? ' class="current"' : ''}><td class="num">${formatNumber(p.lr)}</td><td class="num">${formatNumber(p.scale)}</td><td class="num">${formatNumber(p.eps)}</td></tr>`,
      )
      .join('');
    const form = this.interactive
      ? `<form id="explain-form" class="explain-form">
  <label>lr <input id="explain-lr" type="text" inputmode="decimal" value="${x.lr}" spellcheck="false"></label>
  <label>scale (param RMS) <input id="explain-scale" type="text" inputmode="decimal" value="${x.scale ?? ''}" placeholder="e.g. 0.02" spellcheck="false"></label>
  <vscode-button id="explain-submit" type="submit">Explain</vscode-button>
</form>`
      : '';
    this.root.innerHTML = `
<header class="header"><div class="title-row"><h1>Explain Learning Rate</h1></div>
<div class="meta"><span><span class="label">from</span> ${escapeHtml(x.source)}</span>${x.optimizer ? `<span><span class="label">optimizer</span> ${escapeHtml(optimizerLabel(x.optimizer) ?? x.optimizer)}</span>` : ''}</div></header>
<section class="card" id="explain">
  ${form}
  <dl class="facts">
    <dt>learning rate</dt><dd id="explain-lr-value" data-value="${x.lr}">${formatNumber(x.lr)}</dd>
    <dt>parameter scale</dt><dd data-value="${rawValue(x.scale)}">${x.scale === null ? 'not stated' : formatNumber(x.scale)}</dd>
    <dt>relative step per step</dt><dd id="explain-rel-step" data-value="${rawValue(x.relativeStep)}">${
      x.relativeStep === null
        ? x.scale === null
          ? '— (needs a scale)'
          : '— (not from lr and scale alone under this optimizer)'
        : `${formatNumber(x.relativeStep)} <span class="note">(${escapeHtml(relativeStepBasis(x))})</span>`
    }</dd>
    <dt>lr for a relative step of ${formatNumber(x.targetRelativeStep)}</dt><dd id="explain-lr-target" data-value="${rawValue(x.lrForTarget)}">${formatNumber(x.lrForTarget)}</dd>
  </dl>
  ${
    x.scale === null
      ? `<div class="banner warning" id="explain-no-scale"><div class="banner-icon" aria-hidden="true">⚠</div><div class="banner-body">An lr alone does not say how fast the weights change. ${escapeHtml(lrMeaning(x.optimizer))} State the parameter scale (init std or logged param RMS) to get the relative step.</div></div>`
      : `<h3>Equivalent (lr, scale, ε)</h3><table class="compact" id="explain-pairs"><thead><tr><th class="num">lr</th><th class="num">scale</th><th class="num">ε</th></tr></thead><tbody>${pairs}</tbody></table>`
  }
  ${x.markdown ? `<div class="markdown">${renderMarkdown(x.markdown)}</div>` : ''}
</section>`;
    const formEl = this.root.querySelector<HTMLFormElement>('#explain-form');
    const submit = () => {
      const lr = Number((this.root.querySelector<HTMLInputElement>('#explain-lr')!.value || '').trim());
      const scaleText = (this.root.querySelector<HTMLInputElement>('#explain-scale')!.value || '').trim();
      const scale = scaleText === '' ? null : Number(scaleText);
      if (!Number.isFinite(lr) || lr <= 0 || (scale !== null && !(Number.isFinite(scale) && scale > 0))) {
        this.root.querySelector('#explain-form')?.classList.add('invalid');
        return;
      }
      this.post({ type: MessageType.ExplainRequest, lr, scale });
    };
    formEl?.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    this.root.querySelector('#explain-submit')?.addEventListener('click', submit);
  }
}

/** How the relative step of an (lr, scale) pair was found, by the optimizer's normalization. */
function relativeStepBasis(x: ExplainData): string {
  switch (x.optimizer === null ? 'second-moment' : OPTIMIZER_NORMALIZATION[x.optimizer]) {
    case 'sign':
      return 'lr ÷ scale, exactly: a sign update moves every element by lr';
    case 'trust-ratio':
      return 'the trust ratio makes lr the relative step (within its clamp)';
    default:
      return 'lr ÷ scale, while |u| ≈ 1; later RMS(u) is often 0.2–0.45 of that';
  }
}
