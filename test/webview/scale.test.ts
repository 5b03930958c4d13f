// The dashboard for hundreds of tensors, in headless Chromium with the real bundle: a Llama-7B-shaped run
// (291 tensors × 2,000 steps, test/support/llamaRun.ts). What it must show — the block × kind heatmap with
// the step slider, per-kind bands instead of 291 lines, the table grouped by block with a filter, grouped
// findings listing their layers, the run summary — and how long input → render takes (printed, never
// asserted: speed is measured, not tested). Screenshots of every view go to test-results/webview/.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { MessageType } from '../../src/shared/protocol';
import { llamaRunAnalysis, STRAY_HIGH } from '../support/llamaRun';
import type { RunAnalysis } from '../../src/core/analysis';
import { canvasInk, ensureWebviewBundle, launchBrowser, openWebview, resultsDir, settled, type WebviewPage } from './harness';

let browser: Browser;
let analysis: RunAnalysis;
const timings: Record<string, string> = {};

before(async () => {
  await ensureWebviewBundle();
  browser = await launchBrowser();
  analysis = llamaRunAnalysis();
});
after(async () => {
  await browser?.close();
  console.log(
    `input → render at 291 tensors × 2,000 steps (ms):\n${Object.entries(timings)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n')}`,
  );
});

/** Milliseconds from an action in the page to the second frame after it (the frame its render painted in). */
async function timeInPage(page: Page, action: string): Promise<number> {
  // A string, not a function: tsx/esbuild helpers (__name) do not exist in the page.
  return page.evaluate(`(async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const t0 = performance.now();
    ${action}
    await frame();
    await frame();
    return performance.now() - t0;
  })()`) as Promise<number>;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `median ${s[s.length >> 1].toFixed(0)}, max ${s[s.length - 1].toFixed(0)} (${s.length} runs)`;
}

async function open(): Promise<WebviewPage> {
  const w = await openWebview(browser, { width: 1280, height: 900, pageSupport: true });
  await w.waitForPosted(MessageType.Ready);
  // The message is made in the page (inPage.ts): the same data as `analysis`, posted as the host posts it.
  await w.page.evaluate('window.__llama = __olTest.llamaMessage()');
  return w;
}

/** The run's lr has decayed to ~0 at its report step, so the heatmap opens over steps (per kind). */
async function show(w: WebviewPage): Promise<{ first: number; complete: number }> {
  return w.postTimed('window.__llama', '#heatmap-time');
}

/** Switch the heatmap to block × kind at the step. */
async function blocksLayout(page: Page): Promise<void> {
  await page.selectOption('#heatmap-mode', 'blocks');
  await page.locator('#heatmap-grid td.hm-cell').first().waitFor();
}

describe('dashboard at LLM scale (291 tensors × 2,000 steps)', () => {
  it('first view: heatmap 32 blocks × 9 kinds at the last full step, bands not 291 lines, grouped table, grouped findings, run summary', async () => {
    const w = await open();
    const { first, complete } = await show(w);
    timings['first view (message → header, findings, run signals, heatmap, table painted)'] = first.toFixed(0);
    timings['complete (+ bands and outliers of the charts, equivalence table)'] = complete.toFixed(0);
    const page = w.page;
    // The report step defaults to the summary's last full step.
    assert.equal(await page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '20000');
    // There the cosine schedule has decayed the lr to 1.85e-10: the map at that step would be one colour, so the
    // heatmap opens over steps, one row per kind, and says why.
    assert.equal(await page.$eval('#heatmap-mode', (s) => (s as HTMLSelectElement).value), 'kinds-time');
    assert.equal(await page.getAttribute('#heatmap-time', 'data-rows'), '12');
    assert.match(
      await page.locator('#heatmap-note').innerText(),
      /Opened over steps: at the report step 20,000 the lr schedule has decayed to 1\.85e-10 \(peak 3e-4\)/,
    );
    await page.locator('#heatmap-card').screenshot({ path: join(resultsDir(), 'scale-heatmap-first.png') });
    await blocksLayout(page);
    assert.match(await page.locator('#heatmap-note').innerText(), /^Relative step per step .* at step 20,000\./);
    // Heatmap: one row per block, one column per kind a block computes; the three tensors outside blocks as chips.
    const grid = await page.$$eval('#heatmap-grid tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td.hm-cell').length));
    assert.equal(grid.length, 32);
    assert.ok(grid.every((n) => n === 9));
    assert.deepEqual(await page.$$eval('#heatmap-grid thead th', (ths) => ths.slice(1).map((t) => t.textContent)), [
      'attn norm',
      'q',
      'k',
      'v',
      'o',
      'mlp norm',
      'gate',
      'up',
      'down',
    ]);
    assert.deepEqual(await page.$$eval('.hm-outside .hm-chip', (b) => b.map((x) => x.getAttribute('data-layer'))), [
      'model.embed_tokens.weight',
      'model.norm.weight',
      'lm_head.weight',
    ]);
    // Every cell is coloured by its tensor's relative step at that step (the data-value is the engine's figure).
    const cell = await page.$eval(`#heatmap-grid td[data-layer="${STRAY_HIGH}"]`, (td) => ({
      value: Number((td as HTMLElement).dataset.value),
      bg: getComputedStyle(td).backgroundColor,
    }));
    const strayAtLast = analysis.result.layers.find((l) => l.name === STRAY_HIGH)!.relStep!;
    assert.equal(cell.value, strayAtLast);
    assert.notEqual(cell.bg, 'rgba(0, 0, 0, 0)');
    // Charts: per-kind median and band, the stray tensor as its own line.
    assert.equal(await page.getAttribute('#chart-rel-step', 'data-mode'), 'bands');
    assert.ok((await canvasInk(page, '#chart-rel-step')) > 0.01);
    const datasets = await page.evaluate(() => {
      const canvas = document.querySelector('#chart-rel-step') as HTMLCanvasElement & { $chartjs?: unknown };
      return canvas ? canvas.getAttribute('data-mode') : null;
    });
    assert.equal(datasets, 'bands');
    // Table: grouped by block, collapsed at this size: 34 group rows (embed, 32 blocks, norm + head), no tensor rows yet.
    assert.equal(await page.locator('#layer-table tbody tr.block-row').count(), 34);
    assert.equal(await page.locator('#layer-table tbody tr[data-layer]').count(), 0);
    // Findings: one per rule and cause; the lr-near-zero one lists all 291 tensors by block.
    const nearZero = page.locator('#findings li[data-rule="relative-step-low"][data-cause="lr-near-zero"]');
    assert.equal(await nearZero.count(), 1);
    assert.match(await nearZero.locator('.finding-where').innerText(), /all 291 tensors/);
    assert.match(await nearZero.locator('.cause').innerText(), /lr near zero/);
    assert.equal(await nearZero.locator('.finding-layers a[data-layer]').count(), 291);
    assert.ok((await page.locator('#findings li[data-rule]').count()) <= 8, 'grouped: a handful of findings, not 291 rows');
    // Header: the run at a glance.
    assert.match(await page.locator('#run-steps').innerText(), /10–20,000 \(2,000\)/);
    assert.match(await page.locator('#run-lr-schedule').innerText(), /peak 3e-4 at step 500/);
    assert.match(await page.locator('#run-lr-schedule').innerText(), /1\.85e-10 at step 20,000/);
    assert.match(await page.locator('#run-last-full').innerText(), /20,000/);
    assert.match(await page.locator('#run-optimizer').innerText(), /AdamW/);
    assert.match(await page.locator('#run-lr-meaning').innerText(), /Under AdamW/);
    // Run context: loss (with its spike), grad norm, lr.
    assert.equal(await page.locator('#context-card .signal').count(), 3);
    assert.equal(await page.getAttribute('#signal-lr', 'data-scale'), 'log', 'an lr decayed to ~0 is drawn on a log axis');
    await page.screenshot({ path: join(resultsDir(), 'scale-dashboard.png'), fullPage: true });
    assert.deepEqual(w.errors, []);
    await page.context().close();
  });

  it('stays responsive: step slider, sort, filter, heatmap click, layouts — input → render timed, each checked for its effect', async () => {
    const w = await open();
    await show(w);
    await blocksLayout(w.page);
    const page = w.page;
    // Step slider: drag across the run (the heatmap, header, findings flags follow).
    const slider: number[] = [];
    for (const i of [0, 1999, 1000, 500, 250, 1500, 1750, 100, 42, 1234, 777, 1900, 60, 1300, 10, 20]) {
      slider.push(
        await timeInPage(
          page,
          `const s = document.querySelector('#step-slider'); s.value = '${i}'; s.dispatchEvent(new Event('input', { bubbles: true }));`,
        ),
      );
      assert.equal(await page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), String(analysis.result.steps[i]));
    }
    timings['step slider (heatmap + header + table groups + equivalence table)'] = stats(slider);
    const at = await page.$eval(`#heatmap-grid td[data-layer="${STRAY_HIGH}"]`, (td) => Number((td as HTMLElement).dataset.value));
    const s = analysis.series.find((x) => x.layer === STRAY_HIGH)!;
    assert.equal(at, s.figures.relStep[s.steps.indexOf(analysis.result.steps[20])]);

    // Expand every block (the heaviest table: 291 rows), then slide, sort and filter.
    await page.click('#group-blocks');
    assert.equal(await page.locator('#layer-table tbody tr[data-layer]').count(), 291);
    const sliderFlat: number[] = [];
    for (const i of [300, 1600, 900, 1999, 5, 1100, 450, 1400]) {
      sliderFlat.push(
        await timeInPage(
          page,
          `const s = document.querySelector('#step-slider'); s.value = '${i}'; s.dispatchEvent(new Event('input', { bubbles: true }));`,
        ),
      );
    }
    timings['step slider, all 291 rows shown'] = stats(sliderFlat);
    const sort: number[] = [];
    for (let k = 0; k < 6; k++)
      sort.push(await timeInPage(page, `document.querySelector('#layer-table th[data-sort="relStep"]').click();`));
    timings['sort by relative step (291 rows)'] = stats(sort);
    const rel = (
      await page.$$eval('#layer-table tbody tr[data-layer] td[data-field="relStep"]', (tds) => tds.map((t) => t.getAttribute('data-value')))
    )
      .filter((v) => v !== '')
      .map(Number);
    assert.deepEqual(
      rel,
      [...rel].sort((a, b) => b - a),
    );
    const filter: number[] = [];
    for (const text of ['q_proj', 'layers.3', 'down', 'mlp norm', '']) {
      filter.push(
        await timeInPage(
          page,
          `const f = document.querySelector('#layer-filter'); f.value = ${JSON.stringify(text)}; f.dispatchEvent(new Event('input', { bubbles: true }));`,
        ),
      );
    }
    timings['filter box (291 rows)'] = stats(filter);
    await page.fill('#layer-filter', 'k_proj');
    await page.waitForFunction(() => document.querySelectorAll('#layer-table tbody tr[data-layer]').length === 32);
    await page.fill('#layer-filter', 'mlp norm');
    await page.waitForFunction(() => document.querySelectorAll('#layer-table tbody tr[data-layer]').length === 32);
    assert.match(await page.locator('#table-note').innerText(), /32 of 291 tensors match/);
    await page.fill('#layer-filter', '');

    // Heatmap click: that tensor's series opens (with its figures at the step), its table row highlights.
    const click = await timeInPage(page, `document.querySelector('#heatmap-grid td[data-layer="${STRAY_HIGH}"]').click();`);
    timings['heatmap click → tensor series'] = click.toFixed(0);
    assert.equal(await page.locator('#tensor-card').isVisible(), true);
    assert.equal(await page.getAttribute('#tensor-card', 'data-layer'), STRAY_HIGH);
    assert.equal(await page.getAttribute('#tensor-card', 'data-kind'), 'k');
    assert.ok((await canvasInk(page, '#chart-tensor-rel')) > 0.01);
    assert.deepEqual(await page.$$eval('#layer-table tr.highlight', (r) => r.map((x) => x.getAttribute('data-layer'))), [STRAY_HIGH]);
    await page.locator('#tensor-card').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(resultsDir(), 'scale-tensor.png') });

    // Over time: one row per kind, then per block.
    const kinds = await timeInPage(
      page,
      `const m = document.querySelector('#heatmap-mode'); m.value = 'kinds-time'; m.dispatchEvent(new Event('change'));`,
    );
    assert.equal(await page.getAttribute('#heatmap-time', 'data-rows'), '12');
    assert.equal(await page.getAttribute('#heatmap-time', 'data-steps'), '2000');
    assert.ok((await canvasInk(page, '#heatmap-time')) > 0.2);
    await page.locator('#heatmap-card').scrollIntoViewIfNeeded();
    await page.locator('#heatmap-card').screenshot({ path: join(resultsDir(), 'scale-heatmap-kinds-time.png') });
    const blocks = await timeInPage(
      page,
      `const m = document.querySelector('#heatmap-mode'); m.value = 'blocks-time'; m.dispatchEvent(new Event('change'));`,
    );
    assert.equal(await page.getAttribute('#heatmap-time', 'data-rows'), '34');
    await page.locator('#heatmap-card').screenshot({ path: join(resultsDir(), 'scale-heatmap-blocks-time.png') });
    timings['heatmap over time (per kind / per block)'] = `${kinds.toFixed(0)} / ${blocks.toFixed(0)}`;
    const sliderTime: number[] = [];
    for (const i of [100, 1800, 700, 1300]) {
      sliderTime.push(
        await timeInPage(
          page,
          `const s = document.querySelector('#step-slider'); s.value = '${i}'; s.dispatchEvent(new Event('input', { bubbles: true }));`,
        ),
      );
    }
    timings['step slider, heatmap over time'] = stats(sliderTime);
    // A click on the map over time selects that step.
    const box = (await page.locator('#heatmap-time').boundingBox())!;
    await page.mouse.click(box.x + box.width - 4, box.y + 5);
    assert.ok(Number(await page.$eval('#step-select', (s) => (s as HTMLSelectElement).value)) >= 19_900);

    // Every tensor as a line (291 × 2,000 points through Chart.js decimation), then the slider again.
    const lines = await timeInPage(
      page,
      `const m = document.querySelector('#chart-mode'); m.value = 'lines'; m.dispatchEvent(new Event('change'));`,
    );
    assert.equal(await page.getAttribute('#chart-rel-step', 'data-mode'), 'steps');
    const sliderLines: number[] = [];
    for (const i of [200, 1700, 900, 1999]) {
      sliderLines.push(
        await timeInPage(
          page,
          `const s = document.querySelector('#step-slider'); s.value = '${i}'; s.dispatchEvent(new Event('input', { bubbles: true }));`,
        ),
      );
    }
    timings['charts: every tensor as a line (switch)'] = lines.toFixed(0);
    timings['step slider, 291 lines drawn'] = stats(sliderLines);
    await page.locator('#rel-step-card').scrollIntoViewIfNeeded();
    await page
      .locator('.charts')
      .first()
      .screenshot({ path: join(resultsDir(), 'scale-charts-lines.png') });
    assert.deepEqual(w.errors, []);

    // State across hide/show: the filter, grouping, layouts and selection come back after a reload.
    await page.fill('#layer-filter', 'gate');
    await page.waitForFunction(() => document.querySelectorAll('#layer-table tbody tr[data-layer]').length === 32);
    await page.reload();
    await w.waitForPosted(MessageType.Ready);
    await page.evaluate('window.__llama = __olTest.llamaMessage()');
    await w.postTimed('window.__llama', '#heatmap-time');
    assert.equal(await page.$eval('#layer-filter', (f) => (f as HTMLInputElement).value), 'gate');
    assert.equal(await page.locator('#layer-table tbody tr[data-layer]').count(), 32);
    assert.equal(await page.$eval('#heatmap-mode', (s) => (s as HTMLSelectElement).value), 'blocks-time');
    assert.equal(await page.$eval('#chart-mode', (s) => (s as HTMLSelectElement).value), 'lines');
    assert.equal(await page.getAttribute('#tensor-card', 'data-layer'), STRAY_HIGH);
    assert.equal(await page.$eval('#group-blocks', (c) => (c as HTMLInputElement).checked), false);
    assert.deepEqual(w.errors, []);
    await page.context().close();
  });

  it('live: appended steps show in the step list, the table and heatmap follow the newest step, findings, filter and layout stay; a backlog renders once', async () => {
    const w = await open();
    await show(w);
    const page = w.page;
    await settled(page);
    await blocksLayout(page);
    const findings = await page.locator('#findings > li').count();
    await page.fill('#layer-filter', 'q_proj');
    await page.waitForFunction(() => document.querySelectorAll('#layer-table tbody tr[data-layer]').length === 32);
    // Three refreshes at once (a view that fell behind), each extending the one before.
    await page.evaluate('window.__appends = [[2000, 2001], [2001, 2002], [2002, 2003]].map(([a, b]) => __olTest.llamaAppendMessage(a, b))');
    const ms = await timeInPage(
      page,
      `for (const m of window.__appends) window.postMessage(m, '*');
       while (document.querySelector('#step-select option:last-child')?.value !== '20030') await frame();`,
    );
    timings['live append (3 messages of 1 step → the newest painted)'] = ms.toFixed(0);
    const grown = llamaRunAnalysis({ steps: 2003 });
    assert.equal(await page.locator('#step-select option').count(), 2003);
    // The user was at the newest step: they stay at the newest, and the table shows its figures.
    assert.equal(await page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), '20030');
    const q0 = 'model.layers.0.self_attn.q_proj.weight';
    const cell = await page.$eval(`#layer-table tr[data-layer="${q0}"] td[data-field="relStep"]`, (td) =>
      Number(td.getAttribute('data-value')),
    );
    assert.equal(cell, grown.result.layers.find((l) => l.name === q0)!.relStep);
    const hm = await page.$eval(`#heatmap-grid td[data-layer="${STRAY_HIGH}"]`, (td) => Number((td as HTMLElement).dataset.value));
    assert.equal(hm, grown.result.layers.find((l) => l.name === STRAY_HIGH)!.relStep);
    // What the appends do not change stays: the findings (until a whole-run pass), the filter.
    assert.equal(await page.locator('#findings > li').count(), findings);
    assert.equal(await page.$eval('#layer-filter', (f) => (f as HTMLInputElement).value), 'q_proj');
    assert.equal(await page.locator('#layer-table tbody tr[data-layer]').count(), 32);
    const trace = JSON.parse((await page.getAttribute('body', 'data-trace'))!) as { kind: string; rendered: number }[];
    assert.deepEqual(
      trace.map((t) => t.kind),
      ['append', 'append', 'append'],
    );
    timings['live append: renders for the 3 messages'] = String(new Set(trace.map((t) => t.rendered)).size);
    // A step that does not extend what is shown: the view asks for the whole state (Ready) instead.
    await page.evaluate(`window.postMessage(__olTest.llamaAppendMessage(2000, 2004), '*')`);
    await w.waitForPosted(MessageType.Ready, 2);
    assert.equal(await page.locator('#step-select option').count(), 2003);
    assert.deepEqual(w.errors, []);
    await page.context().close();
  });

  it("live: a whole-run pass's revision re-renders findings and steps from the points the view has; another base asks for the whole state", async () => {
    const w = await open();
    await show(w);
    const page = w.page;
    await settled(page);
    assert.ok((await page.locator('#findings > li').count()) > 1, 'several findings before');
    await page.fill('#layer-filter', 'q_proj');
    await page.waitForFunction(() => document.querySelectorAll('#layer-table tbody tr[data-layer]').length === 32);
    await page.evaluate('window.__revise = __olTest.llamaReviseMessage()');
    // the revision carries no series points: every step the pass keeps is one the view has
    assert.equal(await page.evaluate('window.__revise.packedSeries?.steps.byteLength ?? 0'), 0);
    const ms = await timeInPage(
      page,
      `window.postMessage(window.__revise, '*');
       const until = performance.now() + 60000;
       while (document.querySelector('#run-title')?.textContent !== 'llama-7b/ (revised)' && performance.now() < until) await frame();`,
    );
    assert.deepEqual(w.errors, []);
    assert.equal(await page.locator('#run-title').textContent(), 'llama-7b/ (revised)');
    timings['live revision (whole-run pass: findings, thinned steps → painted)'] = ms.toFixed(0);
    assert.equal(await page.locator('#findings > li').count(), 1, "the pass's findings");
    assert.equal(await page.locator('#step-select option').count(), 1000, 'the steps the pass kept');
    assert.equal(await page.$eval('#step-select option:last-child', (o) => (o as HTMLOptionElement).value), '20000');
    const a = llamaRunAnalysis();
    const q0 = 'model.layers.0.self_attn.q_proj.weight';
    const cell = await page.$eval(`#layer-table tr[data-layer="${q0}"] td[data-field="relStep"]`, (td) =>
      Number(td.getAttribute('data-value')),
    );
    assert.equal(cell, a.result.layers.find((l) => l.name === q0)!.relStep, 'the report step figures, from the points the view kept');
    assert.equal(await page.$eval('#layer-filter', (f) => (f as HTMLInputElement).value), 'q_proj', 'the filter stays');
    const trace = JSON.parse((await page.getAttribute('body', 'data-trace'))!) as { kind: string }[];
    assert.equal(trace.at(-1)!.kind, 'revise');
    // a revision of a state the view does not show: it asks for the whole state (Ready) instead
    await page.evaluate(`window.postMessage(__olTest.llamaReviseMessage({ lastStep: 20000, steps: 2000 }), '*')`);
    await w.waitForPosted(MessageType.Ready, 2);
    assert.equal(await page.locator('#step-select option').count(), 1000);
    assert.deepEqual(w.errors, []);
    await page.context().close();
  });

  it('a grouped finding lists its layers by block; a layer link selects that tensor at its last step there', async () => {
    const w = await open();
    await show(w);
    await blocksLayout(w.page);
    const page = w.page;
    const low = page.locator('#findings li[data-rule="relative-step-low"]:not([data-cause])');
    await low.locator('summary').click();
    const link = low.locator('.finding-layers a[data-layer]').first();
    const layer = (await link.getAttribute('data-layer'))!;
    const step = (await link.getAttribute('data-step'))!;
    await link.click();
    assert.equal(await page.$eval('#step-select', (s) => (s as HTMLSelectElement).value), step);
    assert.equal(await page.getAttribute('#tensor-card', 'data-layer'), layer);
    // Its block opened in the collapsed table, the row highlighted.
    assert.deepEqual(await page.$$eval('#layer-table tr.highlight', (r) => r.map((x) => x.getAttribute('data-layer'))), [layer]);
    // A full-page clip: an element screenshot taller than the window is stitched with the sticky header over it.
    const clip = await page.$eval('#findings-card', (e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height };
    });
    await page.screenshot({ path: join(resultsDir(), 'scale-findings.png'), fullPage: true, clip });
    assert.deepEqual(w.errors, []);
    await page.context().close();
  });
});
