// The analysis process (src/extension/analysis/process.ts, bundled as the extension bundles it) driven through
// the host's client (client.ts) exactly as the extension does, in plain Node: results against expected.json,
// a large log's first partial analysis then the whole, a followed log's appended lines, cancel = kill, and
// containment: an input that exhausts the heap ceiling or hangs ends its own process with an error naming the
// file and how far it got, and the next analysis runs normally.

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnalysisCancelled, AnalysisFailed, AnalysisProcess } from '../../src/extension/analysis/client';
import { DEFAULT_LIMITS, type AnalysisLimits } from '../../src/extension/analysis/limits';
import type { AnalysisAnswer } from '../../src/extension/analysis/protocol';
import { EXHAUST_ENV } from '../../src/extension/analysis/testHooks';
import { analyzePaths } from '../../src/core/pipeline';
import type { RunAnalysis } from '../../src/core/analysis';
import { buildAnalysisProcess } from '../support/analysisBundle';
import { assertClose, fixturePath, loadExpected } from '../support/fixtures';
// @ts-expect-error a plain ES module shared with the e2e suite (no declarations)
import { dupBombPt } from '../../scripts/hostile-files.mjs';

let dir: string;
let modulePath: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ol-analysis-'));
  modulePath = await buildAnalysisProcess(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function open(limits: Partial<AnalysisLimits> = {}, env: NodeJS.ProcessEnv = process.env): AnalysisProcess {
  return new AnalysisProcess(modulePath, { ...DEFAULT_LIMITS, ...limits }, env);
}

/** True once the process with this pid is gone. */
async function gone(pid: number | undefined): Promise<boolean> {
  assert.ok(pid, 'the process had a pid');
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

function checkStep120(answer: AnalysisAnswer): void {
  assert.equal(answer.analysis.result.step, 120);
  const expected = loadExpected('adam_base').steps['120'];
  assert.equal(answer.analysis.result.layers.length, Object.keys(expected).filter((k) => k !== 'global').length);
  for (const layer of answer.analysis.result.layers) {
    assertClose(layer.relStep, expected[layer.name].rel_step, 1e-9, `${layer.name} relStep`);
    assertClose(layer.paramRms, expected[layer.name].param_rms, 1e-9, `${layer.name} paramRms`);
  }
}

describe('analysis process', () => {
  it('analyzes a fixture log and answers with the RunAnalysis (numbers of expected.json), reporting progress', async () => {
    const proc = open();
    const progress: string[] = [];
    try {
      const r = await proc.analyze([fixturePath('adam_base', 'stats.jsonl')], {}, false, { onProgress: (_, m) => progress.push(m) });
      assert.equal(r.followed, null);
      checkStep120(r);
      assert.ok(progress.includes('reading stats.jsonl'), progress.join(' | '));
    } finally {
      proc.dispose();
    }
  });

  it('thins a run longer than maxDashboardSteps before sending it, and says how many steps there were', async () => {
    const proc = open();
    try {
      const r = await proc.analyze([fixturePath('adam_base', 'stats.jsonl')], { maxDashboardSteps: 30 }, false);
      assert.equal(r.totalSteps, 120);
      assert.ok(r.analysis.result.steps.length < 120);
      assert.equal(r.analysis.result.layers.length, 14, 'report layers untouched');
      assert.equal(r.analysis.series[0].steps.length, r.analysis.result.steps.length);
    } finally {
      proc.dispose();
    }
  });

  it('a folder of two separate runs answers with each run analyzed alone and thinned (never merged), not followed', async () => {
    const root = join(dir, 'two-runs');
    for (const [name, fixture] of [
      ['adam', 'adam_base'],
      ['sgd', 'sgd_momentum'],
    ]) {
      mkdirSync(join(root, name), { recursive: true });
      writeFileSync(join(root, name, 'stats.jsonl'), readFileSync(fixturePath(fixture, 'stats.jsonl')));
    }
    const proc = open();
    try {
      const both = await proc.analyze([root], { maxDashboardSteps: 30 }, true);
      assert.equal(both.followed, null, 'separate runs are not followed');
      assert.deepEqual(
        both.runs?.map((r) => r.label),
        ['adam', 'sgd'],
      );
      for (const run of both.runs!) {
        // The same run analyzed alone (its folder), through the same process and thinning.
        const alone = await proc.analyze([join(root, run.label)], { maxDashboardSteps: 30 }, false);
        assert.equal(alone.runs, undefined, 'one run keeps the single answer');
        assert.equal(run.totalSteps, alone.totalSteps);
        assert.ok(run.analysis.result.steps.length < run.totalSteps!, 'thinned for the dashboard');
        assert.deepEqual(run.analysis, alone.analysis);
        assert.deepEqual(run.facts, alone.facts);
      }
      const [adam, sgd] = both.runs!;
      assert.notDeepEqual(adam.analysis.result.layers, sgd.analysis.result.layers, 'two different runs');
      assert.equal(adam.analysis.result.step, 120);
      assert.deepEqual(both.analysis, adam.analysis, 'the answer itself is the first run');
      assert.ok(!adam.analysis.result.issues.some((i) => /merged/.test(i.message)), 'no merge warning');
    } finally {
      proc.dispose();
    }
  });

  /** A final answer of a log read in steps: what one analysis of the whole log gives. */
  function assertFinalAsWhole(r: AnalysisAnswer, whole: RunAnalysis): void {
    assert.equal(r.partial, undefined);
    assert.deepEqual(r.analysis.result.steps, whole.result.steps);
    assert.deepEqual(r.analysis.result.layers, whole.result.layers);
    assert.deepEqual(r.analysis.result.findings, whole.result.findings);
    checkStep120(r);
  }

  it('a large log is read in steps: a first analysis of its start arrives first, then the whole, equal to one read', async () => {
    // a folder holding only the log, as Analyze Folder… gets it
    const run = join(dir, 'one-log-run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'stats.jsonl'), readFileSync(fixturePath('adam_base', 'stats.jsonl')));
    const whole = await analyzePaths([run]);
    const proc = open();
    const partials: AnalysisAnswer[] = [];
    try {
      const size = statSync(join(run, 'stats.jsonl')).size;
      const r = await proc.analyze([run], { readSteps: { first: Math.floor(size / 10), next: Math.floor(size / 4) } }, false, {
        onPartial: (a) => partials.push(a),
      });
      assert.equal(partials.length, 1, 'one first view');
      const first = partials[0];
      assert.ok(first.partial && first.partial.fraction > 0 && first.partial.fraction < 0.2, JSON.stringify(first.partial));
      assert.ok(
        first.analysis.result.steps.length > 0 && first.analysis.result.steps.length < 30,
        `${first.analysis.result.steps.length} steps`,
      );
      assertFinalAsWhole(r, whole);
      assert.deepEqual(r.analysis.result.inputs, whole.result.inputs);
    } finally {
      proc.dispose();
    }
  });

  it('a whole-run pass (partial: false) reads a large log in steps without a first analysis, to the same answer', async () => {
    const p = join(dir, 'pass-stats.jsonl');
    writeFileSync(p, readFileSync(fixturePath('adam_base', 'stats.jsonl')));
    const size = statSync(p).size;
    const whole = await analyzePaths([p]);
    const proc = open();
    const partials: AnalysisAnswer[] = [];
    const progress: number[] = [];
    try {
      const r = await proc.analyze([p], { readSteps: { first: Math.floor(size / 10), next: Math.floor(size / 4) }, partial: false }, true, {
        onPartial: (a) => partials.push(a),
        onProgress: (f, m) => (m.startsWith('reading') ? progress.push(f) : undefined),
      });
      assert.equal(partials.length, 0, 'no first view');
      // read in steps of `next` (0, ¼, ½, ¾ of the reading share), not of `first`
      assert.ok(progress.length >= 4 && progress.length <= 5, JSON.stringify(progress));
      assertFinalAsWhole(r, whole);
      assert.equal(r.followed, p);
    } finally {
      proc.dispose();
    }
  });

  it('a log whose last line has no newline is read whole when not followed', async () => {
    const p = join(dir, 'no-final-newline.jsonl');
    writeFileSync(p, readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').trimEnd());
    const proc = open();
    try {
      checkStep120(await proc.analyze([p], {}, false));
    } finally {
      proc.dispose();
    }
  });

  it('follows a growing JSONL log: a tail request reads only the appended lines (analyzed alone and appended), a half-written line waits', async () => {
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    const firstHalf = lines.filter((l) => (JSON.parse(l) as { step: number }).step <= 60);
    const secondHalf = lines.slice(firstHalf.length);
    const log = join(dir, 'growing.jsonl');
    writeFileSync(log, firstHalf.join('\n') + '\n');
    const proc = open();
    try {
      const first = await proc.analyze([log], {}, true);
      assert.equal(first.followed, log);
      assert.equal(first.analysis.result.steps.length, 60);
      assert.equal(first.analysis.result.steps.at(-1), 60);

      // Append steps 61..120 and half of one more line (a writer mid-line).
      appendFileSync(log, secondHalf.join('\n') + '\n' + secondHalf[0].slice(0, 40));
      const second = await proc.tail();
      assert.equal(second.newRecords, true);
      assert.equal(second.analysis.result.steps.length, 120);
      assert.equal(second.analysis.result.inputs.length, 1, 'the input is listed once');
      checkStep120(second);
      // The series still has the first half's values (merged, not replaced).
      const expected = loadExpected('adam_base').steps;
      const embed = second.analysis.series.find((s) => s.layer === 'embed.weight')!;
      assertClose(
        embed.figures.relStep[embed.steps.indexOf(60)],
        expected['60']['embed.weight'].rel_step,
        1e-9,
        'embed.weight relStep at 60',
      );

      // The new steps were analyzed alone and appended (the fast refresh); a whole-run pass then re-evaluates
      // the findings over all 120 steps and gives what one analysis of the whole log gives.
      assert.equal(second.appended, true);
      const full = await proc.tail(true);
      assert.equal(full.appended, undefined);
      const whole = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')]);
      assert.deepEqual(full.analysis.result.findings, whole.result.findings);
      assert.deepEqual(full.analysis.series, whole.series);
      assert.deepEqual(second.analysis.series, whole.series, 'the appended series equal the whole-run ones');

      // Nothing new: the last answer again, no new records, nothing analyzed.
      const third = await proc.tail();
      assert.equal(third.newRecords, false);
      assert.equal(third.analysis.result.steps.length, 120);
    } finally {
      proc.dispose();
    }
  });

  it('a step split across two reads is held whole: the next tail appends it (no whole-run analysis), a log that stops mid-step shows it', async () => {
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    const upTo = (s: number) => lines.filter((l) => (JSON.parse(l) as { step: number }).step <= s);
    const log = join(dir, 'split.jsonl');
    // steps 1..60 and 5 of step 61's 14 lines: a writer between two lines of a step
    writeFileSync(
      log,
      upTo(61)
        .slice(0, upTo(60).length + 5)
        .join('\n') + '\n',
    );
    const proc = open();
    try {
      const first = await proc.analyze([log], {}, true);
      assert.equal(first.analysis.result.steps.at(-1), 60, 'the partial step 61 waits');
      assert.equal(first.held, true);
      // the rest of step 61, steps 62..90 and 3 lines of step 91
      appendFileSync(
        log,
        upTo(91)
          .slice(upTo(60).length + 5, upTo(90).length + 3)
          .join('\n') + '\n',
      );
      const second = await proc.tail();
      assert.equal(second.appended, true, 'appended: the new records extend what was shown');
      assert.equal(second.held, true);
      assert.equal(second.analysis.result.steps.at(-1), 90);
      const part = await analyzePaths([fixturePath('adam_base', 'stats.jsonl')], {});
      const s90 = (a: { series: { layer: string; steps: ArrayLike<number> }[] }) =>
        a.series.map((s) => ({ layer: s.layer, steps: Array.from(s.steps).filter((x) => x <= 90) }));
      assert.deepEqual(s90(second.analysis), s90(part));
      // The writer stops: the next read finds nothing new and shows step 91 as it is (three tensors of 14: a
      // re-analysis, which a partial step always needed before).
      const third = await proc.tail();
      assert.ok(!third.held);
      assert.equal(third.analysis.result.steps.at(-1), 91);
      // The rest arrives: step 91 is read again whole (a re-analysis: it extends nothing), then appends resume.
      appendFileSync(
        log,
        upTo(120)
          .slice(upTo(90).length + 3)
          .join('\n') + '\n',
      );
      const fourth = await proc.tail();
      assert.equal(fourth.analysis.result.steps.at(-1), 120);
      checkStep120(fourth);
    } finally {
      proc.dispose();
    }
  });

  it("fills Adam's betas/eps from the settings only where tensors need them and no input states them, and says so", async () => {
    const proc = open();
    const defaults = { betas: [0.9, 0.999] as [number, number], eps: 1e-8 };
    try {
      // Gradient dumps without optimizer hyper-parameters: the defaults are used and labelled.
      const dump = await proc.analyze([fixturePath('adam_base', 'dump')], { defaults }, false);
      assert.deepEqual(dump.analysis.result.optimizer.betas, [0.9, 0.999]);
      assert.equal(dump.analysis.result.optimizer.eps, 1e-8);
      assert.match(dump.analysis.result.optimizer.source, /settings defaults \(betas, eps\)/);
      assert.deepEqual(dump.facts, { stateRoles: [], fromSettings: ['betas', 'eps'] });
      // A safetensors snapshot with Adam state but no betas/eps: the state is named, the settings fill both.
      const st = await proc.analyze([fixturePath('adam_base', 'tensors', 'step_000120.safetensors')], { defaults }, false);
      assert.deepEqual(st.facts, { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: ['betas', 'eps'] });
      // A torch optimizer checkpoint states its betas/eps: state named, nothing from the settings.
      const ck = await proc.analyze([fixturePath('adamw_wd0.05', 'checkpoint-120', 'optimizer.pt')], { defaults }, false);
      assert.deepEqual(ck.facts, { stateRoles: ['exp_avg', 'exp_avg_sq'], fromSettings: [] });
      assert.deepEqual(ck.analysis.result.optimizer.betas, [0.9, 0.999]);
      // A log without tensors: nothing to fill, nothing invented.
      const log = await proc.analyze([fixturePath('adam_base', 'train_log.jsonl')], { defaults }, false);
      assert.equal(log.analysis.result.optimizer.betas, null);
      assert.doesNotMatch(log.analysis.result.optimizer.source, /settings/);
      assert.deepEqual(log.facts, { stateRoles: [], fromSettings: [] });
    } finally {
      proc.dispose();
    }
  });

  it("an input's own error is an AnalysisFailed of kind 'input' naming the file; the process answers the next request", async () => {
    const bad = join(dir, 'broken.jsonl');
    writeFileSync(bad, 'not json\n');
    const proc = open();
    try {
      const e = await proc.analyze([bad], {}, false).then(
        () => null,
        (x: unknown) => x,
      );
      assert.ok(e instanceof AnalysisFailed, String(e));
      assert.equal(e.kind, 'input');
      assert.match(e.message, /broken\.jsonl/);
      assert.match(e.message, /line 1/);
      assert.equal(e.title, 'Cannot analyze broken.jsonl');
      checkStep120(await proc.analyze([fixturePath('adam_base', 'stats.jsonl')], {}, false));
    } finally {
      proc.dispose();
    }
  });

  it('is cancelled by killing it mid-analysis: the request rejects with AnalysisCancelled, the process is gone', async () => {
    const proc = open();
    const pid = proc.pid;
    let firstProgress!: () => void;
    const started = new Promise<void>((r) => (firstProgress = r));
    const pending = proc.analyze([fixturePath('adam_base')], {}, false, { onProgress: () => firstProgress() });
    await started;
    proc.cancel();
    await assert.rejects(pending, AnalysisCancelled);
    assert.equal(await gone(pid), true, 'the analysis process exited');
    assert.equal(proc.alive, false);
  });
});

describe('containment: limits of the analysis process', () => {
  const exhaustEnv = { ...process.env, [EXHAUST_ENV]: 'memory:fills-heap.jsonl,hang:hangs.jsonl' };
  const touch = (name: string) => {
    const p = join(dir, name);
    writeFileSync(p, readFileSync(fixturePath('adam_base', 'stats.jsonl')));
    return p;
  };

  it('an input that needs more than the heap ceiling ends its process: an error naming the file and how far it got', async () => {
    const p = touch('fills-heap.jsonl');
    const proc = open({ memoryLimitMb: 64 }, exhaustEnv);
    const pid = proc.pid;
    const e = await proc.analyze([p], {}, false).then(
      () => null,
      (x: unknown) => x,
    );
    assert.ok(e instanceof AnalysisFailed, String(e));
    assert.equal(e.kind, 'memory');
    assert.equal(e.title, 'fills-heap.jsonl exhausted the analysis limits');
    assert.match(e.message, /^fills-heap\.jsonl exhausted the analysis limits at 25% \(reading fills-heap\.jsonl\) after [\d.]+ s: /);
    assert.match(e.message, /64 MB memory ceiling \(setting optimizerLens\.analysis\.memoryLimitMb\)/);
    assert.equal(await gone(pid), true);
    // the next file opens normally, in a fresh process under the same limits
    const next = open({ memoryLimitMb: 64 }, exhaustEnv);
    try {
      checkStep120(await next.analyze([fixturePath('adam_base', 'stats.jsonl')], {}, false));
    } finally {
      next.dispose();
    }
  });

  it('an input that hangs (a blocked event loop) is stopped at the time limit with an error saying so', async () => {
    const p = touch('hangs.jsonl');
    const proc = open({ timeoutSeconds: 5 }, exhaustEnv); // room for a slow start on a loaded machine
    const pid = proc.pid;
    const e = await proc.analyze([p], {}, false).then(
      () => null,
      (x: unknown) => x,
    );
    assert.ok(e instanceof AnalysisFailed, String(e));
    assert.equal(e.kind, 'timeout');
    assert.match(
      e.message,
      /^hangs\.jsonl exhausted the analysis limits at 25% \(reading hangs\.jsonl\): the analysis ran longer than 5 s/,
    );
    assert.equal(await gone(pid), true);
  });

  it('a pickle of 30M DUP opcodes (30 KB on disk) is contained under a 64 MB ceiling, or refused by the reader', async () => {
    const p = join(dir, 'dup-bomb.pt');
    writeFileSync(p, dupBombPt(30_000_000));
    assert.ok(statSync(p).size < 64 * 1024);
    const proc = open({ memoryLimitMb: 64 });
    const e = await proc.analyze([p], {}, false).then(
      () => null,
      (x: unknown) => x,
    );
    proc.dispose();
    assert.ok(e instanceof AnalysisFailed, String(e));
    // Without a stack budget in the pickle machine the process hits its ceiling; with one, the reader's own error.
    if (e.kind === 'input') assert.match(e.message, /dup-bomb\.pt/);
    else assert.equal(e.kind, 'memory', e.message);
  });
});
