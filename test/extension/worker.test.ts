// The extension's analysis worker (src/extension/worker.ts) in a real worker_threads Worker:
// analysis of a fixture log, live tail of a growing JSONL (only appended lines are read), cancel.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from '../../src/extension/workerProtocol';
import { assertClose, fixturePath, loadExpected } from '../support/fixtures';

let dir: string;
let workerJs: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ol-worker-'));
  const esbuild = await import('esbuild');
  workerJs = join(dir, 'worker.js');
  await esbuild.build({
    entryPoints: [resolve(__dirname, '..', '..', 'src', 'extension', 'worker.ts')],
    outfile: workerJs,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

class Client {
  readonly worker = new Worker(workerJs);
  readonly progress: { fraction: number; message: string }[] = [];
  request(message: ToWorker): Promise<Extract<FromWorker, { kind: 'result' }>> {
    return new Promise((resolvePromise, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.kind === 'progress') this.progress.push(m);
        else {
          this.worker.off('message', onMessage);
          if (m.kind === 'result') resolvePromise(m);
          else reject(new Error(`${m.name}: ${m.message}`));
        }
      };
      this.worker.on('message', onMessage);
      this.worker.postMessage(message);
    });
  }
}

describe('analysis worker', () => {
  it('analyzes a fixture log and answers with the RunAnalysis (numbers of expected.json)', async () => {
    const client = new Client();
    try {
      const r = await client.request({ kind: 'analyze', paths: [fixturePath('adam_base', 'stats.jsonl')], options: {} });
      assert.equal(r.tailing, false);
      assert.equal(r.analysis.result.step, 120);
      assert.equal(r.analysis.result.layers.length, 14);
      const expected = loadExpected('adam_base').steps['120'];
      for (const layer of r.analysis.result.layers) {
        assertClose(layer.relStep, expected[layer.name].rel_step, 1e-9, `${layer.name} relStep`);
        assertClose(layer.paramRms, expected[layer.name].param_rms, 1e-9, `${layer.name} paramRms`);
      }
      assert.ok(client.progress.length > 0, 'progress was reported');
    } finally {
      await client.worker.terminate();
    }
  });

  it('thins a run longer than maxDashboardSteps before sending it, and says how many steps there were', async () => {
    const client = new Client();
    try {
      const r = await client.request({
        kind: 'analyze',
        paths: [fixturePath('adam_base', 'stats.jsonl')],
        options: { maxDashboardSteps: 30 },
      });
      assert.equal(r.totalSteps, 120);
      assert.ok(r.analysis.result.steps.length < 120);
      assert.equal(r.analysis.result.layers.length, 14, 'report layers untouched');
      assert.equal(r.analysis.series[0].steps.length, r.analysis.result.steps.length);
    } finally {
      await client.worker.terminate();
    }
  });

  it('follows a growing JSONL log: a tail request reads only the appended lines, a half-written line waits', async () => {
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    const firstHalf = lines.filter((l) => (JSON.parse(l) as { step: number }).step <= 60);
    const secondHalf = lines.slice(firstHalf.length);
    const log = join(dir, 'growing.jsonl');
    writeFileSync(log, firstHalf.join('\n') + '\n');
    const client = new Client();
    try {
      const first = await client.request({ kind: 'analyze', paths: [log], options: {}, tail: true });
      assert.equal(first.tailing, true);
      assert.equal(first.analysis.result.step, 60);
      assert.equal(first.analysis.result.steps.length, 60);

      // Append steps 61..120 and half of one more line (a writer mid-line).
      appendFileSync(log, secondHalf.join('\n') + '\n' + secondHalf[0].slice(0, 40));
      const second = await client.request({ kind: 'tail' });
      assert.equal(second.newRecords, true);
      assert.equal(second.analysis.result.step, 120);
      assert.equal(second.analysis.result.steps.length, 120);
      assert.equal(second.analysis.result.inputs.length, 1, 'the input is listed once');
      const expected = loadExpected('adam_base').steps;
      for (const layer of second.analysis.result.layers) {
        assertClose(layer.relStep, expected['120'][layer.name].rel_step, 1e-9, `${layer.name} relStep at 120`);
      }
      // The series still has the first half's values (merged, not replaced).
      const embed = second.analysis.series.find((s) => s.layer === 'embed.weight')!;
      assertClose(
        embed.figures.relStep[embed.steps.indexOf(60)],
        expected['60']['embed.weight'].rel_step,
        1e-9,
        'embed.weight relStep at 60',
      );

      // Nothing new: same analysis, no new records.
      const third = await client.request({ kind: 'tail' });
      assert.equal(third.newRecords, false);
      assert.equal(third.analysis.result.steps.length, 120);
    } finally {
      await client.worker.terminate();
    }
  });

  it("fills Adam's betas/eps from the settings only where tensors need them and no input states them, and says so", async () => {
    const client = new Client();
    const defaults = { betas: [0.9, 0.999] as [number, number], eps: 1e-8 };
    try {
      // Gradient dumps without optimizer hyper-parameters: the defaults are used and labelled.
      const dump = await client.request({ kind: 'analyze', paths: [fixturePath('adam_base', 'dump')], options: { defaults } });
      assert.deepEqual(dump.analysis.result.optimizer.betas, [0.9, 0.999]);
      assert.equal(dump.analysis.result.optimizer.eps, 1e-8);
      assert.match(dump.analysis.result.optimizer.source, /settings defaults \(betas, eps\)/);
      // Gradients only: no optimizer state; the filled figures are listed for the header.
      assert.deepEqual(dump.facts, { stateRoles: [], fromSettings: ['betas', 'eps'] });
      // A safetensors snapshot with Adam state but no betas/eps: the state is named, the settings fill both.
      const st = await client.request({
        kind: 'analyze',
        paths: [fixturePath('adam_base', 'tensors', 'step_000120.safetensors')],
        options: { defaults },
      });
      assert.deepEqual(st.facts, { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: ['betas', 'eps'] });
      // A torch optimizer checkpoint states its betas/eps: state named, nothing from the settings.
      const ck = await client.request({
        kind: 'analyze',
        paths: [fixturePath('adamw_wd0.05', 'checkpoint-120', 'optimizer.pt')],
        options: { defaults },
      });
      assert.deepEqual(ck.facts, { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: [] });
      assert.deepEqual(ck.analysis.result.optimizer.betas, [0.9, 0.999]);
      // A log without tensors: nothing to fill, nothing invented.
      const log = await client.request({ kind: 'analyze', paths: [fixturePath('adam_base', 'train_log.jsonl')], options: { defaults } });
      assert.equal(log.analysis.result.optimizer.betas, null);
      assert.doesNotMatch(log.analysis.result.optimizer.source, /settings/);
      assert.deepEqual(log.facts, { stateRoles: [], fromSettings: [] });
    } finally {
      await client.worker.terminate();
    }
  });

  it('is cancelled by terminating it mid-analysis: no result arrives, the thread exits', async () => {
    const client = new Client();
    let answered = false;
    const firstProgress = new Promise<void>((resolvePromise) =>
      client.worker.on('message', (m: FromWorker) => {
        if (m.kind === 'progress') resolvePromise();
        else answered = true;
      }),
    );
    const exited = new Promise<number>((resolvePromise) => client.worker.on('exit', resolvePromise));
    client.worker.postMessage({ kind: 'analyze', paths: [fixturePath('adam_base')], options: {} } satisfies ToWorker);
    await firstProgress;
    await client.worker.terminate();
    await exited;
    assert.equal(answered, false);
    assert.equal(client.worker.threadId, -1, 'the worker thread is gone');
  });
});
