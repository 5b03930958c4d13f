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
import { canvasInk, ensureWebviewBundle, launchBrowser, LIGHT_THEME, openWebview, resultsDir, settled } from './harness';

let browser: Browser;

before(async () => {
  await ensureWebviewBundle();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('dashboard empty and single-step states', () => {
  it('trainer_state.json: no empty axes or table; what the log has (loss, grad norm, lr) as run charts, what to log to get more', async () => {
    const analysis = await analyzeFixture('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json');
    assert.equal(analysis.result.layers.length, 0, 'the fixture has no per-layer figures');
    const w = await openWebview(browser);
    await w.waitForPosted(MessageType.Ready);
    await w.send(showAnalysis('trainer_state.json', analysis));
    await w.page.waitForSelector('#lr-without-scale-banner');
    // No per-layer chart card at all (each would only repeat that the log lacks per-layer figures).
    for (const id of ['chart-rel-step', 'chart-param-scale', 'chart-u-dist']) {
      assert.equal(await w.page.locator(`#${id}`).isVisible(), false, `#${id} is hidden`);
    }
    for (const id of ['#rel-step-card', '#param-scale-card', '#u-dist-card']) assert.equal(await w.page.locator(id).isVisible(), false);
    // The table: no header row of an empty table, a sentence instead that names what the log has and what to log.
    assert.equal(await w.page.locator('#layer-table').isVisible(), false);
    const note = (await w.page.locator('#table-note').innerText()).replace(/\s+/g, ' ');
    assert.match(note, /No per-layer figures in this input: it logs/);
    // the keys the log really has (HF trainer_state log_history)
    assert.match(note, /loss/);
    assert.match(note, /grad norm/);
    assert.match(note, /parameter RMS/);
    assert.match(note, /Insert Logging Snippet to log them/);
    assert.equal(await w.page.locator('#layer-filter').isVisible(), false);
    // What the log does have, as context: loss, global grad norm and the lr schedule over steps.
    await w.page.waitForSelector('#context-card');
    const signals = await w.page.$$eval('#context-card .signal', (els) => els.map((e) => e.getAttribute('data-signal')));
    assert.deepEqual(signals, ['loss', 'grad-norm', 'lr']);
    for (const id of ['#signal-loss', '#signal-grad-norm', '#signal-lr']) assert.ok((await canvasInk(w.page, id)) > 0.01, `${id} drawn`);
    // No step selector (no per-layer step), but the element stays (DOM contract).
    assert.equal(await w.page.locator('#step-select').isVisible(), false);
    assert.equal(await w.page.locator('#step-select').count(), 1);
    assert.match(await w.page.locator('#run-steps').innerText(), /none with per-layer figures/);
    assert.equal(await w.page.locator('#live-badge').count(), 0);
    // the link in the note asks the host for the snippet
    await w.page.locator('#table-note a.insert-snippet-link').click();
    await w.waitForPosted(MessageType.InsertLoggingSnippet);
    await w.page.screenshot({ path: join(resultsDir(), 'dashboard-trainer-state.png'), fullPage: true });

    // With the tags the reader read (InputFacts.tags), the note names them as written in the file.
    await w.send(
      showAnalysis('trainer_state.json', analysis, {
        facts: {
          stateRoles: [],
          fromSettings: [],
          tags: [{ path: '/runs/checkpoint-120/trainer_state.json', read: ['loss', 'grad_norm', 'learning_rate'], unused: ['epoch'] }],
        },
      }),
    );
    await w.page.waitForFunction(() => /grad_norm/.test(document.querySelector('#table-note')?.textContent ?? ''));
    const tagged = (await w.page.locator('#table-note').innerText()).replace(/\s+/g, ' ');
    assert.match(tagged, /trainer_state\.json loss, grad_norm, learning_rate \(not used: epoch\)/);
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

    await settled(w.page);
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
