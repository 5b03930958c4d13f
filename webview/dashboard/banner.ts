// The lr-without-scale banner: a learning rate is known, no parameter scale is — what the lr means under
// the run's optimizer, and what would make it meaningful (log per-layer parameter RMS, state the init scale).

import { MessageType } from '../../src/shared/protocol';
import { escapeHtml } from '../format';
import { lrMeaningText } from './optimizerText';
import { Section } from './section';

export class BannerSection extends Section {
  html(): string {
    const finding = this.ctx.model.analysis.result.findings.find((f) => f.rule === 'lr-without-scale');
    if (!finding) return '';
    const button = this.ctx.host.interactive ? '<vscode-button id="banner-insert-snippet">Insert Logging Snippet</vscode-button>' : '';
    return `
<div id="lr-without-scale-banner" class="banner warning" role="alert" data-rule="lr-without-scale">
  <div class="banner-icon" aria-hidden="true">⚠</div>
  <div class="banner-body">
    <strong>A learning rate without a parameter scale.</strong>
    <p>${escapeHtml(finding.message)}</p>
    <p>${escapeHtml(lrMeaningText(this.ctx.model.optimizer))} Only next to the weights' scale does an lr say how fast they change. To make it meaningful, <strong>log per-layer parameter RMS</strong> (and grad/update RMS) — the logging snippet writes them — or <strong>state the init scale</strong> (e.g. <code>init_std: 0.02</code>) next to the lr.</p>
  </div>
  ${button}
</div>`;
  }

  override mount(): void {
    this.$('#banner-insert-snippet')?.addEventListener('click', () => this.ctx.host.post({ type: MessageType.InsertLoggingSnippet }));
  }
}
