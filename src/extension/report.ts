// Export Report: a standalone HTML file of the dashboard — the data embedded as JSON (series packed as
// on the wire, their buffers in base64), the webview bundle and the stylesheet inlined, a CSP that allows
// nothing remote. Opens in any browser, offline. Pure (no vscode import) so it is tested in headless Chromium.

import { REPORT_DATA_ELEMENT_ID, type ToWebviewMessage } from '../shared/protocol';
import { bufferReplacer } from '../shared/packing';
import { makeNonce } from './webviewHtml';
import { toWire } from './wire';

export interface ReportInput {
  message: ToWebviewMessage;
  /** Text of dist/webview.js. */
  script: string;
  /** Text of media/dashboard.css. */
  css: string;
  title: string;
  /** 'vscode-light' (default, printable) or 'vscode-dark'. */
  theme?: 'vscode-light' | 'vscode-dark';
  generatedAt?: Date;
}

/** JSON safe inside a <script> element (no "</script>", no "<!--"). */
export function scriptSafeJson(value: unknown, replacer?: (key: string, value: unknown) => unknown): string {
  return JSON.stringify(value, replacer)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const DARK_VARIABLES = `
body.report-standalone.vscode-dark {
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-editor-background: #1f1f1f;
  --vscode-sideBar-background: #181818; --vscode-editorWidget-border: #454545;
  --vscode-dropdown-background: #313131; --vscode-dropdown-foreground: #cccccc; --vscode-dropdown-border: #3c3c3c;
  --vscode-input-background: #313131; --vscode-input-foreground: #cccccc; --vscode-list-hoverBackground: #2a2d2e;
  --vscode-list-inactiveSelectionBackground: #37373d; --vscode-textCodeBlock-background: #2b2b2b;
  --vscode-sideBarTitle-foreground: #cccccc; --vscode-sideBarSectionHeader-background: #181818; --vscode-icon-foreground: #cccccc;
  --vscode-badge-background: #616161; --vscode-badge-foreground: #f8f8f8;
  --vscode-charts-blue: #3794ff; --vscode-charts-red: #f14c4c; --vscode-charts-yellow: #cca700;
  --vscode-charts-orange: #d18616; --vscode-charts-green: #89d185; --vscode-charts-purple: #b180d7;
}`;

export function buildReportHtml(input: ReportInput): string {
  const nonce = makeNonce();
  const theme = input.theme ?? 'vscode-light';
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data: blob:; font-src data:`;
  // A literal "</script" inside the inlined bundle would end the element early.
  const script = input.script.replace(/^\/\/# sourceMappingURL=.*$/gm, '').replace(/<\/(script)/gi, '<\\/$1');
  const generated = (input.generatedAt ?? new Date()).toISOString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="generator" content="Optimizer Lens">
<meta name="created" content="${generated}">
<title>${escapeHtml(input.title)} — Optimizer Lens report</title>
<style nonce="${nonce}">
${input.css}
${DARK_VARIABLES}
</style>
</head>
<body class="report-standalone ${theme}">
<main id="app"></main>
<script type="application/json" id="${REPORT_DATA_ELEMENT_ID}">${scriptSafeJson(toWire(input.message), bufferReplacer)}</script>
<script nonce="${nonce}">
${script}
</script>
</body>
</html>
`;
}
