// Compare Runs, Explain Learning Rate and the exported standalone report, in headless Chromium.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildExplainData } from '../../src/extension/explainData';
import { buildReportHtml } from '../../src/extension/report';
import { MessageType } from '../../src/shared/protocol';
import { assertClose, loadExpected } from '../support/fixtures';
import { analyzeFixture, SETTINGS, showAnalysis } from './analysisFixtures';
import { canvasInk, ensureWebviewBundle, launchBrowser, openWebview, resultsDir, ROOT } from './harness';

let browser: Browser;
before(async () => {
  await ensureWebviewBundle();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('compare, explain and report views', () => {
  it('Compare Runs: relative steps per layer side by side (adam_base vs adam_reparam_k8: identical, ratio ×1)', async () => {
    const base = await analyzeFixture('adam_base', 'stats.jsonl');
    const k8 = await analyzeFixture('adam_reparam_k8', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send({
      type: MessageType.ShowCompare,
      title: 'Compare runs: adam_base · adam_reparam_k8',
      runs: [
        { label: 'adam_base', analysis: base },
        { label: 'adam_reparam_k8', analysis: k8 },
      ],
      settings: SETTINGS,
    });
    await w.page.waitForSelector('#compare-table tbody tr[data-layer]');
    const rows = await w.page.$$eval('#compare-table tbody tr[data-layer]', (trs) =>
      trs.map((tr) => ({
        layer: tr.getAttribute('data-layer')!,
        a: tr.querySelector('td[data-run="0"]')!.getAttribute('data-value')!,
        b: tr.querySelector('td[data-run="1"]')!.getAttribute('data-value')!,
        ratio: tr.querySelector('td[data-field="ratio"]')!.getAttribute('data-value')!,
      })),
    );
    assert.equal(rows.length, 14);
    const expA = loadExpected('adam_base').steps['120'];
    const expB = loadExpected('adam_reparam_k8').steps['120'];
    for (const r of rows) {
      assertClose(Number(r.a), expA[r.layer].rel_step, 1e-9, `adam_base ${r.layer}`);
      assertClose(Number(r.b), expB[r.layer].rel_step, 1e-9, `adam_reparam_k8 ${r.layer}`);
      assertClose(Number(r.ratio), 1, 1e-6, `ratio ${r.layer}`);
    }
    assert.ok((await canvasInk(w.page, '#chart-compare')) > 0.01, 'compare chart drawn');
    assert.deepEqual(w.errors, []);
    await w.page.screenshot({ path: join(resultsDir(), 'compare.png'), fullPage: true });
    await w.page.context().close();
  });

  it('separate runs in one input: a picker shows one run at a time (its own numbers), or all side by side; the choice survives a reload', async () => {
    const base = await analyzeFixture('adam_base', 'stats.jsonl');
    const wd = await analyzeFixture('adamw_wd0.05', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    const message = {
      type: MessageType.ShowRuns,
      title: 'runs/',
      runs: [
        { label: 'version_0', analysis: base },
        { label: 'version_11', analysis: wd },
      ],
      settings: SETTINGS,
    };
    await w.send(message);
    await w.page.waitForSelector('#run-view #layer-table tbody tr[data-layer]');
    assert.deepEqual(await w.page.$$eval('#run-select option', (o) => o.map((x) => (x as HTMLOptionElement).value)), ['0', '1', 'compare']);
    const relSteps = () =>
      w.page.$$eval('#layer-table tbody tr[data-layer]', (rows) =>
        Object.fromEntries(
          rows.map((r) => [r.getAttribute('data-layer')!, r.querySelector('td[data-field="relStep"]')!.getAttribute('data-value')!]),
        ),
      );
    const check = async (run: string, layers: number) => {
      const step = await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value);
      const expected = loadExpected(run).steps[step];
      const got = await relSteps();
      assert.equal(Object.keys(got).length, layers, run);
      for (const [layer, v] of Object.entries(got))
        assertClose(v === '' ? null : Number(v), expected[layer].rel_step, 1e-9, `${run} ${layer}`);
    };
    await check('adam_base', base.result.layers.length);
    await w.page.selectOption('#run-select', '1');
    await w.page.waitForFunction(() => document.querySelector('#run-view')?.getAttribute('data-run') === '1');
    await check('adamw_wd0.05', wd.result.layers.length);
    await w.page.selectOption('#run-select', 'compare');
    await w.page.waitForSelector('#run-view #compare-table tbody tr[data-layer]');
    assert.equal(await w.page.$$eval('#compare-table thead th[data-run]', (t) => t.length), 2);
    await w.page.reload();
    await w.waitForPosted(MessageType.Ready); // a fresh page posts Ready again
    await w.send(message);
    await w.page.waitForSelector('#run-view #compare-table tbody tr[data-layer]');
    assert.equal(await w.page.$eval('#run-select', (s) => (s as HTMLSelectElement).value), 'compare');
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('Explain Learning Rate: relative step, equivalent pairs, lr for the target; the form asks the host again', async () => {
    const explain = buildExplainData({ lr: 3e-4, scale: 0.02, eps: 1e-8, optimizer: 'adam', source: 'input' }, 1e-3);
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send({ type: MessageType.ShowExplain, explain, source: { kind: 'explain', lr: 3e-4, scale: 0.02 } });
    await w.page.waitForSelector('#explain');
    // A panel keeps what it shows in its state, for the serializer that restores it after a window reload.
    const state = await w.page.evaluate(() => JSON.parse(sessionStorage.getItem('vscode-state') ?? 'null'));
    assert.deepEqual(state.source, { kind: 'explain', lr: 3e-4, scale: 0.02 });
    assertClose(Number(await w.page.getAttribute('#explain-rel-step', 'data-value')), 0.015, 1e-12, 'lr/scale');
    assertClose(Number(await w.page.getAttribute('#explain-lr-target', 'data-value')), 2e-5, 1e-12, 'target × scale');
    const pairs = await w.page.$$eval('#explain-pairs tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim()).join(' ')),
    );
    // ×10: lr and scale ×10, ε ÷10 (the gradient of 10·p is g/10) — as adam_reparam_k8 does with k = 8.
    assert.ok(pairs.includes('0.003 0.2 1e-9'), `×10 pair listed: ${pairs.join(' | ')}`);
    assert.match((await w.page.textContent('#explain .markdown'))!, /lr = 3e-4|3e-4/);
    await w.page.fill('#explain-lr', '1e-3');
    await w.page.fill('#explain-scale', '0.5');
    await w.page.click('#explain-submit');
    await w.waitForPosted(MessageType.ExplainRequest);
    const request = (await w.posted()).find((m) => m.type === MessageType.ExplainRequest)!;
    assert.equal(request.lr, 1e-3);
    assert.equal(request.scale, 0.5);
    assert.deepEqual(w.errors, []);
    await w.page.screenshot({ path: join(resultsDir(), 'explain.png'), fullPage: true });

    // Without a scale: no relative step, a warning instead of pairs.
    await w.send({ type: MessageType.ShowExplain, explain: buildExplainData({ lr: 3e-4, scale: null }, 1e-3) });
    await w.page.waitForSelector('#explain-no-scale');
    assert.equal(await w.page.getAttribute('#explain-rel-step', 'data-value'), '');
    await w.page.context().close();
  });

  it('shows an analysis error (unreadable file) as an error banner, and a cancelled one as a note', async () => {
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send({
      type: MessageType.ShowError,
      title: 'Cannot analyze truncated.npz',
      message: 'truncated.npz (byte offset 1432): truncated archive',
    });
    await w.page.waitForSelector('#error-banner.error');
    assert.match((await w.page.textContent('#error-banner'))!, /byte offset 1432/);
    await w.send({ type: MessageType.ShowError, title: 'Analysis cancelled', message: 'Analysis cancelled', cancelled: true });
    await w.page.waitForSelector('#error-banner.info');
    // A later analysis replaces the error view with the dashboard.
    await w.send(showAnalysis('adam_base', await analyzeFixture('adam_base', 'stats.jsonl')));
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    assert.equal(await w.page.locator('#error-banner').count(), 0);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('Export Report: a standalone HTML file that renders offline with the same numbers and drawn charts', async () => {
    const analysis = await analyzeFixture('adam_base');
    const html = buildReportHtml({
      message: showAnalysis('adam_base/', analysis),
      script: readFileSync(join(ROOT, 'dist', 'webview.js'), 'utf8'),
      css: readFileSync(join(ROOT, 'media', 'dashboard.css'), 'utf8'),
      title: 'adam_base',
    });
    // Everything inline: no external script, stylesheet or image element (requests are watched below too).
    const head = html.slice(0, html.indexOf('<script type="application/json"'));
    assert.doesNotMatch(head, /<(script|link|img)\b[^>]*\b(src|href)=/i);
    const file = join(resultsDir(), 'report-adam_base.html');
    writeFileSync(file, html);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => !r.url().startsWith('file:') && errors.push(`request ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector('#layer-table tbody tr[data-layer]');
    const expected = loadExpected('adam_base').steps['120'];
    const values = await page.$$eval('#layer-table tbody tr[data-layer]', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-layer')!, tr.querySelector('td[data-field="relStep"]')!.getAttribute('data-value')!] as const),
    );
    assert.equal(values.length, 14);
    for (const [layer, v] of values) assertClose(Number(v), expected[layer].rel_step, 1e-9, `report ${layer}`);
    assert.ok((await canvasInk(page, '#chart-rel-step')) > 0.01, 'report chart drawn');
    assert.equal(await page.locator('#export-report').count(), 0, 'no host buttons in a report');
    assert.deepEqual(errors, []);
    await page.screenshot({ path: join(resultsDir(), 'report.png'), fullPage: true });
    await context.close();
  });
});
