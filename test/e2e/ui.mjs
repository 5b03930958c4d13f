// UI tests: a real VS Code workbench (code-server) in Debian chromium, driven by playwright-core.
// Each test saves a screenshot to test-results/e2e/<slug>.png. Run through test/e2e/run.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

export const uiTests = [];
const test = (name, fn, opts = {}) =>
  uiTests.push({
    name,
    fn,
    slug: name
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .toLowerCase(),
    ...opts,
  });

const REL_TOL = 1e-6;

// ---------------------------------------------------------------------------------------------- helpers

/** Bounded retry of a UI step that may legitimately fail while the workbench / extension is still starting. */
async function retry(what, attempts, fn, log) {
  let last;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await fn(i);
    } catch (e) {
      last = e;
      if (i < attempts) log?.(`${what}: attempt ${i} failed (${String(e.message).split('\n')[0]}), retrying`);
    }
  }
  throw last;
}

async function shot(env, name) {
  await env.page.screenshot({ path: path.join(env.results, `${name}.png`) });
}

async function closeQuickInput(page) {
  if (
    await page
      .locator('.quick-input-widget')
      .isVisible()
      .catch(() => false)
  )
    await page.keyboard.press('Escape');
}

/** Quick Open (Ctrl+P) a workspace-relative path and press Enter on the matching row. */
async function quickOpen(env, rel) {
  const { page } = env;
  const base = path.basename(rel);
  await retry(
    `quick open ${rel}`,
    5,
    async () => {
      await closeQuickInput(page);
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(rel);
      // the focused row must be this file (label = base name, description = its folder)
      const row = page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: base });
      await row.waitFor({ timeout: 10_000 });
      const desc = (await row.innerText()).replace(/\s+/g, ' ');
      const dir = path.dirname(rel);
      if (dir !== '.' && !desc.includes(dir.split('/').pop())) throw new Error(`focused row is '${desc}', not ${rel}`);
      await page.keyboard.press('Enter');
    },
    env.log,
  );
}

/** Runs a command through the real command palette (F1) by its title. */
async function runCommand(env, title) {
  const { page } = env;
  await retry(
    `palette '${title}'`,
    12,
    async () => {
      await closeQuickInput(page);
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(`>${title}`);
      // right after load the extension's contributed commands may not be listed yet: reopen
      await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: title }).waitFor({ timeout: 3000 });
      await page.keyboard.press('Enter');
    },
    env.log,
  );
  env.log(`palette: ran '${title}'`);
}

/** Closes every editor and the bottom panel (a clean stage for the next test). */
async function resetWorkbench(env) {
  const { page } = env;
  await closeQuickInput(page);
  await runCommand(env, 'View: Close All Editors');
  // a dirty editor asks whether to save: don't
  const dontSave = page.locator('.monaco-dialog-box .monaco-button', { hasText: /Don't Save/ });
  try {
    await dontSave.waitFor({ state: 'visible', timeout: 1500 });
    await dontSave.click();
  } catch {
    /* nothing dirty */
  }
  if (
    await page
      .locator('.part.panel')
      .isVisible()
      .catch(() => false)
  )
    await runCommand(env, 'View: Hide Panel');
}

/**
 * Types `folder` (ending in '/') into code-server's simple file dialog (a quick input holding a path) and waits
 * until the dialog lists that folder: `listed(rows)` holds for the texts of its rows (a folder-only dialog
 * lists subfolders only). The dialog sets its starting folder asynchronously and may overwrite a value typed
 * too early: then it is typed again.
 */
async function fileDialogAt(env, folder, listed) {
  const { page } = env;
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 30_000 });
  await retry(
    `file dialog at ${folder}`,
    8,
    async () => {
      await input.fill(folder);
      const t0 = Date.now();
      let rows = [];
      for (;;) {
        rows = (await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts()).map((r) => r.trim());
        if (listed(rows)) break;
        if (Date.now() - t0 > 10_000) throw new Error(`the dialog lists ${JSON.stringify(rows)}`);
        await page.waitForTimeout(200);
      }
      const value = await input.inputValue();
      if (value !== folder) throw new Error(`the dialog shows '${value}'`);
    },
    env.log,
  );
  return input;
}

/**
 * Presses the file dialog's `label` button until the dialog closes with the pick: where files and folders may
 * both be picked, the first press on a folder path enters the folder, the next picks it (as a user does).
 */
async function acceptFileDialog(env, input, label) {
  const { page } = env;
  const button = page.locator('.quick-input-widget .monaco-button', { hasText: label }).first();
  for (let i = 0; i < 3 && (await button.isVisible().catch(() => false)); i++) {
    const value = await input.inputValue().catch(() => '');
    env.log(`file dialog at '${value}': ${label}`);
    await button.click();
    // wait (bounded) for the dialog to move on: closed with the pick, or into the folder (then press again)
    await page
      .waitForFunction(
        (before) => {
          // eslint-disable-next-line no-undef -- runs in the page
          const i = document.querySelector('.quick-input-widget .quick-input-box input');
          return !i || !i.checkVisibility() || i.value !== before;
        },
        value,
        { timeout: 10_000 },
      )
      .catch(() => {});
  }
}

/** Go to line n (1-based) of the active editor with Ctrl+G, so Monaco renders it. */
async function gotoLine(env, n) {
  const { page } = env;
  await retry(
    `go to line ${n}`,
    3,
    async () => {
      await closeQuickInput(page);
      await page.keyboard.press('Control+G');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill(`:${n}`);
      await page
        .locator('.quick-input-widget .monaco-list-row', { hasText: `line ${n}` })
        .first()
        .waitFor({ timeout: 5000 });
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
    },
    env.log,
  );
}

/** Content frame of the visible webview (the one in the active editor group); the newest if several. */
function visibleWebview(page) {
  return page.locator('iframe.webview.ready').filter({ visible: true }).last().contentFrame().locator('#active-frame').contentFrame();
}

/** Waits (bounded) until selector is present in the visible webview; returns the webview's FrameLocator. */
async function waitInWebview(env, selector, timeout = 60_000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeout) {
    await failOnErrorPopup(env.page);
    const wv = visibleWebview(env.page);
    try {
      await wv.locator(selector).first().waitFor({ state: 'attached', timeout: 3000 });
      return wv;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`'${selector}' not in the visible webview after ${timeout} ms: ${last?.message?.split('\n')[0]}`);
}

/** Throws at once (instead of waiting out a timeout) when VS Code shows an error dialog or error notification. */
async function failOnErrorPopup(page) {
  const dialog = page.locator('.monaco-dialog-box');
  if (await dialog.isVisible().catch(() => false)) {
    const text = (await dialog.innerText().catch(() => '')).replace(/\s+/g, ' ');
    await page.keyboard.press('Escape');
    throw new Error(`error dialog: ${text}`);
  }
  const toast = page.locator('.notification-toast', { has: page.locator('.codicon-error') });
  if (
    await toast
      .first()
      .isVisible()
      .catch(() => false)
  ) {
    const text = (
      await toast
        .first()
        .innerText()
        .catch(() => '')
    ).replace(/\s+/g, ' ');
    throw new Error(`error notification: ${text}`);
  }
}

function relClose(actual, expected) {
  if (expected === null || expected === undefined) return actual === null || Number.isNaN(actual);
  if (expected === 0) return Math.abs(actual) < 1e-300;
  return Math.abs(actual - expected) <= REL_TOL * Math.abs(expected);
}

/** Reads `table#layer-table` from a webview: { layer: { field: number|null } } from the cells' data-value. */
async function readLayerTable(wv) {
  return wv.locator('table#layer-table').evaluate((table) => {
    const out = {};
    for (const tr of table.querySelectorAll('tr[data-layer]')) {
      const row = {};
      for (const td of tr.querySelectorAll('td[data-field]')) {
        const v = td.getAttribute('data-value');
        row[td.getAttribute('data-field')] = v === null || v === '' || v === 'null' ? null : Number(v);
      }
      out[tr.getAttribute('data-layer')] = row;
    }
    return out;
  });
}

/** Selects a step in #step-select (a native <select> or a vscode-single-select element). */
async function selectStep(wv, step) {
  const sel = wv.locator('#step-select');
  if (!(await sel.count())) return false;
  const tag = await sel.evaluate((e) => e.tagName.toLowerCase());
  if (tag === 'select') {
    const values = await sel.locator('option').evaluateAll((os) => os.map((o) => o.value));
    if (!values.includes(String(step))) throw new Error(`#step-select has no option ${step}: ${values.join(',')}`);
    await sel.selectOption(String(step));
  } else {
    await sel.evaluate((e, v) => {
      e.value = v;
      e.dispatchEvent(new Event('change', { bubbles: true }));
      e.dispatchEvent(new Event('input', { bubbles: true }));
    }, String(step));
  }
  return true;
}

function expectedFor(env, run) {
  return JSON.parse(fs.readFileSync(path.join(env.workspace, run, 'expected.json'), 'utf8'));
}

/** Compares the per-layer table with expected.json at `step` (the four fields every tensor file gives). */
function compareTable(table, expected, step) {
  const exp = expected.steps[String(step)];
  const layers = Object.keys(exp).filter((k) => k !== 'global');
  const map = { paramRms: 'param_rms', gradRms: 'grad_rms', adamUpdateRms: 'adam_u_rms', relStep: 'rel_step' };
  const problems = [];
  let compared = 0;
  for (const layer of layers) {
    const row = table[layer];
    if (!row) {
      problems.push(`no row for ${layer}`);
      continue;
    }
    for (const [field, key] of Object.entries(map)) {
      if (!(field in row)) {
        problems.push(`${layer}: no td[data-field=${field}]`);
        continue;
      }
      const a = row[field];
      const e = exp[layer][key];
      if (!relClose(a, e)) problems.push(`${layer}.${field}: ${a} vs expected ${e}`);
      compared++;
    }
  }
  return { problems, compared, layers: layers.length };
}

// ---------------------------------------------------------------------------------------------- tests

test(
  'workbench loads the fixture workspace',
  async (env) => {
    const { page } = env;
    await page.goto(env.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 180_000 });
    await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 180_000 });
    const rows = await page.locator('.explorer-folders-view .monaco-list-row').allInnerTexts();
    for (const d of ['adam_base', 'adamw_wd0.05', 'configs'])
      assert.ok(
        rows.some((r) => r.includes(d)),
        `explorer rows: ${rows}`,
      );
    await shot(env, 'workbench');
  },
  { required: true },
);

// --- configs: hover, Problems, quick fix in the real editor -------------------------------

/** Text of every row of the Problems panel (its list is virtualized: filter it to the file of interest first). */
async function problemRows(page) {
  return page
    .locator('.markers-panel .monaco-list-row')
    .allInnerTexts()
    .catch(() => []);
}

/** Opens the Problems panel and filters it to files matching `glob`. */
async function showProblemsFor(env, glob) {
  const { page } = env;
  await runCommand(env, 'View: Focus Problems');
  const filter = page.locator('.markers-panel-action-filter input, .viewpane-filter input').first();
  await filter.waitFor({ state: 'visible', timeout: 10_000 });
  await filter.fill(glob);
}

test(
  'config finetune.yaml: hover on lr line 16, warning in Problems, quick fix adds the scale and the warning goes away',
  async (env) => {
    const { page } = env;
    await resetWorkbench(env);
    await quickOpen(env, 'configs/finetune.yaml');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await gotoLine(env, 16);
    const lrLine = editor.locator('.view-line', { hasText: 'lr: 1e-4' });
    await lrLine.waitFor({ timeout: 30_000 });
    const value = lrLine.locator('span span', { hasText: '1e-4' }).first();

    // 1. hover: the provider is registered once the extension has activated (onLanguage:yaml): retry
    // wait for the provider's own words: under load the hover first shows "Loading…", or only the diagnostic's
    // message (which says "each weight moves by ≈ 1e-4 per step" too)
    const hover = page
      .locator('.monaco-hover:not(.hidden)', { hasText: /Relative step unknown: no parameter scale is stated or linked/ })
      .first();
    await retry(
      'hover on lr: 1e-4',
      25,
      async () => {
        await page.mouse.move(5, 5);
        await page.waitForTimeout(150);
        await value.hover();
        await hover.waitFor({ state: 'visible', timeout: 1500 });
      },
      env.log,
    );
    const hoverText = (await hover.innerText()).replace(/\s+/g, ' ');
    await shot(env, 'config-hover');
    env.log(`hover: ${JSON.stringify(hoverText.slice(0, 300))}`);
    // fragments of core/config/hover.ts for an lr without a stated scale
    assert.match(hoverText, /each weight moves by ≈ 1e-4 per step/, hoverText);
    assert.match(hoverText, /Relative step unknown: no parameter scale is stated or linked/, hoverText);
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');

    // 2. Problems panel lists the lr-without-scale warning of train.lr
    await showProblemsFor(env, '**/configs/finetune.yaml');
    const isTrainLr = (r) => /lr-without-scale/.test(r) && /train\.lr = 1e-4/.test(r);
    const before = await retry(
      'Problems shows lr-without-scale',
      30,
      async (i) => {
        if (i > 1) await page.waitForTimeout(500);
        const rows = await problemRows(page);
        if (!rows.some(isTrainLr)) throw new Error(`rows: ${JSON.stringify(rows)}`);
        return rows;
      },
      null,
    );
    await shot(env, 'config-problems');
    env.log(`Problems: ${before.filter((r) => /lr-without-scale/.test(r)).length} lr-without-scale rows`);

    // 3. quick fix at the lr: Ctrl+. on the value, pick the add-annotation fix
    await gotoLine(env, 16);
    await value.click();
    await page.keyboard.press('Escape');
    const fixRow = page.locator('.action-widget .monaco-list-row', { hasText: /annotation/i }).first();
    await retry(
      'quick fix menu',
      8,
      async () => {
        await page.keyboard.press('Control+.');
        await fixRow.waitFor({ state: 'visible', timeout: 3000 });
      },
      env.log,
    );
    const menu = await page
      .locator('.action-widget')
      .innerText()
      .catch(() => '');
    await shot(env, 'config-quickfix-menu');
    env.log(`quick fix menu: ${JSON.stringify(menu.replace(/\s+/g, ' '))}`);
    await fixRow.click();
    // (Monaco renders spaces as U+00A0: match with \s)
    await editor
      .locator('.view-line', { hasText: /optimizer-lens:\s*param-scale=/ })
      .first()
      .waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape'); // leave snippet mode (the fix is a snippet with the scale selected)

    // 4. the warning on train.lr is gone from Problems (diagnostics are debounced: poll, bounded)
    const after = await retry(
      'Problems without the train.lr warning',
      40,
      async () => {
        await page.waitForTimeout(250);
        const rows = await problemRows(page);
        if (rows.some(isTrainLr)) throw new Error(`still there: ${JSON.stringify(rows.filter(isTrainLr))}`);
        return rows;
      },
      null,
    );
    await shot(env, 'config-after-quickfix');
    await runCommand(env, 'File: Revert File'); // leave finetune.yaml as it was for the next test
    await editor
      .locator('.view-line', { hasText: /optimizer-lens:\s*param-scale=/ })
      .first()
      .waitFor({ state: 'detached', timeout: 10_000 });
    env.log(`Problems after the fix: ${JSON.stringify(after.map((r) => r.replace(/\s+/g, ' ')))}`);
  },
  { timeoutMs: 240_000 },
);

test('config hover link "Explain Learning Rate" opens the explain view for that lr', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  await quickOpen(env, 'configs/finetune.yaml');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await gotoLine(env, 31);
  const lrLine = editor.locator('.view-line', { hasText: 'lr: 2.0e-4' });
  await lrLine.waitFor({ timeout: 30_000 });
  const value = lrLine.locator('span span', { hasText: '2.0e-4' }).first();
  const link = page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Explain Learning Rate' }).first();
  await retry(
    'hover link on lr: 2.0e-4',
    25,
    async () => {
      await page.mouse.move(5, 5);
      await page.waitForTimeout(150);
      await value.hover();
      await link.waitFor({ state: 'visible', timeout: 1500 });
    },
    env.log,
  );
  await link.click();
  const wv = await waitInWebview(env, '#explain #explain-lr-value', 60_000);
  const lr = Number(await wv.locator('#explain-lr-value').getAttribute('data-value'));
  await shot(env, 'explain-from-hover');
  assert.ok(Math.abs(lr - 2e-4) <= 1e-12, `explain lr ${lr}, expected 2e-4`);
  // finetune.yaml states no scale: the explain view must say the relative step is unknown
  assert.equal(await wv.locator('#explain-no-scale').count(), 1, 'no "scale not stated" banner in the explain view');
});

// --- dashboards; after the config tests, so those see an extension not yet activated by a dashboard

test('custom editor: adam_base step_000120.safetensors table matches expected.json', async (env) => {
  await quickOpen(env, 'adam_base/tensors/step_000120.safetensors');
  const wv = await waitInWebview(env, 'table#layer-table tr[data-layer]', 90_000);
  await selectStep(wv, 120).catch(() => {}); // a single-step file may show no choice at all
  const expected = expectedFor(env, 'adam_base');
  let cmp;
  // the table may be re-rendered once the worker finishes: poll (bounded) until it matches
  for (let i = 0; i < 20; i++) {
    cmp = compareTable(await readLayerTable(wv), expected, 120);
    if (!cmp.problems.length) break;
    await env.page.waitForTimeout(500);
  }
  await shot(env, 'custom-editor-safetensors');
  if (await wv.locator('canvas').count()) {
    await wv
      .locator('canvas')
      .first()
      .scrollIntoViewIfNeeded()
      .catch(() => {});
    await shot(env, 'custom-editor-safetensors-charts');
  }
  assert.deepEqual(cmp.problems, [], `${cmp.problems.length} mismatches`);
  assert.equal(cmp.compared, cmp.layers * 4);
  env.log(`table: ${cmp.compared} values of ${cmp.layers} layers match expected.json to ${REL_TOL} relative`);
});

test('palette UI: Optimizer Lens: Open Dashboard on trainer_state.json shows the lr-without-scale banner', async (env) => {
  await quickOpen(env, 'adamw_wd0.05/checkpoint-120/trainer_state.json');
  await env.page.locator('.tabs-container .tab.active', { hasText: 'trainer_state.json' }).waitFor({ timeout: 30_000 });
  await runCommand(env, 'Optimizer Lens: Open Dashboard');
  const wv = await waitInWebview(env, '#lr-without-scale-banner', 90_000);
  const banner = wv.locator('#lr-without-scale-banner');
  await banner.waitFor({ state: 'visible', timeout: 10_000 });
  const text = await banner.innerText();
  assert.match(text, /scale/i, `banner text: ${text}`);
  await shot(env, 'banner-trainer-state');
  env.log(`banner: ${JSON.stringify(text.slice(0, 200))}`);
  // the editor title area (tab, breadcrumb, editor picker) names the editor, not its raw viewType
  const title = await env.page.locator('.editor-group-container.active .title').first().innerText();
  assert.doesNotMatch(title, /optimizerLens\.(log)?[dD]ashboard/, `editor title area: ${title.replace(/\s+/g, ' ')}`);
});

test('palette UI: Explain Learning Rate… asks lr and scale, shows relative step 0.015 for (3e-4, 0.02)', async (env) => {
  const { page } = env;
  await resetWorkbench(env); // no active config: the command asks for lr and scale
  await runCommand(env, 'Optimizer Lens: Explain Learning Rate…');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await page.locator('.quick-input-widget', { hasText: 'Explain Learning Rate (1/2)' }).waitFor({ timeout: 15_000 });
  await input.fill('3e-4');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget', { hasText: 'Explain Learning Rate (2/2)' }).waitFor({ timeout: 15_000 });
  await input.fill('0.02');
  await page.keyboard.press('Enter');
  const wv = await waitInWebview(env, '#explain #explain-rel-step', 60_000);
  const rel = Number(await wv.locator('#explain-rel-step').getAttribute('data-value'));
  const lrTarget = Number(await wv.locator('#explain-lr-target').getAttribute('data-value'));
  await shot(env, 'palette-explain-learning-rate');
  assert.ok(Math.abs(rel - 0.015) <= 1e-12, `relative step ${rel}, expected 3e-4/0.02 = 0.015`);
  // lr for the default target relative step 1e-3 at scale 0.02
  assert.ok(Math.abs(lrTarget - 2e-5) <= 1e-15, `lr for target ${lrTarget}, expected 2e-5`);
});

test('palette UI: Insert Logging Snippet… (Hugging Face Trainer callback) into a Python file', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  await quickOpen(env, 'scratch.py');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-line', { hasText: 'scratch file' }).waitFor({ timeout: 30_000 });
  await editor.locator('.view-line').first().click();
  await page.keyboard.press('Control+End');
  await runCommand(env, 'Optimizer Lens: Insert Logging Snippet');
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Hugging Face Trainer callback' });
  await row.waitFor({ timeout: 15_000 });
  await row.click();
  // the cursor ends after the inserted snippet: the status bar's line number jumps
  const status = page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first();
  let line = 0;
  for (let i = 0; i < 40 && line < 50; i++) {
    line = Number(/Ln (\d+)/.exec(await status.innerText())?.[1] ?? 0);
    if (line < 50) await page.waitForTimeout(250);
  }
  await page.keyboard.press('Control+Home');
  await editor
    .locator('.view-line', { hasText: /Hugging\s+Face\s+transformers\s+Trainer\s+callback/ })
    .first()
    .waitFor({ timeout: 10_000 });
  await shot(env, 'palette-insert-logging-snippet');
  assert.ok(line >= 50, `cursor at line ${line} after inserting the snippet`);
  env.log(`snippet inserted: cursor at line ${line}`);
  await runCommand(env, 'File: Revert File');
});

test('palette UI: Analyze Folder… picks adam_base in the file dialog and shows its dashboard', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  // The panel opens with the dialog (its page loads meanwhile); cancelling the dialog closes it.
  const tabs = page.locator('.tabs-container .tab', { hasText: 'Optimizer Lens' });
  await runCommand(env, 'Optimizer Lens: Analyze Folder…');
  await page.locator('.quick-input-widget .quick-input-box input').waitFor({ state: 'visible', timeout: 30_000 });
  await tabs.first().waitFor({ state: 'attached', timeout: 30_000 });
  await visibleWebview(page).locator('#loading', { hasText: 'Choose the run folder' }).waitFor({ state: 'attached', timeout: 30_000 });
  // the keyboard stays in the dialog: what the user types goes to its path
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const before = await input.inputValue();
  await page.keyboard.type('zz');
  assert.equal(await input.inputValue(), before + 'zz', 'typing goes to the dialog, not to the panel opened with it');
  await page.keyboard.press('Escape');
  await tabs.first().waitFor({ state: 'detached', timeout: 30_000 });
  await runCommand(env, 'Optimizer Lens: Analyze Folder…');
  await fileDialogAt(env, path.join(env.workspace, 'adam_base') + '/', (rows) => rows.includes('tensors') && !rows.includes('adam_base'));
  await shot(env, 'palette-analyze-folder-dialog');
  const ok = page.locator('.quick-input-widget .monaco-button', { hasText: 'Analyze' }).first();
  if (await ok.isVisible().catch(() => false)) await ok.click();
  else await page.keyboard.press('Enter');
  const wv = await waitInWebview(env, 'table#layer-table tr[data-layer]', 90_000);
  // a run folder has many steps: pick 120 and compare with expected.json
  await selectStep(wv, 120);
  const expected = expectedFor(env, 'adam_base');
  let cmp;
  for (let i = 0; i < 20; i++) {
    cmp = compareTable(await readLayerTable(wv), expected, 120);
    if (!cmp.problems.length) break;
    await page.waitForTimeout(500);
  }
  await shot(env, 'palette-analyze-folder');
  assert.deepEqual(cmp.problems, [], `${cmp.problems.length} mismatches`);
  env.log(`folder dashboard at step 120: ${cmp.compared} values match expected.json`);
});

/** Reads `table#compare-table` of a webview (or page): column heads and the relStep cells per layer. */
async function readCompareTable(wv) {
  return wv.locator('table#compare-table').evaluate((t) => ({
    // the run label is the head's first text node; the step is in the line under it
    heads: [...t.querySelectorAll('thead th[data-run]')].map((th) => ({
      label: (th.firstChild?.textContent ?? '').trim(),
      text: th.textContent,
    })),
    rows: [...t.querySelectorAll('tr[data-layer]')].map((tr) => ({
      layer: tr.getAttribute('data-layer'),
      cells: [...tr.querySelectorAll('td[data-field="relStep"]')].map((td) => td.getAttribute('data-value')),
    })),
  }));
}

/** Checks each run's column (head = run label, then "… step N") against that run's expected.json. */
function compareColumns(env, data, runs) {
  const problems = [];
  let compared = 0;
  for (const run of runs) {
    const i = data.heads.findIndex((h) => h.label === run);
    if (i < 0) {
      problems.push(`no column for ${run}: ${JSON.stringify(data.heads)}`);
      continue;
    }
    const step = /step (\d+)/.exec(data.heads[i].text ?? '')?.[1];
    const exp = expectedFor(env, run).steps[step];
    if (!exp) {
      problems.push(`${run}: report step '${step}' not in expected.json`);
      continue;
    }
    for (const [layer, e] of Object.entries(exp)) {
      if (layer === 'global') continue;
      const row = data.rows.find((r) => r.layer === layer);
      if (!row) {
        problems.push(`${run}: no row ${layer}`);
        continue;
      }
      const v = row.cells[i] === '' || row.cells[i] == null ? null : Number(row.cells[i]);
      if (!relClose(v, e.rel_step)) problems.push(`${run} ${layer}: relStep ${v} vs expected ${e.rel_step}`);
      compared++;
    }
  }
  return { problems, compared };
}

/** A row of the open quick pick whose label is exactly `label` (codicons aside). */
function quickPickRow(page, label) {
  return page
    .locator('.quick-input-widget .monaco-list-row')
    .filter({
      has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }),
    })
    .first();
}

/** Checks a row of a multi-select quick pick (its checkbox, else the row). */
async function checkRow(row) {
  await row.waitFor({ timeout: 15_000 });
  const box = row.locator('.quick-input-list-checkbox, input[type=checkbox], .monaco-checkbox, .monaco-custom-toggle').first();
  if (await box.count()) await box.click();
  else await row.click();
}

async function acceptQuickPick(page) {
  const ok = page.locator('.quick-input-widget .monaco-button', { hasText: /^OK$/ }).first();
  if (await ok.isVisible().catch(() => false)) await ok.click();
  else await page.keyboard.press('Enter');
}

test('palette UI: Compare Runs… checks adam_base and adamw_wd0.05 in the quick pick; compare table vs expected.json', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  await runCommand(env, 'Optimizer Lens: Compare Runs…');
  await page.locator('.quick-input-widget', { hasText: 'Compare Runs' }).waitFor({ timeout: 30_000 });
  // rows are "$(folder) <workspace-relative path>": check exactly the two run folders
  for (const run of ['adam_base', 'adamw_wd0.05']) await checkRow(quickPickRow(page, run));
  await shot(env, 'palette-compare-runs-pick');
  await acceptQuickPick(page);
  const wv = await waitInWebview(env, 'table#compare-table tr[data-layer]', 120_000);
  const data = await readCompareTable(wv);
  await shot(env, 'palette-compare-runs');
  assert.equal(data.heads.length, 2, `compare columns: ${JSON.stringify(data.heads)}`);
  const { problems, compared } = compareColumns(env, data, ['adam_base', 'adamw_wd0.05']);
  assert.deepEqual(problems, [], `${problems.length} problems`);
  assert.equal(compared, 28);
  env.log(`compare from the palette: ${compared} relative steps match expected.json`);
});

test('palette UI: Compare Runs… with one run checked asks for another in the file dialog (the browser picks one at a time)', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  await runCommand(env, 'Optimizer Lens: Compare Runs…');
  await page.locator('.quick-input-widget', { hasText: 'Compare Runs' }).waitFor({ timeout: 30_000 });
  await checkRow(quickPickRow(page, 'sgd_momentum'));
  await acceptQuickPick(page);
  // one run is not enough: code-server's simple file dialog (a quick input holding a path) asks for more
  await page.locator('.quick-input-widget', { hasText: /1 chosen, 1 more needed/ }).waitFor({ timeout: 15_000 });
  // files and folders may both be picked: the dialog's button enters a folder first, pressed again it
  // picks the folder it is in (as a user does)
  const input = await fileDialogAt(env, path.join(env.workspace, 'adam_base') + '/', (rows) => rows.includes('stats.jsonl'));
  await shot(env, 'palette-compare-runs-browse');
  await acceptFileDialog(env, input, 'Add to Comparison');
  const wv = await waitInWebview(env, 'table#compare-table tr[data-layer]', 120_000);
  const data = await readCompareTable(wv);
  assert.equal(data.heads.length, 2, `compare columns: ${JSON.stringify(data.heads)}`);
  const { problems, compared } = compareColumns(env, data, ['sgd_momentum', 'adam_base']);
  assert.deepEqual(problems, [], `${problems.length} problems`);
  assert.equal(compared, 28);
  env.log(`compare via Browse…: ${compared} relative steps match expected.json`);
});

test('palette UI: Link a Log or Checkpoint to This Config links adam_base to finetune.yaml: the setting is written, the lr-without-scale warning of train.lr goes', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  const settingsFile = path.join(env.workspace, '.vscode', 'settings.json');
  const before = fs.existsSync(settingsFile) ? fs.readFileSync(settingsFile, 'utf8') : null;
  try {
    await quickOpen(env, 'configs/finetune.yaml');
    await page.locator('.tabs-container .tab.active', { hasText: 'finetune.yaml' }).waitFor({ timeout: 30_000 });
    await runCommand(env, 'Optimizer Lens: Link a Log or Checkpoint to This Config');
    const input = await fileDialogAt(env, path.join(env.workspace, 'adam_base') + '/', (rows) => rows.includes('stats.jsonl'));
    await shot(env, 'palette-link-run-dialog');
    await acceptFileDialog(env, input, 'Link');
    // the workspace-folder setting names the config and the run, both workspace-relative
    let popup = null; // the command failed: VS Code's error dialog says why
    const linked = await retry(
      'optimizerLens.config.linkedRuns written',
      60,
      async (i) => {
        if (i > 1) await page.waitForTimeout(500);
        popup ??= await failOnErrorPopup(page).then(
          () => null,
          (e) => e,
        );
        if (popup) return null;
        const json = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
        const runs = json['optimizerLens.config.linkedRuns'];
        if (!runs?.['configs/finetune.yaml']) throw new Error(`settings: ${JSON.stringify(json)}`);
        return runs;
      },
      null,
    );
    if (popup) throw popup;
    assert.deepEqual(linked, { 'configs/finetune.yaml': 'adam_base' });
    // the run's measured scale now stands for train.lr: its lr-without-scale warning goes from Problems
    await showProblemsFor(env, '**/configs/finetune.yaml');
    await retry(
      'Problems without the train.lr warning',
      120,
      async (i) => {
        if (i > 1) await page.waitForTimeout(500);
        const rows = await problemRows(page);
        if (rows.some((r) => /lr-without-scale/.test(r) && /train\.lr = 1e-4/.test(r))) throw new Error('still there');
      },
      null,
    );
    await shot(env, 'palette-link-run-problems');
    env.log('linked adam_base to configs/finetune.yaml: the train.lr warning is gone');
  } finally {
    // an error dialog (the command failed) would block every later test: close it
    const dialog = page.locator('.monaco-dialog-box');
    if (await dialog.isVisible().catch(() => false)) await page.keyboard.press('Escape');
    // the later tests see the workspace as it was
    if (before === null) fs.rmSync(settingsFile, { force: true });
    else fs.writeFileSync(settingsFile, before);
  }
});

// --- exported reports (written by the extension-host tests' exportReport calls) -----------------------

test('exported reports are standalone: step-120 layer table and compare table match expected.json', async (env) => {
  const page = await env.page.context().newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  try {
    // 1. the dashboard of adam_base/tensors/step_000120.safetensors
    const single = path.join(env.workspace, 'report-step120.html');
    assert.ok(fs.existsSync(single), `${single} missing (written by the extension-host exportReport test)`);
    await page.goto(`file://${single}`);
    await page.locator('table#layer-table tr[data-layer]').first().waitFor({ timeout: 30_000 });
    const cmp = compareTable(await readLayerTable(page), expectedFor(env, 'adam_base'), 120);
    await page.screenshot({ path: path.join(env.results, 'report-step120.png') });
    assert.deepEqual(cmp.problems, [], `report-step120.html: ${cmp.problems.length} mismatches`);

    // 2. the compare view of adam_base vs adamw_wd0.05: relative step per layer at each run's report step
    const compare = path.join(env.workspace, 'report-compare.html');
    assert.ok(fs.existsSync(compare), `${compare} missing (written by the extension-host compareRuns test)`);
    await page.goto(`file://${compare}`);
    const table = page.locator('table#compare-table');
    await table.locator('tr[data-layer]').first().waitFor({ timeout: 30_000 });
    const data = await table.evaluate((t) => ({
      heads: [...t.querySelectorAll('thead th[data-run]')].map((th) => th.textContent),
      rows: [...t.querySelectorAll('tr[data-layer]')].map((tr) => ({
        layer: tr.getAttribute('data-layer'),
        cells: [...tr.querySelectorAll('td[data-field="relStep"]')].map((td) => td.getAttribute('data-value')),
      })),
    }));
    await page.screenshot({ path: path.join(env.results, 'report-compare.png') });
    const runs = ['adam_base', 'adamw_wd0.05'];
    const problems = [];
    let compared = 0;
    runs.forEach((run, i) => {
      const step = /step (\d+)/.exec(data.heads[i] ?? '')?.[1];
      const exp = expectedFor(env, run).steps[step];
      if (!exp) {
        problems.push(`${run}: report step '${step}' (header '${data.heads[i]}') not in expected.json`);
        return;
      }
      for (const [layer, e] of Object.entries(exp)) {
        if (layer === 'global') continue;
        const row = data.rows.find((r) => r.layer === layer);
        if (!row) {
          problems.push(`${run}: no row ${layer}`);
          continue;
        }
        const v = row.cells[i] === '' || row.cells[i] == null ? null : Number(row.cells[i]);
        if (!relClose(v, e.rel_step)) problems.push(`${run} ${layer}: relStep ${v} vs expected ${e.rel_step}`);
        compared++;
      }
    });
    assert.deepEqual(problems, [], `report-compare.html: ${problems.length} problems`);
    assert.equal(compared, 28);
    assert.deepEqual(errors, [], 'errors in the standalone reports');
    env.log(`reports: 56 dashboard values and ${compared} compare values match expected.json`);
  } finally {
    await page.close();
  }
});

// --- containment: an input that exhausts the analysis process, then a good one -----------------------------

test('containment: Open Dashboard on a log that exhausts the heap ceiling shows the limits error; the next file opens normally', async (env) => {
  const { page } = env;
  await resetWorkbench(env);
  await quickOpen(env, 'hostile/exhaust-memory.jsonl');
  await page.locator('.tabs-container .tab.active', { hasText: 'exhaust-memory.jsonl' }).waitFor({ timeout: 30_000 });
  await runCommand(env, 'Optimizer Lens: Open Dashboard');
  // (no failOnErrorPopup here: the error is the expected outcome, shown in the editor)
  const wv = visibleWebview(page);
  const banner = wv.locator('#error-banner', { hasText: 'exhausted the analysis limits' });
  await banner.waitFor({ timeout: 120_000 });
  const text = (await banner.innerText()).replace(/\s+/g, ' ');
  await shot(env, 'containment-error');
  env.log(`error view: ${JSON.stringify(text)}`);
  assert.match(text, /exhaust-memory\.jsonl exhausted the analysis limits at 25% \(reading exhaust-memory\.jsonl\) after [\d.]+ s/);
  assert.match(text, /memory ceiling \(setting optimizerLens\.analysis\.memoryLimitMb\)/);
  // the extension host survived: the next file opens in the dashboard with the right numbers
  await quickOpen(env, 'adam_base/tensors/step_000120.safetensors');
  const good = await waitInWebview(env, 'table#layer-table tr[data-layer]', 90_000);
  let cmp;
  for (let i = 0; i < 20; i++) {
    cmp = compareTable(await readLayerTable(good), expectedFor(env, 'adam_base'), 120);
    if (!cmp.problems.length) break;
    await page.waitForTimeout(500);
  }
  await shot(env, 'containment-next-file');
  assert.deepEqual(cmp.problems, [], `${cmp.problems.length} mismatches after the contained failure`);
});

// --- LLM scale: 291 tensors × 2,000 steps, then the log grows at 1 MB/s -----------------------------------

/** RSS (MB) of the analysis processes (dist/analysis.js) running now. */
async function analysisProcessesRss() {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /dist\/analysis\.js/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]) / 1024);
}

test(
  'LLM scale: Analyze Folder… on a 291-tensor × 2,000-step log shows a first table while reading, the whole run, and keeps up as it grows',
  async (env) => {
    const { page } = env;
    await resetWorkbench(env);
    const asked = Date.now();
    await runCommand(env, 'Optimizer Lens: Analyze Folder…');
    // a folder-only dialog inside llama/ (no subfolders) lists only '..'
    await fileDialogAt(env, path.join(env.workspace, 'llama') + '/', (rows) => rows.length === 1 && rows[0] === '..');
    // The dashboard's panel opened with the dialog: its page loads while the dialog is open.
    await visibleWebview(page).locator('#loading', { hasText: 'Choose the run folder' }).waitFor({ state: 'attached', timeout: 30_000 });
    env.log(`llama/: the panel's page says "Choose the run folder…" ${Date.now() - asked} ms after the command`);
    const ok = page.locator('.quick-input-widget .monaco-button', { hasText: 'Analyze' }).first();
    // "folder chosen": the moment the dialog is accepted
    const t0 = Date.now();
    env.log(`llama/: the dialog was open ${t0 - asked} ms (the panel's page loads meanwhile)`);
    if (await ok.isVisible().catch(() => false)) await ok.click();
    else await page.keyboard.press('Enter');
    // 291 tensors are grouped by block (collapsed groups: one row each) — any body row is the first table
    const wv = await waitInWebview(env, 'table#layer-table tbody tr', 300_000);
    const firstTable = Date.now() - t0;
    const firstTitle = await wv.locator('#run-title').innerText();
    const firstRows = await wv.locator('table#layer-table tbody tr').count();
    // Where the time went (webview/trace.ts), ms after the folder was chosen: the trace entries the page keeps.
    const since = (x) => (x === undefined || x === null ? '?' : x - t0);
    const readTrace = (what) =>
      wv
        .locator('body[data-trace]')
        .getAttribute('data-trace', { timeout: 10_000 })
        .then((t) => JSON.parse(t ?? '[]'))
        .catch((e) => (env.log(`llama/ ${what} trace unavailable: ${e.message.split('\n')[0]}`), []));
    const times = (e) =>
      `asked ${since(e.requested)}, answered ${since(e.answered)}, posted ${since(e.posted)}, ` +
      `received ${since(e.received)}, rendered ${since(e.rendered)}, painted ${since(e.painted)}`;
    // The first view (the host traces it like a refresh), and when its page loaded.
    const firstTrace = (await readTrace('first-view')).find((e) => e.kind === 'show');
    if (firstTrace) {
      const p = firstTrace.page;
      env.log(
        'llama/ first view, ms after the folder was chosen: ' +
          (p ? `page navigated ${since(p.navigated)}, script loaded ${since(p.scriptLoaded)}, ready ${since(p.ready)}, ` : '') +
          times(firstTrace),
      );
    }
    await shot(env, 'llama-first-view');
    // the whole run: the title loses its "reading, N% so far"
    await wv.locator('#run-title', { hasText: /^llama\/$/ }).waitFor({ timeout: 300_000 });
    const whole = Date.now() - t0;
    env.log(`llama/: first table ${firstTable} ms ('${firstTitle}', ${firstRows} rows), whole run ${whole} ms`);
    // Where the whole run's time went: every message up to it.
    for (const e of await readTrace('whole-run')) env.log(`  ${e.kind} (${e.via ?? 'posted'}), step ${e.step}: ${times(e)}`);
    assert.ok(
      (await wv.locator('table#layer-table tr.block-row').count()) >= 32,
      'grouped by block: 32 blocks and the tensors around them',
    );
    // ungrouped: one row per tensor
    const group = wv.locator('#group-blocks');
    if (await group.isChecked()) await group.uncheck();
    await wv.locator('table#layer-table tr[data-layer]').nth(290).waitFor({ state: 'attached', timeout: 60_000 });
    const rows = await wv.locator('table#layer-table tr[data-layer]').count();
    assert.equal(rows, 291, 'one row per tensor');
    const steps = await wv.locator('#step-select option').evaluateAll((os) => os.map((o) => Number(o.value)));
    assert.equal(steps.at(-1), 20000, 'the newest step is offered');
    await shot(env, 'llama-dashboard');
    for (const id of ['chart-rel-step', 'chart-param-scale']) {
      const canvas = wv.locator(`#${id}`);
      if (await canvas.count()) {
        await canvas.scrollIntoViewIfNeeded().catch(() => {});
        await shot(env, `llama-${id}`);
      }
    }
    const findings = wv.locator('#findings-card, #findings');
    if (await findings.count()) {
      await findings
        .first()
        .scrollIntoViewIfNeeded()
        .catch(() => {});
      await shot(env, 'llama-findings');
    }
    await wv.locator('#live-badge').waitFor({ timeout: 10_000 });

    // Tail: append steps at 1 MB/s (one 291-line step ≈ 127 KB every 125 ms) for 45 s — long enough for the
    // whole-run pass a never-pausing log gets 30 s after its first fast refresh (liveAnalysis.ts); note when
    // each step is written and when the dashboard's step selector first offers it.
    const { llamaStepText } = await import('../../scripts/llama-log.mjs');
    const log = path.join(env.workspace, 'llama/optimizer_lens.jsonl');
    const rssBefore = await analysisProcessesRss();
    const written = new Map();
    let next = 20010;
    let bytes = 0;
    const started = Date.now();
    let timer = setInterval(() => {
      const text = llamaStepText(next, { last: 20000 });
      fs.appendFileSync(log, text);
      bytes += text.length;
      written.set(next, Date.now());
      next += 10;
    }, 125);
    const latencies = [];
    let lastSeen = 20000;
    const newest = () =>
      wv
        .locator('#step-select option')
        .last()
        .getAttribute('value')
        .then(Number)
        .catch(() => lastSeen);
    // Poll the step selector until it offers the last appended step (bounded); each refresh seen is one latency.
    const APPEND_MS = 45_000;
    const deadline = Date.now() + APPEND_MS + 240_000;
    try {
      for (;;) {
        const shown = await newest();
        if (shown > lastSeen && written.has(shown)) {
          latencies.push(Date.now() - written.get(shown));
          lastSeen = shown;
        }
        if (Date.now() - started >= APPEND_MS && timer) {
          clearInterval(timer);
          timer = null;
        }
        if (!timer && lastSeen === next - 10) break;
        if (Date.now() > deadline) throw new Error(`the dashboard shows step ${lastSeen}, the log ends at step ${next - 10}`);
        await page.waitForTimeout(100);
      }
    } finally {
      if (timer) clearInterval(timer);
    }
    const lastWritten = next - 10;
    const caughtUp = Date.now() - written.get(lastWritten);
    const rssAfter = await analysisProcessesRss();
    await shot(env, 'llama-after-tail');
    const rate = bytes / 1e6 / ((written.get(lastWritten) - started) / 1000);
    const sorted = [...latencies].sort((a, b) => a - b);
    env.log(
      `tail at ${rate.toFixed(2)} MB/s for ${APPEND_MS / 1000} s (${written.size} steps): ${latencies.length} refreshes, newest step shown ` +
        `${sorted.length ? `${sorted[0]}–${sorted.at(-1)} ms (median ${sorted[Math.floor(sorted.length / 2)]} ms, 90th percentile ${sorted[Math.floor(sorted.length * 0.9)]} ms, ${sorted.filter((l) => l > 2000).length} over 2 s)` : 'never during the appends'} ` +
        `after it was written; last step shown ${caughtUp} ms after it was written; analysis processes RSS ${rssBefore.map((r) => r.toFixed(0)).join('+')} MB → ${rssAfter.map((r) => r.toFixed(0)).join('+')} MB`,
    );
    // Where each refresh's time went (webview/trace.ts): written → asked the analysis process → answered →
    // posted (after packing) → received in the webview → rendered → painted.
    const trace = JSON.parse(
      (await wv
        .locator('body')
        .getAttribute('data-trace')
        .catch(() => null)) ?? '[]',
    ).filter((e) => written.has(e.step));
    // Each refresh's stamps relative to when its step was written (the medians below hide a backlog's shape).
    fs.writeFileSync(
      path.join(env.results, 'llama-tail-trace.json'),
      JSON.stringify(
        trace.map((e) => ({ ...e, written: written.get(e.step) - started })),
        null,
        1,
      ),
    );
    if (trace.length) {
      const med = (xs) => {
        const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
        return s.length ? `${s[Math.floor(s.length / 2)]} (${s[0]}–${s.at(-1)})` : '—';
      };
      const col = (f) => med(trace.map(f));
      env.log(
        `tail trace, ${trace.length} messages (${Object.entries(
          trace.reduce((n, e) => ((n[`${e.kind} ${e.via ?? '?'}`] = (n[`${e.kind} ${e.via ?? '?'}`] ?? 0) + 1), n), {}),
        )
          .map(([k, c]) => `${c} ${k}`)
          .join(', ')}), median (range) ms: ` +
          `written→asked ${col((e) => e.requested - written.get(e.step))}, analysis answer ${col((e) => e.answered - e.requested)}, ` +
          `pack ${col((e) => e.packMs)}, answered→posted ${col((e) => e.posted - e.answered)}, posted→received ${col((e) => e.received - e.posted)}, ` +
          `received→rendered ${col((e) => e.rendered - e.received)}, rendered→painted ${col((e) => e.painted - e.rendered)}, ` +
          `written→painted ${col((e) => e.painted - written.get(e.step))}`,
      );
    }
    assert.ok(latencies.length > 0 && lastSeen === lastWritten, 'the dashboard followed the log to its last step');
  },
  { timeoutMs: 600_000 },
);
