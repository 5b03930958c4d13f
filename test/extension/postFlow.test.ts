// One message in flight per webview, what arrives meanwhile merged: appends of a followed log joined into one
// AppendSteps (the same state as appending them one by one), a whole-run pass's revision joined with the appends
// around it into one ReviseRun, anything else replaced by the whole state.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import {
  MessageType,
  type AppendStepsMessage,
  type ReviseRunMessage,
  type ShowAnalysisMessage,
  type ToWebviewMessage,
} from '../../src/shared/protocol';
import { applyRevision, revisionOf } from '../../src/shared/reviseAnalysis';
import { PostFlow, type PostFlowTimers } from '../../src/extension/postFlow';
import { assertJoinedAsWhole, fixturePath, float64Series } from '../support/fixtures';
import { logPieces, thinAnalysis } from '../support/logParts';

const dir = mkdtempSync(join(tmpdir(), 'ol-postflow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function show(analysis: RunAnalysis): ShowAnalysisMessage {
  return {
    type: MessageType.ShowAnalysis,
    title: 'run',
    analysis,
    settings: {} as never,
    live: true,
    totalSteps: analysis.result.steps.length,
  };
}

function append(prev: RunAnalysis, fresh: RunAnalysis, n: number): AppendStepsMessage {
  const steps = prev.result.steps;
  return {
    type: MessageType.AppendSteps,
    base: { lastStep: steps.length ? steps[steps.length - 1]! : null, steps: steps.length },
    fresh,
    title: `run ${n}`,
    totalSteps: steps.length + fresh.result.steps.length,
  };
}

/** The revision of `shown` that a whole-run pass giving `next` sends. */
function revise(shown: RunAnalysis, next: RunAnalysis, n: number): ReviseRunMessage {
  const steps = shown.result.steps;
  return {
    type: MessageType.ReviseRun,
    base: { lastStep: steps.length ? steps[steps.length - 1]! : null, steps: steps.length },
    analysis: revisionOf(shown, next)!,
    title: `run ${n}`,
    totalSteps: next.result.steps.length,
  };
}

/** `a` without the steps of index i % 3 === 1 (a thinned whole-run pass). */
const thinned3 = (a: RunAnalysis) => thinAnalysis(a, (i) => i % 3 !== 1);

/** Timers run by hand. */
function manualTimers(): PostFlowTimers & { fire(): void; pending: number } {
  const tasks = new Map<number, () => void>();
  let id = 0;
  return {
    set: (task) => (tasks.set(++id, task), id),
    clear: (h) => void tasks.delete(h as number),
    fire: () => {
      const all = [...tasks.values()];
      tasks.clear();
      for (const t of all) t();
    },
    get pending() {
      return tasks.size;
    },
  };
}

describe('PostFlow', () => {
  it('posts one message at a time; appends that arrive meanwhile go as one, equal to appending each', async () => {
    const [a, b, c, d] = await logPieces(dir, 'adam_base', [30, 50, 70]);
    const sent: ToWebviewMessage[] = [];
    const timers = manualTimers();
    const flow = new PostFlow((m) => sent.push(m), timers);
    let state = a!;
    flow.post(show(state), show(state));
    assert.equal(sent.length, 1, 'the first goes at once');
    for (const [n, fresh] of [b!, c!, d!].entries()) {
      const m = append(state, fresh, n);
      state = appendAnalysis(state, fresh);
      flow.post(m, show(state));
    }
    assert.equal(sent.length, 1, 'nothing more until the webview took it');
    assert.equal(flow.queued, 2);
    flow.received();
    assert.equal(sent.length, 2);
    const merged = sent[1] as AppendStepsMessage;
    assert.equal(merged.type, MessageType.AppendSteps);
    assert.deepEqual(merged.base, { lastStep: a!.result.steps.at(-1), steps: a!.result.steps.length }, 'the base of the first waiting');
    assert.equal(merged.title, 'run 2', 'the newest title and totals');
    // what the webview builds from the one message is the state appended piece by piece, and the whole log's
    assertJoinedAsWhole(appendAnalysis(a!, merged.fresh), state);
    assertJoinedAsWhole(appendAnalysis(a!, merged.fresh), await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]));
    flow.received();
    assert.equal(sent.length, 2, 'nothing waits');
    assert.equal(flow.queued, 0);
    assert.equal(timers.pending, 0, 'no timer left once received');
  });

  it('a wait that does not chain, or holds a whole view, becomes the whole current state', async () => {
    const [a, b, c] = await logPieces(dir, 'adam_base', [40, 60]);
    const sent: ToWebviewMessage[] = [];
    const flow = new PostFlow((m) => sent.push(m), manualTimers());
    flow.post(show(a!), show(a!));
    const ab = appendAnalysis(a!, b!);
    flow.post(append(a!, b!, 0), show(ab));
    // an append whose base is not where the waiting one leads (a view that would have missed steps)
    const abc = appendAnalysis(ab, c!);
    flow.post(append(a!, c!, 1), show(abc));
    flow.received();
    assert.equal(sent[1]!.type, MessageType.ShowAnalysis, 'the whole state');
    assert.equal((sent[1] as ShowAnalysisMessage).analysis, abc);
    // a whole view waiting, then an append: still the whole newest state
    flow.post(show(ab), show(ab));
    flow.post(append(ab, c!, 2), show(abc));
    flow.received();
    assert.equal(sent[2]!.type, MessageType.ShowAnalysis);
    assert.equal((sent[2] as ShowAnalysisMessage).analysis, abc);
  });

  it('a revision joins the appends waiting before and after it (one ReviseRun, the same state); two revisions do not', async () => {
    const [a, b, c, d] = await logPieces(dir, 'adam_base', [40, 60, 80]);
    const sent: ToWebviewMessage[] = [];
    const vias: string[] = [];
    const flow = new PostFlow((m, via) => (sent.push(m), vias.push(via)), manualTimers());
    flow.post(show(a!), show(a!));
    const ab = appendAnalysis(a!, b!);
    flow.post(append(a!, b!, 0), show(ab));
    // the whole-run pass over a..c, thinned afresh, revising what the view shows once b is appended
    const pass = thinned3(appendAnalysis(ab, c!));
    flow.post(revise(ab, pass, 1), show(pass));
    const passD = appendAnalysis(pass, d!);
    flow.post(append(pass, d!, 2), show(passD));
    assert.equal(flow.queued, 2);
    flow.received();
    const m = sent[1]!;
    assert.equal(m.type, MessageType.ReviseRun, 'one revision');
    assert.deepEqual(vias, ['posted', 'merged']);
    const r = m as ReviseRunMessage;
    assert.deepEqual(r.base, { lastStep: a!.result.steps.at(-1), steps: a!.result.steps.length }, "from the view's state");
    assert.equal(r.title, 'run 2');
    const got = applyRevision(a!, r.analysis);
    assert.deepEqual(float64Series(got.series), float64Series(passD.series));
    assert.deepEqual(got.result, passD.result);
    assert.ok(
      r.analysis.series.reduce((n, s) => n + s.steps.length, 0) < passD.series.reduce((n, s) => n + s.steps.length, 0),
      'the points the view has stay out',
    );
    // a revision waiting and a second one (the first drops points the second no longer lists): the whole state
    flow.post(revise(passD, thinned3(passD), 3), show(thinned3(passD)));
    const last = thinned3(thinned3(passD));
    flow.post(revise(thinned3(passD), last, 4), show(last));
    flow.received();
    assert.equal(sent[2]!.type, MessageType.ShowAnalysis, 'the whole state');
    assert.equal(vias[2], 'replaced');
    assert.equal((sent[2] as ShowAnalysisMessage).analysis, last);
  });

  it('a webview that never answers holds the queue only until the timeout; Ready starts over', async () => {
    const [a, b] = await logPieces(dir, 'adam_base', [50]);
    const sent: ToWebviewMessage[] = [];
    const timers = manualTimers();
    const flow = new PostFlow((m) => sent.push(m), timers);
    flow.post(show(a!), show(a!));
    const ab = appendAnalysis(a!, b!);
    flow.post(append(a!, b!, 0), show(ab));
    assert.equal(sent.length, 1);
    timers.fire();
    assert.equal(sent.length, 2, 'sent after the timeout');
    assert.equal(sent[1]!.type, MessageType.AppendSteps);
    flow.post(show(ab), show(ab));
    flow.reset();
    assert.equal(flow.queued, 0, 'Ready: nothing in flight, nothing waits');
    assert.equal(timers.pending, 0);
    flow.post(show(ab), show(ab));
    assert.equal(sent.length, 3, 'posted at once after a reset');
  });
});
