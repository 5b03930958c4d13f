// Dashboard states a user meets on thin inputs, in headless Chromium with the real bundle: a
// trainer_state.json (run-level figures only: no canvases, an explanation instead) and one
// safetensors snapshot (one step: points per layer, not a vertical line; the header says the file holds
// Adam state and that betas/eps come from the settings).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { analyzePaths } from '../../src/core/pipeline';
import { MessageType } from '../../src/shared/protocol';
import { fixturePath, loadExpected } from '../support/fixtures';
import { analyzeFixture, showAnalysis } from './analysisFixtures';
import { canvasInk, ensureWebviewBundle, launchBrowser, LIGHT_THEME, openWebview, resultsDir } from './harness';

let browser: Browser;

before(async () => {
  await ensureWebviewBundle();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('dashboard empty and single-step states', () => {
  it('trainer_state.json: no empty axes; each chart says what the log lacks and offers the snippet', async () => {
    const analysis = await analyzeFixture('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json');
    assert.equal(analysis.result.layers.length, 0, 'the fixture has no per-layer figures');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('trainer_state.json', analysis));
    await w.page.waitForSelector('#lr-without-scale-banner');
    for (const id of ['chart-rel-step', 'chart-param-scale', 'chart-u-dist']) {
      assert.equal(await w.page.locator(`#${id}`).isVisible(), false, `#${id} is hidden`);
    }
    const rel = w.page.locator('.chart-card:has(#chart-rel-step) .empty-note');
    assert.equal(await rel.isVisible(), true);
    const text = (await rel.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /No per-layer relative steps in this input: it logs only/);
    // the keys the log really has (HF trainer_state log_history)
    assert.match(text, /loss/);
    assert.match(text, /grad norm/);
    assert.match(text, /Insert Logging Snippet to log them/);
    // the threshold note of an empty chart is not shown
    assert.equal(await w.page.locator('.chart-card:has(#chart-rel-step) .note:not(.empty-note)').isVisible(), false);
    // the table: no header row of an empty table, a sentence instead; no step selector
    assert.equal(await w.page.locator('#layer-table').isVisible(), false);
    assert.match(await w.page.locator('#table-note').innerText(), /No per-layer figures in this input: it logs/);
    assert.equal(await w.page.locator('#step-select').isVisible(), false);
    assert.equal(await w.page.locator('#step-select').count(), 1, 'the element stays (DOM contract)');
    assert.match(await w.page.locator('#run-steps').innerText(), /none with per-layer figures/);
    assert.equal(await w.page.locator('#live-badge').count(), 0);
    // the link in the note asks the host for the snippet
    await rel.locator('a.insert-snippet-link').click();
    await w.waitForPosted(MessageType.InsertLoggingSnippet);
    await w.page.screenshot({ path: join(resultsDir(), 'dashboard-trainer-state.png'), fullPage: true });
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });

  it('one safetensors snapshot: points per layer (layers on x) and a header that names the Adam state and the settings figures', async () => {
    const path = fixturePath('adam_base', 'tensors', 'step_000120.safetensors');
    // What the extension's worker does for a file without betas/eps: the settings' defaults, labelled.
    const analysis = await analyzePaths([path], { betas: [0.9, 0.999], eps: 1e-8 });
    // (the file states no optimizer hyper-parameter source, so the worker's label is the settings alone)
    analysis.result.optimizer.source = 'settings defaults (betas, eps)';
    const w = await openWebview(browser, { theme: LIGHT_THEME, bodyClass: 'vscode-light' });
    await w.waitForPosted(MessageType.Ready);
    await w.send(
      showAnalysis('step_000120.safetensors', analysis, {
        facts: { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: ['betas', 'eps'] },
      }),
    );
    await w.page.waitForSelector('#layer-table tbody tr[data-layer]');
    assert.equal(
      await w.page.locator('#layer-table tbody tr[data-layer]').count(),
      Object.keys(loadExpected('adam_base').steps['120']).filter((k) => k !== 'global').length,
    );

    const optimizer = await w.page.locator('#run-optimizer').innerText();
    assert.doesNotMatch(optimizer, /unknown/);
    assert.match(optimizer, /Adam-family/);
    const prov = (await w.page.locator('#run-provenance').innerText()).replace(/\s+/g, ' ');
    assert.equal(prov, 'Adam state found (exp_avg, exp_avg_sq); betas 0.9, 0.999 and ε 1e-8 from settings (the file does not state them).');
    assert.match(await w.page.locator('#run-steps').innerText(), /^step 120$/);
    assert.equal(await w.page.locator('#live-badge').count(), 0);

    for (const id of ['#chart-rel-step', '#chart-param-scale']) {
      assert.equal(await w.page.locator(id).getAttribute('data-mode'), 'per-layer', `${id} draws one point per layer`);
      const ink = await canvasInk(w.page, id);
      assert.ok(ink > 0.01, `${id} has drawn pixels (${ink})`);
    }
    await w.page.locator('#chart-rel-step').scrollIntoViewIfNeeded();
    await w.page.screenshot({ path: join(resultsDir(), 'dashboard-single-step.png'), fullPage: true });

    // A multi-step log afterwards: back to lines over steps; a stated optimizer has no provenance line.
    await w.send(showAnalysis('stats.jsonl', await analyzeFixture('adam_base', 'stats.jsonl')));
    await w.page.waitForFunction(() => document.querySelector('#chart-rel-step')?.getAttribute('data-mode') === 'steps');
    assert.equal(await w.page.locator('#run-provenance').count(), 0);

    // A torch optimizer checkpoint states its class and betas/eps: named as stated, no provenance line.
    const ckpt = await analyzeFixture('adamw_wd0.05', 'checkpoint-120', 'optimizer.pt');
    await w.send(showAnalysis('optimizer.pt', ckpt, { facts: { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: [] } }));
    await w.page.waitForFunction(() => /AdamW/.test(document.querySelector('#run-optimizer')?.textContent ?? ''));
    assert.equal(await w.page.locator('#run-provenance').count(), 0);
    assert.match(await w.page.locator('#run-meta').innerText(), /stated in\s+the checkpoint/);
    assert.doesNotMatch(await w.page.locator('#run-meta').innerText(), /settings/);
    assert.deepEqual(w.errors, []);
    await w.page.context().close();
  });
});
