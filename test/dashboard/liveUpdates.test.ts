// The dashboard's live refreshes (webview/dashboard/liveUpdates.ts) on analyses of a real log cut in three
// (adam_base/stats.jsonl, written by torch): appends extend what is shown exactly as the whole log's analysis
// has it, a backlog renders once as its newest state, a view that cannot extend what it shows asks for the
// whole state, a whole update replaces what waits, and a whole-run pass's revision applies to what is shown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { MessageType, type AppendStepsMessage, type ReviseRunMessage, type ShowAnalysisMessage } from '../../src/shared/protocol';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import { revisionOf } from '../../src/shared/reviseAnalysis';
import { LiveUpdates, type LiveRender } from '../../webview/dashboard/liveUpdates';
import { assertJoinedAsWhole, fixturePath, float64Series } from '../support/fixtures';
import { thinAnalysis } from '../support/logParts';

const dir = mkdtempSync(join(tmpdir(), 'ol-live-updates-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = { thresholds: { ...DEFAULT_THRESHOLDS }, targetRelativeStep: 1e-3, defaultEps: 1e-8 };
let whole: RunAnalysis;
let parts: RunAnalysis[];

/** The log's records with from < step ≤ to, analyzed alone. */
async function analyzeSteps(from: number, to: number): Promise<RunAnalysis> {
  const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
  const file = join(dir, `steps-${from}-${to}.jsonl`);
  writeFileSync(
    file,
    lines.filter((l) => ((s: number) => s > from && s <= to)((JSON.parse(l) as { step: number }).step)).join('\n') + '\n',
  );
  return analyzePaths([file]);
}

before(async () => {
  whole = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
  parts = [await analyzeSteps(0, 40), await analyzeSteps(40, 80), await analyzeSteps(80, 120)];
});

function show(analysis: RunAnalysis, update = false): ShowAnalysisMessage {
  return {
    type: MessageType.ShowAnalysis,
    title: 'adam_base',
    analysis,
    settings,
    update,
    live: true,
    totalSteps: analysis.result.steps.length,
  };
}

function append(base: RunAnalysis, fresh: RunAnalysis): AppendStepsMessage {
  const steps = base.result.steps;
  return {
    type: MessageType.AppendSteps,
    base: { lastStep: steps[steps.length - 1] ?? null, steps: steps.length },
    fresh,
    title: 'adam_base',
    totalSteps: steps.length + fresh.result.steps.length,
  };
}

/** A LiveUpdates whose scheduled task runs only when the test says (a frame that has not come yet). */
function harness(initial: ShowAnalysisMessage) {
  let shown: ShowAnalysisMessage | null = initial;
  const renders: LiveRender<number>[] = [];
  const tasks: (() => void)[] = [];
  let resyncs = 0;
  const live = new LiveUpdates<number>({
    shown: () => shown,
    render: (r) => {
      renders.push(r);
      shown = r.message;
    },
    resync: () => resyncs++,
    schedule: (t) => tasks.push(t),
  });
  const frame = () => tasks.splice(0).forEach((t) => t());
  return { live, renders, frame, resyncs: () => resyncs };
}

describe('live refreshes of the dashboard', () => {
  it('two appends before the next frame: one render of the newest state, equal to the whole log in every per-step part', () => {
    const h = harness(show(parts[0]));
    const firstTwo = { ...parts[0], result: { ...parts[0].result, steps: [...parts[0].result.steps, ...parts[1].result.steps] } };
    h.live.append(append(parts[0], parts[1]), 1);
    h.live.append(append(firstTwo, parts[2]), 2);
    assert.equal(h.renders.length, 0, 'nothing rendered before the frame');
    h.frame();
    assert.equal(h.renders.length, 1);
    const [r] = h.renders;
    assert.equal(r.appendedOnly, true);
    assert.deepEqual(r.notes, [1, 2]);
    assert.equal(r.message.update, true);
    const a = r.message.analysis;
    assert.ok(whole.result.steps.length > parts[0].result.steps.length);
    assertJoinedAsWhole(a, whole);
    // the findings stand as shown until a whole-run pass
    assert.deepEqual(a.result.findings, parts[0].result.findings);
    assert.equal(r.message.totalSteps, whole.result.steps.length);
    h.frame();
    assert.equal(h.renders.length, 1, 'nothing left to render');
  });

  it('an append that does not extend what is shown asks for the whole state and drops what follows until it comes', () => {
    const h = harness(show(parts[0]));
    h.live.append(append(parts[1], parts[2]), 1); // its base is steps 41–80, the view shows 1–40
    assert.equal(h.resyncs(), 1);
    h.live.append(append(parts[0], parts[1]), 2);
    assert.equal(h.resyncs(), 1, 'asked once');
    h.frame();
    assert.equal(h.renders.length, 0);
    const wholeMessage = show(whole, true);
    h.live.show(wholeMessage, 3);
    h.frame();
    assert.equal(h.renders.length, 1);
    assert.equal(h.renders[0].appendedOnly, false);
    assert.equal(h.renders[0].message, wholeMessage);
  });

  it('a whole update replaces what waits; appends after it extend it', () => {
    const h = harness(show(parts[0]));
    h.live.append(append(parts[0], parts[1]), 1);
    const firstTwo = { ...parts[0], result: { ...parts[0].result, steps: [...parts[0].result.steps, ...parts[1].result.steps] } };
    const pass = show(firstTwo, true);
    h.live.show(pass, 2);
    h.live.append(append(firstTwo, parts[2]), 3);
    h.frame();
    assert.equal(h.renders.length, 1);
    const [r] = h.renders;
    assert.equal(r.appendedOnly, false, 'a whole update is among them: every section renders');
    assert.deepEqual(r.notes, [1, 2, 3]);
    assert.deepEqual(r.message.analysis.result.steps, whole.result.steps);
  });

  it('a revision after appends applies to the state they lead to; one with another base asks for the whole state', () => {
    const h = harness(show(parts[0]));
    h.live.append(append(parts[0], parts[1]), 1);
    const shownThen = appendAnalysis(parts[0], parts[1]);
    // the whole-run pass: the findings of the whole log, one step of each layer's series dropped by its thinning
    const pass = thinAnalysis(whole, (i) => i !== 5);
    const steps = shownThen.result.steps;
    const revise: ReviseRunMessage = {
      type: MessageType.ReviseRun,
      base: { lastStep: steps.at(-1)!, steps: steps.length },
      analysis: revisionOf(shownThen, pass)!,
      title: 'adam_base (pass)',
      totalSteps: whole.result.steps.length,
    };
    h.live.revise(revise, 2);
    h.frame();
    assert.equal(h.renders.length, 1);
    const [r] = h.renders;
    assert.equal(r.appendedOnly, false, 'the findings and summary changed: every section renders');
    assert.deepEqual(r.notes, [1, 2]);
    assert.equal(r.message.title, 'adam_base (pass)');
    assert.deepEqual(float64Series(r.message.analysis.series), float64Series(pass.series));
    assert.deepEqual(r.message.analysis.result, pass.result);
    assert.equal(h.resyncs(), 0);
    // the same revision again: its base is no longer what is shown
    h.live.revise(revise, 3);
    assert.equal(h.resyncs(), 1);
  });
});
