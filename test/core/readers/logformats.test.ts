import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';
import { analyzePaths, analyzeRuns } from '../../../src/core/pipeline';
import { detectFormat, readInputs, readRuns } from '../../../src/core/readers/discover';
import { readCsv } from '../../../src/core/readers/csv';
import { readJsonl } from '../../../src/core/readers/jsonl';
import { readWandbSummary } from '../../../src/core/readers/wandbSummary';
import { classifyHistogramTag } from '../../../src/core/run/scalarTags';
import { ReaderError } from '../../../src/core/errors';
import { globalsOf, observationsOf } from '../../support/observations';

// Fixtures: test/fixtures/logformats (make_logformats.py writes them and expected.json).
const DIR = join(__dirname, '..', '..', 'fixtures', 'logformats');
const at = (...p: string[]) => join(DIR, ...p);
const expected = JSON.parse(readFileSync(at('expected.json'), 'utf8'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const rel = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a / b - 1));

// ---- Keras / TF2 weight histograms -------------------------------------------------------------------

test('Keras histogram tags: TF1 kernel_0, TF ≥ 2.5 kernel_0/histogram, Keras 3 kernel/histogram, TF1 _grad', () => {
  assert.deepEqual(classifyHistogramTag('dense/kernel_0'), { kind: 'histogram', layer: 'dense/kernel', role: 'param', quantity: 'param' });
  assert.deepEqual(classifyHistogramTag('conv2d/bias_0/histogram'), {
    kind: 'histogram',
    layer: 'conv2d/bias',
    role: 'param',
    quantity: 'param',
  });
  assert.deepEqual(classifyHistogramTag('block1/dense/kernel/histogram'), {
    kind: 'histogram',
    layer: 'block1/dense/kernel',
    role: 'param',
    quantity: 'param',
  });
  assert.deepEqual(classifyHistogramTag('dense/kernel_0_grad'), {
    kind: 'histogram',
    layer: 'dense/kernel',
    role: 'grad',
    quantity: 'grad',
  });
  // Batch-norm moving statistics are not trained; a bare `dense/kernel` is too generic to claim.
  assert.equal(classifyHistogramTag('batch_normalization/moving_mean_0'), null);
  assert.equal(classifyHistogramTag('dense/kernel'), null);
});

test('Keras TF1 HistogramProto (exact sum_squares): per-layer parameter RMS equals numpy float64, provenance exact', async () => {
  const a = await analyzePaths([at('keras_tf1')]);
  const ex = expected.keras_tf1 as Record<string, { step: number; rms: number }[]>;
  assert.deepEqual(a.result.layers.map((l) => l.name).sort(), Object.keys(ex).sort());
  for (const [layer, points] of Object.entries(ex)) {
    const series = a.series.find((s) => s.layer === layer)!;
    for (const p of points) {
      const i = series.steps.indexOf(p.step);
      assert.ok(i >= 0, `${layer} step ${p.step}`);
      const got = series.figures.paramRms[i]!;
      assert.ok(rel(got, p.rms) < 1e-14, `${layer}@${p.step}: ${got} vs ${p.rms}`);
    }
    assert.equal(a.result.layers.find((l) => l.name === layer)!.provenance?.paramRms, 'histogram');
  }
  // The names that gave values: scalars first, then histograms.
  assert.deepEqual(a.result.seen?.[0]?.read, ['loss', 'acc', 'conv2d/kernel_0', 'conv2d/bias_0', 'dense/kernel_0', 'dense/bias_0']);
});

test('Keras TF2 [k,3] histogram tensors: approximate RMS (bucket centres), marked approximate; train/ + validation/ are one run', async () => {
  const runs = await analyzeRuns([at('keras_tf2')]);
  assert.equal(runs.length, 1, 'logs/train and logs/validation are parts of one Keras run');
  const a = runs[0]!.analysis;
  assert.equal(a.result.inputs.length, 2);
  const ex = expected.keras_tf2 as Record<string, { step: number; approx_rms: number; rms: number; bucket_width: number }[]>;
  for (const [layer, points] of Object.entries(ex)) {
    const series = a.series.find((s) => s.layer === layer)!;
    for (const p of points) {
      const got = series.figures.paramRms[series.steps.indexOf(p.step)]!;
      assert.ok(rel(got, p.approx_rms) < 1e-12, `${layer}@${p.step}: ${got} vs numpy ${p.approx_rms}`);
      // Centres are at most half a bucket from each value: the RMS error is bounded by that.
      assert.ok(Math.abs(got - p.rms) <= p.bucket_width / 2 + 1e-12, `${layer}@${p.step}: ${got} vs exact ${p.rms}`);
    }
    assert.equal(a.result.layers.find((l) => l.name === layer)!.provenance?.paramRms, 'histogram (approximate)');
  }
});

// ---- detection by content ---------------------------------------------------------------------------

test('detection by content: CatBoost events.out.tfevents, detectron2 metrics.json, a torch zip named .weights; others skipped with a reason', async () => {
  const fmt = (p: string) => {
    const f = detectFormat(at('by_content', p));
    return 'reader' in f ? f.reader.format : `skip: ${f.reason}`;
  };
  assert.equal(fmt('catboost_info/learn/events.out.tfevents'), 'tfevents');
  assert.equal(fmt('detectron2/metrics.json'), 'jsonl');
  assert.equal(fmt('weights/best.weights'), 'torch');
  assert.match(fmt('weights/curve.png'), /^skip: an image/);
  assert.match(fmt('weights/hparams.yaml'), /^skip: a config/);
  assert.match(fmt('weights/notes.txt'), /^skip: text/);
  // Pretty-printed JSON is a document, not JSON Lines.
  assert.match(String('reader' in detectFormat(at('..', 'configs', 'ds_config.json')) ? 'read' : 'skip'), /skip/);

  const data = await readInputs([at('by_content')]);
  assert.deepEqual(
    data.inputs.map((i) => i.format).sort(),
    ['jsonl', 'tfevents', 'tfevents', 'torch'],
    'the four files are read by their readers',
  );
  assert.deepEqual(data.skipped?.map((s) => s.path.split('/').pop()).sort(), ['curve.png', 'hparams.yaml', 'notes.txt']);
  // detectron2: iteration is the step, total_loss the loss, lr the lr.
  const d2 = await readJsonl(at('by_content', 'detectron2', 'metrics.json'));
  const ex = expected.detectron2;
  assert.deepEqual(
    globalsOf(d2)
      .filter((g) => 'loss' in g.values)
      .map((g) => g.step),
    ex.iteration,
  );
  assert.deepEqual(
    globalsOf(d2)
      .filter((g) => 'loss' in g.values)
      .map((g) => g.values.loss),
    ex.total_loss,
  );
  // The torch zip gives the Linear layer's parameter RMS.
  const a = await analyzePaths([at('by_content', 'weights', 'best.weights')]);
  assert.ok(rel(a.result.layers.find((l) => l.name === 'weight')!.paramRms!, expected.torch_zip.weight) < 1e-6);
  // Named explicitly, a file that is none of these is an error that says why.
  await assert.rejects(
    readInputs([at('by_content', 'weights', 'notes.txt')]),
    (e: unknown) => e instanceof ReaderError && /text, not JSON Lines/.test(e.message),
  );
});

// ---- epoch CSVs ---------------------------------------------------------------------------------------

test('Ultralytics results.csv: padded headers, epoch as the x-axis, lr/pg0..2 group lrs, SGD from args.yaml', async () => {
  const run = await readCsv(at('ultralytics', 'train', 'results.csv'));
  assert.equal(run.seen?.[0]?.xAxis, 'epoch');
  assert.deepEqual(run.seen?.[0]?.read, ['lr/pg0', 'lr/pg1', 'lr/pg2']);
  assert.deepEqual(
    globalsOf(run).map((g) => g.step),
    expected.ultralytics.epochs,
  );
  assert.deepEqual(
    globalsOf(run).map((g) => g.values.lr),
    expected.ultralytics.lr,
  );
  assert.deepEqual(
    globalsOf(run).map((g) => g.values['lr/pg1']),
    expected.ultralytics.lr_pg1,
  );
  assert.equal(run.hyper.type, 'sgd');
  const a = await analyzePaths([at('ultralytics', 'train')]);
  assert.equal(a.summary?.xAxis, 'epoch');
  assert.equal(a.result.optimizer.type, 'sgd');
  const r = await cli('analyze', at('ultralytics'));
  assert.equal(r.code, 0);
  assert.match(r.out, /^x-axis: epoch/m);
});

test('Lightning metrics.csv: version_0 (epoch + step) and version_11 (epoch only, sparse rows) are separate runs', async () => {
  const runs = await readRuns([at('lightning')]);
  assert.deepEqual(
    runs.map((r) => r.label),
    ['lightning_logs/version_0', 'lightning_logs/version_11'],
  );
  const [v0, v11] = runs;
  assert.equal(v0!.data.seen?.[0]?.xAxis, undefined);
  assert.deepEqual([...new Set(globalsOf(v0!.data).map((g) => g.step))], [49, 99, 149, 199]);
  assert.equal(v11!.data.seen?.[0]?.xAxis, 'epoch');
  // Sparse rows: empty cells are absent, the epoch's values merge.
  assert.deepEqual(globalsOf(v11!.data), [
    { step: 0, values: { loss: 1.1, evalLoss: 1.2 } },
    { step: 1, values: { loss: 0.95, evalLoss: 1 } },
    { step: 2, values: { loss: 0.9 } },
  ]);
});

// ---- W&B -----------------------------------------------------------------------------------------------

test('W&B: system metrics and runs table recognised (no series, no error), history read by _step, summary reported', async () => {
  const files = at('wandb', 'wandb', 'run-20240101_120000-abc123xy', 'files');
  const ev = await readJsonl(join(files, 'wandb-events.jsonl'));
  assert.equal(ev.seen?.[0]?.kind, 'wandb-system-metrics');
  assert.equal(globalsOf(ev).length + observationsOf(ev).length, 0);
  assert.deepEqual(ev.issues, []);
  const table = await readCsv(at('wandb', 'wandb_export_2024-01-02T10_00_00.csv'));
  assert.equal(table.seen?.[0]?.kind, 'wandb-runs-table');
  assert.match(table.seen![0]!.note!, /2 runs/);
  assert.equal(globalsOf(table).length, 0);
  const hist = await readJsonl(join(files, 'wandb-history.jsonl'));
  assert.deepEqual(
    globalsOf(hist).map((g) => g.step),
    expected.wandb_history.steps,
  );
  assert.deepEqual(
    globalsOf(hist).map((g) => g.values.loss),
    expected.wandb_history.loss,
  );
  const sum = await readWandbSummary(join(files, 'wandb-summary.json'));
  assert.equal(sum.seen?.[0]?.kind, 'wandb-summary');
  assert.deepEqual(globalsOf(sum), [{ step: 4, values: { loss: 1.6, lr: 1e-4, gradNorm: 1.3 } }]);
  // Named alone on the command line, neither is exit 2.
  for (const f of [join(files, 'wandb-events.jsonl'), at('wandb', 'wandb_export_2024-01-02T10_00_00.csv')]) {
    const r = await cli('analyze', f);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /↳ W&B (system metrics|runs table)/);
  }
});

// ---- separate runs ---------------------------------------------------------------------------------------

test('two HF runs/<date>_<host>/ folders: analyzed apart; CLI text one block per run, --json a runs array', async () => {
  const runs = await analyzeRuns([at('hf_runs')]);
  assert.deepEqual(
    runs.map((r) => [r.label, r.analysis.result.optimizer.lr]),
    // simple_value is a float32.
    Object.entries(expected.hf_runs).map(([name, lr]) => [`runs/${name}`, Math.fround(lr as number)]),
  );
  const text = await cli('analyze', at('hf_runs'));
  assert.match(text.out, /^2 separate runs/);
  assert.equal(text.out.match(/^══ Run \d of 2: /gm)?.length, 2);
  const j = JSON.parse((await cli('analyze', at('hf_runs'), '--json')).out);
  assert.equal(j.tool, 'optimizer-lens');
  assert.deepEqual(
    j.runs.map((r: { run: string; optimizer: { lr: number } }) => [r.run, r.optimizer.lr]),
    runs.map((r) => [r.label, r.analysis.result.optimizer.lr]),
  );
  // The merged single view says it merged.
  const merged = await readInputs([at('hf_runs')]);
  assert.match(merged.issues[0]!.message, /2 separate runs .* merged/);
  // …and lists the runs (the dashboard's picker gets them through InputFacts.runs).
  assert.deepEqual(
    merged.runs?.map((r) => r.label),
    runs.map((r) => r.label),
  );
  // One run keeps the single-run JSON shape.
  const one = JSON.parse((await cli('analyze', at('keras_tf1'), '--json')).out);
  assert.equal(one.runs, undefined);
  assert.ok(Array.isArray(one.layers));
});

test('parts of one run stay together: a run folder with tb/, ckpt/, tensors/ and logs is one run', async () => {
  const runs = await readRuns([join(DIR, '..', 'adam_base')]);
  assert.equal(runs.length, 1);
});

// ---- what was read ---------------------------------------------------------------------------------------

test('no per-layer figures: the summary and the CLI say what was read and what to log', async () => {
  const a = await analyzePaths([at('wandb', 'wandb', 'run-20240101_120000-abc123xy', 'files', 'wandb-history.jsonl')]);
  assert.deepEqual(a.summary?.noLayerFigures?.globals, ['loss', 'lr', 'gradNorm']);
  assert.deepEqual(a.summary?.noLayerFigures?.read, ['train/loss', 'train/learning_rate', 'train/grad_norm']);
  assert.match(a.summary!.noLayerFigures!.hint, /snippets\/optimizer_lens_core\.py/);
  const r = await cli('analyze', at('hf_runs', 'runs', 'Jan01_12-00-00_host-a'));
  assert.match(r.out, /No per-layer figures in these inputs\. Read: loss, lr \(from train\/loss, train\/learning_rate\)\./);
  assert.doesNotMatch(r.out, /no per-layer figures at this step/);
  // A run with per-layer figures has none of it.
  assert.equal((await analyzePaths([at('keras_tf1')])).summary?.noLayerFigures, undefined);
});
