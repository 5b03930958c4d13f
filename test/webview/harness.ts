// Headless-Chromium harness for the dashboard webview: serves the same HTML the extension serves
// (src/extension/webviewHtml.ts, same strict nonce CSP) from a fake webview origin, with dist/webview.js
// and media/dashboard.css, a fake acquireVsCodeApi that records posted messages and keeps state in
// sessionStorage (so a reload restores it, like VS Code's getState), and VS Code-like theme variables.

import { existsSync, mkdirSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderWebviewHtml } from '../../src/extension/webviewHtml';
import { toWire } from '../../src/extension/wire';
import type { ToWebviewMessage } from '../../src/shared/protocol';

export const ROOT = resolve(__dirname, '..', '..');
export const RESULTS = join(ROOT, 'test-results', 'webview');
export const ORIGIN = 'https://optimizer-lens.webview.test';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const DARK_THEME: Record<string, string> = {
  '--vscode-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-sideBar-background': '#181818',
  '--vscode-editorWidget-border': '#454545',
  '--vscode-widget-border': '#313131',
  '--vscode-focusBorder': '#0078d4',
  '--vscode-errorForeground': '#f85149',
  '--vscode-editorWarning-foreground': '#cca700',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-badge-background': '#616161',
  '--vscode-badge-foreground': '#f8f8f8',
  '--vscode-button-background': '#0078d4',
  '--vscode-button-foreground': '#ffffff',
  '--vscode-button-secondaryBackground': '#313131',
  '--vscode-button-secondaryForeground': '#cccccc',
  '--vscode-dropdown-background': '#313131',
  '--vscode-dropdown-border': '#3c3c3c',
  '--vscode-dropdown-foreground': '#cccccc',
  '--vscode-list-hoverBackground': '#2a2d2e',
  '--vscode-list-inactiveSelectionBackground': '#37373d',
  '--vscode-textCodeBlock-background': '#2b2b2b',
  '--vscode-inputValidation-warningBackground': '#352a05',
  '--vscode-inputValidation-warningBorder': '#b89500',
  '--vscode-font-family': 'system-ui, "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-editor-font-family': '"DejaVu Sans Mono", monospace',
};

export const LIGHT_THEME: Record<string, string> = {
  ...DARK_THEME,
  '--vscode-foreground': '#3b3b3b',
  '--vscode-descriptionForeground': '#717171',
  '--vscode-editor-background': '#ffffff',
  '--vscode-sideBar-background': '#f8f8f8',
  '--vscode-editorWidget-border': '#c8c8c8',
  '--vscode-widget-border': '#e5e5e5',
  '--vscode-charts-red': '#e51400',
  '--vscode-charts-blue': '#1a85ff',
  '--vscode-charts-yellow': '#bf8803',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#388a34',
  '--vscode-charts-purple': '#652d90',
  '--vscode-button-secondaryBackground': '#e5e5e5',
  '--vscode-button-secondaryForeground': '#3b3b3b',
  '--vscode-dropdown-background': '#ffffff',
  '--vscode-dropdown-border': '#cecece',
  '--vscode-dropdown-foreground': '#3b3b3b',
  '--vscode-list-hoverBackground': '#f2f2f2',
  '--vscode-list-inactiveSelectionBackground': '#e4e6f1',
  '--vscode-textCodeBlock-background': '#f0f0f0',
  '--vscode-inputValidation-warningBackground': '#f6f5d2',
  '--vscode-inputValidation-warningBorder': '#bf8803',
};

/** Build dist/webview.js when it is missing or older than a webview source (same options as esbuild.config.mjs). */
export async function ensureWebviewBundle(): Promise<string> {
  const out = join(ROOT, 'dist', 'webview.js');
  const dirs = [join(ROOT, 'src', 'shared'), join(ROOT, 'webview')];
  const sources = dirs.flatMap((d) => readdirSync(d, { recursive: true, encoding: 'utf8' }).map((f) => join(d, f)));
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (!existsSync(out) || statSync(out).mtimeMs < newest) {
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: [{ in: join(ROOT, 'webview', 'main.ts'), out: 'webview' }],
      outdir: join(ROOT, 'dist'),
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
  return out;
}

let pageSupport: Promise<string> | null = null;

/** test/webview/inPage.ts bundled for the page (an init script defining window.__olTest). */
export function pageSupportScript(): Promise<string> {
  pageSupport ??= (async () => {
    const esbuild = await import('esbuild');
    const out = await esbuild.build({
      entryPoints: [join(ROOT, 'test', 'webview', 'inPage.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: '__olTest',
      // Init scripts may run wrapped: make the global explicit.
      footer: { js: 'globalThis.__olTest = __olTest;' },
      target: 'es2022',
      logLevel: 'warning',
    });
    return out.outputFiles[0].text;
  })();
  return pageSupport;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface WebviewPage {
  page: Page;
  /** Messages the webview posted (fake acquireVsCodeApi), in order. */
  posted(): Promise<{ type: string; [k: string]: unknown }[]>;
  /** Post a message to the webview as the extension host would. */
  send(message: unknown): Promise<void>;
  /**
   * Post a message and measure, in the page, from the post to the first frame painted after `readySelector`
   * matches (the message handler renders synchronously; unpacking the series is included). Milliseconds.
   */
  sendTimed(message: unknown, readySelector: string): Promise<number>;
  /**
   * Post a message made in the page by `expression` (see inPage.ts; needs `pageSupport`) and measure, in the
   * page, the first frame painted after `readySelector` matches and the one after the deferred sections are in.
   */
  postTimed(expression: string, readySelector: string): Promise<{ first: number; complete: number }>;
  /** Wait until the webview posted a message of this type (count: the n-th one). */
  waitForPosted(type: string, count?: number): Promise<void>;
  /** Browser errors: console errors, page errors, CSP violations. */
  errors: string[];
}

export async function openWebview(
  browser: Browser,
  options: { theme?: Record<string, string>; bodyClass?: string; width?: number; height?: number; pageSupport?: boolean } = {},
): Promise<WebviewPage> {
  const theme = options.theme ?? DARK_THEME;
  const bodyClass = options.bodyClass ?? 'vscode-dark';
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const html = renderWebviewHtml({
        cspSource: ORIGIN,
        scriptUri: `${ORIGIN}/dist/webview.js`,
        styleUri: `${ORIGIN}/media/dashboard.css`,
      });
      return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
    }
    const file = join(ROOT, url.pathname);
    if (!file.startsWith(ROOT) || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
    return route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
  });
  // Anything else (remote resources) must not be requested at all.
  await page.route(/^(?!https:\/\/optimizer-lens\.webview\.test)/, (route) => {
    errors.push(`remote request: ${route.request().url()}`);
    return route.abort();
  });
  if (options.pageSupport) await page.addInitScript(await pageSupportScript());
  // A string, not a function: tsx/esbuild helpers (__name) do not exist in the page.
  await page.addInitScript(`(() => {
    const theme = ${JSON.stringify(theme)};
    const bodyClass = ${JSON.stringify(bodyClass)};
    window.__posted = [];
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('acquireVsCodeApi called twice');
      acquired = true;
      return {
        postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
        getState: () => JSON.parse(sessionStorage.getItem('vscode-state') ?? 'null') ?? undefined,
        setState: (s) => sessionStorage.setItem('vscode-state', JSON.stringify(s)),
      };
    };
    document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
    // Like VS Code: theme variables on <html>, theme kind as a body class, before the page's script runs.
    let themed = false;
    const apply = () => {
      if (!themed && document.documentElement) {
        for (const [k, v] of Object.entries(theme)) document.documentElement.style.setProperty(k, v);
        themed = true;
      }
      if (document.body) { document.body.classList.add(bodyClass); return true; }
      return false;
    };
    if (!apply()) {
      const observer = new MutationObserver(() => { if (apply()) observer.disconnect(); });
      observer.observe(document, { childList: true, subtree: true });
    }
  })();`);
  await page.goto(`${ORIGIN}/`);
  const posted = () =>
    page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted) as Promise<
      { type: string; [k: string]: unknown }[]
    >;
  const wire = (message: unknown) => {
    // As the host posts it (src/extension/wire.ts): series packed into ArrayBuffers. The buffers cross
    // into the page as base64 and are rebuilt as exact-length ArrayBuffers there.
    const w = toWire(message as ToWebviewMessage) as ToWebviewMessage & { packedSeries?: Record<string, unknown> };
    const packed = w.packedSeries;
    if (!packed) return { plain: w, b64: null };
    const b64: Record<string, string> = {};
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(packed)) {
      if (v instanceof ArrayBuffer) b64[k] = Buffer.from(v).toString('base64');
      else rest[k] = v;
    }
    return { plain: { ...w, packedSeries: rest }, b64 };
  };
  return {
    page,
    posted,
    errors,
    sendTimed: async (message, readySelector) => {
      const { plain, b64 } = wire(message);
      // A string, not a function: tsx/esbuild helpers (__name) do not exist in the page.
      return page.evaluate(`(async () => {
        const msg = ${JSON.stringify(plain)};
        const b64 = ${JSON.stringify(b64)};
        const bytes = (text) => { const s = atob(text); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out.buffer; };
        if (b64 && msg.packedSeries) for (const k of Object.keys(b64)) msg.packedSeries[k] = bytes(b64[k]);
        const frame = () => new Promise((r) => requestAnimationFrame(r));
        const t0 = performance.now();
        window.postMessage(msg, '*');
        while (!document.querySelector(${JSON.stringify(readySelector)})) await frame();
        await frame();
        return performance.now() - t0;
      })()`) as Promise<number>;
    },
    postTimed: (expression, readySelector) =>
      page.evaluate(`(async () => {
        const msg = ${expression};
        const frame = () => new Promise((r) => requestAnimationFrame(r));
        const t0 = performance.now();
        window.postMessage(msg, '*');
        while (!document.querySelector(${JSON.stringify(readySelector)})) await frame();
        await frame();
        const first = performance.now() - t0;
        while (document.querySelector('[data-complete="false"]')) await frame();
        await frame();
        return { first, complete: performance.now() - t0 };
      })()`) as Promise<{ first: number; complete: number }>,
    send: async (message) => {
      const { plain, b64 } = wire(message);
      await page.evaluate(
        ({ m, b64 }) => {
          const msg = m as { packedSeries?: Record<string, ArrayBuffer> };
          if (b64 && msg.packedSeries) {
            for (const [k, text] of Object.entries(b64)) msg.packedSeries[k] = Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
          }
          window.postMessage(msg, '*');
        },
        { m: plain as never, b64 },
      );
    },
    waitForPosted: async (type, count = 1) => {
      await page.waitForFunction(
        ({ type, count }) =>
          ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).filter((m) => m.type === type).length >= count,
        { type, count },
      );
    },
  };
}

/** Wait until the dashboard has rendered the sections it defers past the first screen (charts, tables below). */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector('[data-complete="false"]'));
}

/** Fraction of canvas pixels that differ from the most common (background) pixel. */
export async function canvasInk(page: Page, selector: string): Promise<number> {
  await settled(page);
  return page.$eval(selector, (el) => {
    const canvas = el as HTMLCanvasElement;
    const ctx = canvas.getContext('2d');
    if (!ctx || canvas.width === 0 || canvas.height === 0) return 0;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
    return ink / (data.length / 4);
  });
}

/** Count of canvas pixels close to an rgb color. */
export async function canvasColorCount(page: Page, selector: string, rgb: [number, number, number], tolerance = 40): Promise<number> {
  await settled(page);
  return page.$eval(
    selector,
    (el, { rgb, tolerance }) => {
      const canvas = el as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 128 && Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) <= tolerance)
          n++;
      }
      return n;
    },
    { rgb, tolerance },
  );
}

export function resultsDir(): string {
  mkdirSync(RESULTS, { recursive: true });
  return RESULTS;
}
