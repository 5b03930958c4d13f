// One message in flight per webview, what arrives meanwhile merged: appends of a followed log joined into one
// AppendSteps (the same state as appending them one by one), anything else replaced by the whole state.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import { MessageType, type AppendStepsMessage, type ShowAnalysisMessage, type ToWebviewMessage } from '../../src/shared/protocol';
import { PostFlow, type PostFlowTimers } from '../../src/extension/postFlow';
import { assertJoinedAsWhole, fixturePath } from '../support/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'ol-postflow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The fixture log cut into pieces at the given steps (records of step ≤ cut go before it). */
async function pieces(run: string, cuts: number[]): Promise<RunAnalysis[]> {
  const lines = readFileSync(fixturePath(run, 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
  const out: RunAnalysis[] = [];
  let from = 0;
  for (const cut of [...cuts, Infinity]) {
    const part = lines.slice(from).filter((l) => (JSON.parse(l) as { step: number }).step <= cut);
    from += part.length;
    const file = join(dir, `${run}-${out.length}.jsonl`);
    writeFileSync(file, part.join('\n') + '\n');
    out.push(await analyzePaths([file]));
  }
  return out;
}

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
    const [a, b, c, d] = await pieces('adam_base', [30, 50, 70]);
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
    const [a, b, c] = await pieces('adam_base', [40, 60]);
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

  it('a webview that never answers holds the queue only until the timeout; Ready starts over', async () => {
    const [a, b] = await pieces('adam_base', [50]);
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
