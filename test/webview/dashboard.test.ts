// The dashboard webview in headless Chromium (Debian chromium + playwright-core): the real bundle
// (dist/webview.js) under the extension's CSP, a fake acquireVsCodeApi, analyses of the real fixtures.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { MessageType } from '../../src/shared/protocol';
import { assertClose, loadExpected } from '../support/fixtures';
import { analyzeFixture, EXPECTED_FIELD, showAnalysis } from './analysisFixtures';
import { canvasColorCount, canvasInk, ensureWebviewBundle, launchBrowser, LIGHT_THEME, openWebview, resultsDir } from './harness';

let browser: Browser;

before(async () => {
  await ensureWebviewBundle();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function tableValues(page: import('playwright-core').Page) {
  return page.$$eval('#layer-table tbody tr[data-layer]', (rows) =>
    rows.map((row) => ({
      layer: row.getAttribute('data-layer')!,
      cells: Object.fromEntries(
        [...row.querySelectorAll('td[data-field]')].map((td) => [
          td.getAttribute('data-field')!,
          { value: td.getAttribute('data-value')!, text: td.textContent!.trim() },
        ]),
      ),
    })),
  );
}

function checkAgainstExpected(rows: Awaited<ReturnType<typeof tableValues>>, run: string, step: number): number {
  const expected = loadExpected(run).steps[String(step)];
  let checked = 0;
  for (const row of rows) {
    const exp = expected[row.layer];
    assert.ok(exp, `layer ${row.layer} is in expected.json`);
    for (const [field, key] of Object.entries(EXPECTED_FIELD)) {
      const cell = row.cells[field];
      assert.ok(cell, `${row.layer} has a ${field} cell`);
      const want = (exp as unknown as Record<string, number | null>)[key];
      const got = cell.value === '' ? null : Number(cell.value);
      assertClose(got, want, 1e-9, `${run} step ${step} ${row.layer} ${field}`);
      if (got === null) assert.equal(cell.text, '—');
      checked++;
    }
  }
  return checked;
}

describe('dashboard webview', () => {
  it('posts Ready, then renders the per-layer table with the numbers of expected.json (adam_base, stats.jsonl)', async () => {
    const analysis = await analyzeFixture('adam_base', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    assert.equal((await w.posted())[0].type, MessageType.Ready);
    await w.send(showAnalysis('adam_base/stats.jsonl', analysis));
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    // each message taken is acknowledged: the host posts the next one only then (src/extension/postFlow.ts)
    await w.waitForPosted(MessageType.Received);
    assert.deepEqual(
      (await w.posted()).map((m) => m.type),
      [MessageType.Ready, MessageType.Received],
    );

    const rows = await tableValues(w.page);
    assert.equal(rows.length, 14);
    assert.deepEqual(
      rows.map((r) => r.layer),
      analysis.result.layers.map((l) => l.name),
    );
    assert.equal(await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '120');
    assert.equal(checkAgainstExpected(rows, 'adam_base', 120), 14 * 6);

    // Another step from the selector: the series' numbers for that step.
    for (const step of [60, 2, 1]) {
      await w.page.selectOption('#step-select', String(step));
      checkAgainstExpected(await tableValues(w.page), 'adam_base', step);
    }
    // Zero-initialised pos_embed at step 1: relative step undefined → empty data-value, em dash.
    const posEmbed = (await tableValues(w.page)).find((r) => r.layer === 'pos_embed')!;
    assert.equal(posEmbed.cells.relStep.value, '');
    assert.equal(posEmbed.cells.relStep.text, '—');
    assert.equal(posEmbed.cells.epsDominatedFraction.text, '6.25%');
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('draws the charts (non-blank canvases) and redraws them in the theme colors when the theme changes', async () => {
    const analysis = await analyzeFixture('adam_base', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('adam_base', analysis));
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    for (const id of ['#chart-rel-step', '#chart-param-scale']) {
      const ink = await canvasInk(w.page, id);
      assert.ok(ink > 0.01, `${id} has drawn pixels (${ink})`);
    }
    // The first series color is --vscode-charts-blue: make it pure magenta and see magenta lines.
    assert.equal(await canvasColorCount(w.page, '#chart-rel-step', [255, 0, 255], 30), 0);
    await w.page.evaluate(() => document.documentElement.style.setProperty('--vscode-charts-blue', '#ff00ff'));
    await w.page.waitForFunction(() => true);
    await w.page.waitForTimeout(50);
    const magenta = await canvasColorCount(w.page, '#chart-rel-step', [255, 0, 255], 30);
    assert.ok(magenta > 50, `relative-step chart redrawn with the new theme color (${magenta} px)`);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('applies the VS Code theme variables to the DOM (dark and light) and the vscode-elements render under the CSP', async () => {
    const analysis = await analyzeFixture('adam_base', 'stats.jsonl');
    for (const [name, theme, bodyClass] of [
      ['dark', undefined, 'vscode-dark'],
      ['light', LIGHT_THEME, 'vscode-light'],
    ] as const) {
      const w = await openWebview(browser, { theme, bodyClass });
      await w.waitForPosted(MessageType.Ready);
      await w.send(showAnalysis('adam_base/stats.jsonl', analysis));
      await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
      const colors = await w.page.evaluate(() => ({
        body: getComputedStyle(document.body).color,
        background: getComputedStyle(document.body).backgroundColor,
        muted: getComputedStyle(document.querySelector('#layer-table thead th')!).color,
      }));
      const fg = name === 'dark' ? 'rgb(204, 204, 204)' : 'rgb(59, 59, 59)';
      assert.equal(colors.body, fg, `${name}: body text uses --vscode-foreground`);
      assert.equal(colors.background, name === 'dark' ? 'rgb(31, 31, 31)' : 'rgb(255, 255, 255)');
      assert.equal(colors.muted, name === 'dark' ? 'rgb(157, 157, 157)' : 'rgb(113, 113, 113)');
      // @vscode-elements (Lit, constructable stylesheets): the badge's shadow styles apply under style-src.
      const badge = await w.page.$eval('#findings-count', (el) => {
        const inner = el.shadowRoot?.querySelector('div, span') as HTMLElement | null;
        return {
          hasShadow: !!el.shadowRoot,
          adopted: el.shadowRoot?.adoptedStyleSheets.length ?? 0,
          bg: inner ? getComputedStyle(inner).backgroundColor : null,
        };
      });
      assert.ok(badge.hasShadow, 'vscode-badge upgraded');
      assert.ok(badge.adopted > 0, 'its styles are adopted constructable stylesheets');
      assert.equal(badge.bg, 'rgb(97, 97, 97)', 'the badge uses --vscode-badge-background');
      assert.deepEqual(w.errors, [], `${name}: no CSP violations or errors`);
      await w.page.screenshot({ path: join(resultsDir(), `dashboard-${name}.png`), fullPage: true });
      await w.page.context().close();
    }
  });

  it('selects the step and highlights the row when a finding is clicked; sort and step survive a reload (getState)', async () => {
    const analysis = await analyzeFixture('adam_base', 'stats.jsonl');
    const found = analysis.result.findings.find((f) => f.step !== null && (f.layer !== null || f.layers?.length));
    assert.ok(found, 'the adam_base analysis has a finding tied to layers and a step');
    // A grouped finding highlights its most extreme layer.
    const worst = (found.evidence as { worst?: { layer: string } }).worst;
    const finding = { ...found, layer: found.layer ?? worst?.layer ?? found.layers![0] };
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    const message = showAnalysis('adam_base', analysis);
    await w.send(message);
    await w.page.waitForSelector('#findings li[data-rule]');
    await w.page.selectOption('#step-select', '2');
    const li = w.page.locator(`#findings li[data-rule="${finding.rule}"][data-layer="${finding.layer}"]`).first();
    await li.click();
    assert.equal(await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), String(finding.step));
    const highlighted = await w.page.$$eval('#layer-table tr.highlight', (rows) => rows.map((r) => r.getAttribute('data-layer')));
    assert.deepEqual(highlighted, [finding.layer]);

    // Sort by relative step, descending (two clicks).
    await w.page.click('#layer-table th[data-sort="relStep"]');
    await w.page.click('#layer-table th[data-sort="relStep"]');
    const sorted = (await tableValues(w.page))
      .map((r) => r.cells.relStep.value)
      .filter((v) => v !== '')
      .map(Number);
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => b - a),
    );
    await w.page.selectOption('#step-select', '60');
    const before = (await tableValues(w.page)).map((r) => r.layer);

    await w.page.reload();
    await w.waitForPosted(MessageType.Ready); // a fresh page posts Ready again
    await w.send(message);
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    assert.equal(await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '60');
    assert.deepEqual(
      (await tableValues(w.page)).map((r) => r.layer),
      before,
    );
    assert.equal(await w.page.$eval('#layer-table th[data-sort="relStep"]', (th) => th.getAttribute('aria-sort')), 'descending');
    assert.deepEqual(await w.page.$$eval('#layer-table tr.highlight', (rows) => rows.map((r) => r.getAttribute('data-layer'))), [
      finding.layer,
    ]);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('shows the lr-without-scale banner for a log without scales, and its button asks the host for the snippet', async () => {
    const analysis = await analyzeFixture('adam_base', 'train_log.jsonl');
    assert.ok(analysis.result.findings.some((f) => f.rule === 'lr-without-scale'));
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('train_log.jsonl', analysis));
    await w.page.waitForSelector('#lr-without-scale-banner');
    const text = await w.page.textContent('#lr-without-scale-banner');
    assert.match(text!, /param(eter)? RMS/i);
    assert.match(text!, /init scale/i);
    assert.equal(await w.page.locator('#findings li[data-rule="lr-without-scale"]').count(), 1);
    await w.page.click('#banner-insert-snippet');
    await w.waitForPosted(MessageType.InsertLoggingSnippet);
    await w.page.click('#export-report');
    await w.waitForPosted(MessageType.ExportReport);
    await w.page.screenshot({ path: join(resultsDir(), 'dashboard-lr-without-scale.png'), fullPage: true });

    // A run with scales has no banner.
    await w.send(showAnalysis('adam_base', await analyzeFixture('adam_base', 'stats.jsonl')));
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    assert.equal(await w.page.locator('#lr-without-scale-banner').count(), 0);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('live tail: an update message adds the new steps, keeps the view, and follows the newest step', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { analyzePaths } = await import('../../src/core/pipeline');
    const { fixturePath } = await import('../support/fixtures');
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    const partial = join(mkdtempSync(join(tmpdir(), 'ol-live-')), 'stats.jsonl');
    writeFileSync(partial, lines.filter((l) => (JSON.parse(l) as { step: number }).step <= 60).join('\n') + '\n');
    const early = await analyzePaths([partial]);
    const full = await analyzeFixture('adam_base', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('stats.jsonl', early, { live: true }));
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    assert.equal(await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '60');
    assert.equal(await w.page.locator('#live-badge').count(), 1);
    await w.page.click('#layer-table th[data-sort="paramRms"]'); // a user choice the update must keep
    await w.send(showAnalysis('stats.jsonl', full, { live: true, update: true }));
    await w.page.waitForFunction(() => (document.querySelector('#step-select') as HTMLSelectElement).options.length === 120);
    assert.equal(await w.page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '120');
    assert.equal(checkAgainstExpected(await tableValues(w.page), 'adam_base', 120), 14 * 6);
    assert.equal(await w.page.$eval('#layer-table th[data-sort="paramRms"]', (th) => th.getAttribute('aria-sort')), 'ascending');
    assert.ok((await canvasInk(w.page, '#chart-rel-step')) > 0.01);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('shows the equivalence view: (lr, scale, eps) pairs and the lr per layer for the target relative step', async () => {
    const analysis = await analyzeFixture('adam_base', 'stats.jsonl');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('adam_base', analysis));
    await w.page.waitForSelector('#equivalence #equivalence-table');
    const pairs = await w.page.$$eval('#equivalence-table tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td[data-value]')].map((td) => Number(td.getAttribute('data-value')))),
    );
    const current = pairs[2]; // k = 1: this run
    assertClose(current[0], 3e-4, 1e-12, 'this run lr');
    const ten = pairs[4];
    assertClose(ten[0], 3e-3, 1e-12, 'lr ×10');
    assertClose(ten[1], current[1] * 10, 1e-12, 'scale ×10');
    assertClose(current[2], 1e-8, 1e-12, 'this run eps');
    assertClose(ten[2], 1e-9, 1e-12, 'eps ÷10');
    // lr for target 1e-3 from the measured relative step at step 120: lr · 1e-3 / rel_step.
    const expected = loadExpected('adam_base').steps['120'];
    const lrTarget = await w.page.$$eval('#target-lr-table tbody tr', (rows) =>
      Object.fromEntries(
        rows.map((r) => [r.getAttribute('data-layer'), r.querySelector('td[data-field="lrForTarget"]')!.getAttribute('data-value')]),
      ),
    );
    assertClose(Number(lrTarget['embed.weight']), (3e-4 * 1e-3) / expected['embed.weight'].rel_step!, 1e-9, 'lr for target, embed.weight');
    await w.page.context().close();
  });
});
