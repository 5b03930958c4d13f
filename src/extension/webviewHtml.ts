// The dashboard webview's HTML: one nonce'd script (dist/webview.js), one stylesheet (media/dashboard.css),
// the strict CSP of DESIGN.md. No vscode import: the headless-Chromium tests render the very same page.

import { randomBytes } from 'node:crypto';

export interface WebviewHtmlInput {
  /** webview.cspSource */
  cspSource: string;
  /** webview.asWebviewUri(dist/webview.js) as a string */
  scriptUri: string;
  /** webview.asWebviewUri(media/dashboard.css) as a string */
  styleUri: string;
  nonce?: string;
  title?: string;
  /** What the page says until the first message arrives (default "Analyzing…"). */
  loading?: string;
}

export function makeNonce(): string {
  return randomBytes(18)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src ${cspSource}; img-src ${cspSource} data: blob:; font-src ${cspSource}`;
}

export function renderWebviewHtml(input: WebviewHtmlInput): string {
  const nonce = input.nonce ?? makeNonce();
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(input.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(input.styleUri)}">
<title>${attr(input.title ?? 'Optimizer Lens')}</title>
</head>
<body>
<main id="app" aria-live="polite"><p class="note" id="loading">${attr(input.loading ?? 'Analyzing…')}</p></main>
<script nonce="${nonce}" src="${attr(input.scriptUri)}"></script>
</body>
</html>`;
}
