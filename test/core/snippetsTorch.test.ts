// The logging snippets, run for real: /usr/bin/python3 trains a tiny model with each snippet variant
// (test/python/train_tiny.py) and writes, next to the snippet's JSONL, the ground truth computed directly
// in float64 from copies of param before/after, grad and the optimizer state. The snippet it loads is the
// composed paste, the exact text Insert Logging Snippet inserts (LOGGING_SNIPPETS), written to a scratch
// folder where nothing of ours is importable. Here we check the log against that truth, then read it back
// with the JSONL reader and with the CLI and check again.
// Skipped (with the reason) when /usr/bin/python3 cannot import torch: scripts/ensure-torch.sh installs it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertClose } from '../support/fixtures';
import { readJsonl } from '../../src/core/readers/jsonl';
import { observationsOf } from '../support/observations';
import { loggingSnippet, type LoggingSnippetId } from '../../src/core/snippets';
import type { AnalysisResult } from '../../src/core/analysis';
import type { LayerFigures } from '../../src/core/run/types';
import type { OptimizerKind } from '../../src/shared/optimizers';

const REPO = resolve(__dirname, '..', '..');
const PYTHON = '/usr/bin/python3';
// The snippet reduces in float64 like the direct computation: they agree to ~1e-15; the brief asks 1e-6.
const REL = 1e-12;
// Adafactor's lr is a float32 product in transformers (and in train_tiny.py's reference implementation),
// computed in float64 by the snippet from the same state: they agree to float32 precision.
const REL_F32 = 1e-6;
// The direction the optimizer used vs the one measured from the stored float32 parameters: p's rounding
// (2^-24·|p|) over the step (lr·|d|), at most 8e-5 here (Lion, lr 2e-3).
const DIRECTION_VS_OPTIMIZER = 1e-3;

const torchProbe = spawnSync(
  PYTHON,
  ['-c', 'import torch; print(torch.__version__); print(hasattr(torch.optim.Optimizer, "register_step_pre_hook"))'],
  {
    encoding: 'utf8',
  },
);
const TORCH_SKIP: string | false =
  torchProbe.status === 0
    ? false
    : `torch is not importable by ${PYTHON} (run scripts/ensure-torch.sh): ${(torchProbe.stderr || '').trim().split('\n').pop()}`;
const HAS_STEP_HOOKS = torchProbe.status === 0 && torchProbe.stdout.trim().split('\n')[1] === 'True';

type Optimizer = 'adam' | 'adamw' | 'sgd' | 'rmsprop' | 'lion' | 'adafactor';
type Variant = 'plain' | 'attach' | 'hf' | 'hf-old' | 'lightning';

interface TruthLayer {
  shape: number[];
  numel: number;
  lr: number | null;
  effective_lr?: number;
  param_rms: number;
  grad_rms: number;
  update_rms: number;
  rel_step: number | null;
  direction_rms: number;
  adam_u_rms: number | null;
  eps_dominated_frac: number | null;
  decay_rms?: number;
  momentum_buffer_rms?: number;
}

interface Truth {
  torch: string;
  optimizer: Optimizer;
  variant: Variant;
  shim: boolean;
  logged_steps: number[];
  steps: Record<string, Record<string, TruthLayer>>;
  checks: Record<
    string,
    { direction_vs_optimizer_max_rel_err: number; torch_form_max_rel_err?: number; eps_before_bias_correction_min_rel_err?: number }
  >;
}

interface Run {
  log: string;
  logText: string;
  truth: Truth;
}

const WORK = TORCH_SKIP ? '' : mkdtempSync(join(tmpdir(), 'optimizer-lens-snippets-'));
const runs = new Map<string, Run>();
after(() => {
  if (WORK) rmSync(WORK, { recursive: true, force: true });
});

const PASTE_OF: Record<Variant, LoggingSnippetId> = {
  plain: 'plain-loop',
  attach: 'plain-loop',
  hf: 'hf-trainer-callback',
  'hf-old': 'hf-trainer-callback',
  lightning: 'lightning-callback',
};

/** The composed paste of a snippet, as the command inserts it, in the scratch folder (outside the repository). */
function pastePath(id: LoggingSnippetId): string {
  const path = join(WORK, `paste-${id}.py`);
  if (!existsSync(path)) writeFileSync(path, loggingSnippet(id).code);
  return path;
}

/** train_tiny.py's arguments that load the variant's composed paste. */
function pasteArgs(variant: Variant): string[] {
  return ['--snippet', pastePath(PASTE_OF[variant])];
}

/**
 * Train once per (optimizer, variant, extra arguments); later calls reuse the files. The snippet is the
 * composed paste; `modular` loads the repository's snippets/*.py modules instead (adapter + core import).
 */
function train(optimizer: Optimizer, variant: Variant, extra: string[] = [], modular = false): Run {
  const key = [optimizer, variant, ...extra.map((a) => a.replace(/^--/, '')), ...(modular ? ['modular'] : [])].join('-');
  const cached = runs.get(key);
  if (cached) return cached;
  const log = join(WORK, `${key}.jsonl`);
  const truthPath = join(WORK, `${key}.truth.json`);
  const r = spawnSync(
    PYTHON,
    [
      join(REPO, 'test', 'python', 'train_tiny.py'),
      '--optimizer',
      optimizer,
      '--variant',
      variant,
      '--log',
      log,
      '--truth',
      truthPath,
      '--steps',
      '30',
      '--every',
      '5',
      ...(modular ? [] : pasteArgs(variant)),
      ...extra,
    ],
    { encoding: 'utf8', cwd: WORK, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 300_000 },
  );
  assert.equal(r.status, 0, `train_tiny.py ${key} failed:\n${r.stderr}`);
  const run: Run = {
    log,
    logText: readFileSync(log, 'utf8'),
    truth: JSON.parse(readFileSync(truthPath, 'utf8').replace(/\bNaN\b/g, 'null')) as Truth,
  }; // (--nan-grad-at runs only)
  runs.set(key, run);
  return run;
}

const LOG_FIELDS = [
  'lr',
  'effective_lr',
  'param_rms',
  'grad_rms',
  'update_rms',
  'rel_step',
  'direction_rms',
  'adam_u_rms',
  'eps_dominated_frac',
  'decay_rms',
  'momentum_buffer_rms',
] as const;
type LogField = (typeof LOG_FIELDS)[number];
/** The fields the JSONL reader maps to a figure (direction_rms and effective_lr it does not read yet). */
const FIGURE_OF: Partial<Record<LogField, keyof LayerFigures>> = {
  lr: 'lr',
  param_rms: 'paramRms',
  grad_rms: 'gradRms',
  update_rms: 'updateRms',
  rel_step: 'relStep',
  adam_u_rms: 'adamUpdateRms',
  eps_dominated_frac: 'epsDominatedFraction',
  decay_rms: 'decayRms',
  momentum_buffer_rms: 'momentumBufferRms',
};

const COMBOS: [Optimizer, Variant][] = [
  ['adam', 'plain'],
  ['adamw', 'plain'],
  ['sgd', 'plain'],
  ['rmsprop', 'plain'],
  ['lion', 'plain'],
  ['adafactor', 'plain'],
  ['adam', 'hf'],
  ['adamw', 'hf'],
  ['sgd', 'hf'],
  ['lion', 'hf'],
  ['adam', 'lightning'],
  ['adamw', 'lightning'],
  ['sgd', 'lightning'],
  ['adafactor', 'lightning'],
];

function tolerance(optimizer: Optimizer, field: LogField): number {
  return optimizer === 'adafactor' && ['effective_lr', 'direction_rms', 'decay_rms'].includes(field) ? REL_F32 : REL;
}

function checkLogAgainstTruth(run: Run, what: string): void {
  const { logText, truth } = run;
  const records = logText
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = [...new Set(records.map((r) => r.step as number))];
  assert.deepEqual(steps, truth.logged_steps, 'logged steps: 1 and every 5th');
  assert.deepEqual(truth.logged_steps, [1, 5, 10, 15, 20, 25, 30]);
  for (const step of steps) {
    const expected = truth.steps[String(step)];
    const lines = records.filter((r) => r.step === step);
    // one line per parameter that had a gradient, in param_groups order; never the unused or frozen ones
    assert.deepEqual(
      lines.map((r) => r.layer),
      Object.keys(expected),
      `layers at step ${step}`,
    );
    assert.ok(!lines.some((r) => /unused|frozen/.test(String(r.layer))));
    for (const r of lines) {
      const e = expected[r.layer as string];
      const where = `${what} step ${step} ${r.layer}`;
      assert.deepEqual(r.shape, e.shape, `${where} shape`);
      assert.equal(r.numel, e.numel, `${where} numel`);
      for (const field of LOG_FIELDS) {
        if (!(field in e)) {
          assert.ok(!(field in r) || r[field] === null, `${where} ${field} should be absent, got ${String(r[field])}`);
          continue;
        }
        assertClose(r[field] as number | null, e[field], tolerance(run.truth.optimizer, field), `${where} ${field}`);
      }
    }
  }
}

for (const [optimizer, variant] of COMBOS) {
  test(`${variant} snippet with ${optimizer}: every logged figure equals the direct float64 computation`, { skip: TORCH_SKIP }, () => {
    const run = train(optimizer, variant);
    checkLogAgainstTruth(run, `${optimizer}/${variant}`);
    const { truth } = run;
    // each line names the optimizer (its class name) and its group's hyper-parameters (train_tiny.py's settings)
    for (const line of run.logText.trim().split('\n')) {
      const r = JSON.parse(line) as Record<string, unknown>;
      const where = `${optimizer}/${variant} ${String(r.layer)}`;
      const decayed = String(r.layer).endsWith('weight');
      const stated = [r.optimizer, r.betas, r.eps, r.weight_decay, r.momentum];
      const expected: Record<Optimizer, unknown[]> = {
        adam: ['Adam', [0.9, 0.999], 1e-4, 0, undefined],
        adamw: ['AdamW', [0.8, 0.99], 1e-4, decayed ? 0.1 : 0, undefined],
        sgd: ['SGD', undefined, undefined, 0, 0.9],
        rmsprop: ['RMSprop', undefined, 1e-6, 0.01, 0.9],
        lion: ['Lion', [0.9, 0.99], undefined, decayed ? 0.5 : 0, undefined],
        adafactor: ['Adafactor', undefined, [1e-30, 1e-3], 0.05, undefined],
      };
      assert.deepEqual(stated, expected[optimizer], where);
    }
    // the direction measured from the step is the one the optimizer moved along (u, the momentum
    // buffer, Lion's sign, Adafactor's clipped update), with a decoupled decay taken out, at every step
    for (const [step, c] of Object.entries(truth.checks)) {
      assert.ok(
        c.direction_vs_optimizer_max_rel_err < DIRECTION_VS_OPTIMIZER,
        `step ${step}: direction off by ${c.direction_vs_optimizer_max_rel_err}`,
      );
    }
    // the data exercises what it should: a zero-initialised bias (rel_step null at step 1),
    // Adam's eps-dominated embedding rows (ids never used), a changing lr (LambdaLR, or Adafactor's own)
    const first = truth.steps['1'];
    const fc1Bias = Object.keys(first).find((k) => k.endsWith('fc1.bias'))!;
    assert.equal(first[fc1Bias].rel_step, null);
    const lrs = new Set(
      Object.values(truth.steps).map((layers) => Object.values(layers)[0][optimizer === 'adafactor' ? 'effective_lr' : 'lr']),
    );
    assert.ok(lrs.size > 20, 'lr changes every step');
    if (optimizer === 'adam' || optimizer === 'adamw') {
      const embed = Object.keys(first).find((k) => k.endsWith('embed.weight'))!;
      assert.ok(first[embed].eps_dominated_frac! >= 8 / 24, 'unused embedding rows are eps-dominated');
      assert.ok(Object.values(first).some((l) => l.eps_dominated_frac === 0));
    } else {
      assert.ok(Object.values(first).every((l) => l.adam_u_rms === null));
    }
    if (optimizer === 'sgd' || optimizer === 'rmsprop') {
      assert.ok(Object.values(first).every((l) => (l.momentum_buffer_rms ?? 0) > 0));
    }
    // where the decay is decoupled, taking it out matters: direction_rms is not update_rms / lr
    const decoupled = optimizer === 'adamw' || optimizer === 'lion' || optimizer === 'adafactor';
    const changes = Object.values(truth.steps['30']).map((l) => {
      const lr = l.effective_lr ?? l.lr!;
      return Math.abs(l.update_rms / lr - l.direction_rms) / l.direction_rms;
    });
    if (decoupled) assert.ok(Math.max(...changes) > 1e-3, `decay share ${Math.max(...changes)}`);
    else assert.ok(Math.max(...changes) < 1e-12, `no decay to take out, got ${Math.max(...changes)}`);
  });
}

test('chunked reductions (chunks of 100 elements, tensors of 768 and 1024) give the same figures', { skip: TORCH_SKIP }, () => {
  const chunked = train('adam', 'plain', ['--chunk', '100']);
  checkLogAgainstTruth(chunked, 'adam/plain chunk=100');
  assert.ok(Object.values(chunked.truth.steps['1']).some((l) => l.numel > 700));
});

test('Adam with amsgrad: u uses max_exp_avg_sq as torch does', { skip: TORCH_SKIP }, () => {
  const run = train('adam', 'plain', ['--amsgrad']);
  checkLogAgainstTruth(run, 'adam(amsgrad)/plain');
  for (const c of Object.values(run.truth.checks)) assert.ok(c.torch_form_max_rel_err! < 1e-4);
  assert.notEqual(run.logText, train('adam', 'plain').logText);
});

test(
  "Adam's normalized update in the log is torch's exact form: update = -lr·m̂/(√v̂+ε), ε after bias correction",
  { skip: TORCH_SKIP },
  () => {
    const { truth } = train('adam', 'plain');
    const checkedSteps = Object.keys(truth.checks);
    assert.equal(checkedSteps.length, 30);
    for (const step of checkedSteps) {
      const c = truth.checks[step];
      // torch's update vs -lr*u: only float32 rounding of the stored parameters
      assert.ok(c.torch_form_max_rel_err! < 1e-4, `step ${step}: torch form off by ${c.torch_form_max_rel_err}`);
      // the other placement of eps (HF's old AdamW, some papers) is visibly different at eps=1e-4
      assert.ok(c.eps_before_bias_correction_min_rel_err! > 1e-3, `step ${step}: other eps placement indistinguishable`);
    }
  },
);

test('the HF callback and the plain loop write identical bytes for the same training', { skip: TORCH_SKIP }, () => {
  for (const optimizer of ['adam', 'adamw', 'sgd', 'lion'] as const) {
    const plain = train(optimizer, 'plain');
    const hf = train(optimizer, 'hf');
    assert.ok(plain.logText.length > 1000);
    assert.equal(hf.logText, plain.logText, optimizer);
  }
  // and the Lightning run (gradient accumulation, module prefix) names layers as its module does
  const lightning = train('adam', 'lightning');
  assert.match(lightning.logText, /"layer": "model\.fc1\.weight"/);
});

test(
  'HF callback under a transformers without on_pre_optimizer_step (< 4.45): step hooks on torch >= 2.0, else a clear error',
  { skip: TORCH_SKIP },
  () => {
    if (HAS_STEP_HOOKS) {
      assert.equal(train('adam', 'hf-old').logText, train('adam', 'plain').logText);
      return;
    }
    const r = spawnSync(
      PYTHON,
      [
        join(REPO, 'test', 'python', 'train_tiny.py'),
        '--variant',
        'hf-old',
        '--log',
        join(WORK, 'old.jsonl'),
        '--truth',
        join(WORK, 'old.json'),
        ...pasteArgs('hf-old'),
      ],
      { encoding: 'utf8', cwd: WORK, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 300_000 },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /RuntimeError: OptimizerLensCallback needs transformers >= 4\.45 or torch >= 2\.0/);
    assert.ok(!existsSync(join(WORK, 'old.jsonl')), 'nothing logged');
  },
);

test('HF callback logs every logging_steps, also when logging_steps is a fraction of max_steps', { skip: TORCH_SKIP }, () => {
  const program = `
import importlib.util, sys, types, torch
shim = types.ModuleType("transformers")
class TrainerCallback:
    def on_pre_optimizer_step(self, *args, **kwargs): pass
shim.TrainerCallback = TrainerCallback
sys.modules["transformers"] = shim
spec = importlib.util.spec_from_file_location("snippet", sys.argv[1])
snippet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(snippet)
net = torch.nn.Linear(2, 2)
for logging_steps, every in ((0.1, None), (25, None), (25, 7)):
    callback = snippet.OptimizerLensCallback(sys.argv[2], every=every)
    state = types.SimpleNamespace(max_steps=1000, global_step=0, is_world_process_zero=True)
    callback.on_train_begin(types.SimpleNamespace(logging_steps=logging_steps), state, None, model=net,
                            optimizer=torch.optim.Adam(net.parameters()))
    print(callback.lens.every)
`;
  const r = spawnSync(PYTHON, ['-c', program, pastePath('hf-trainer-callback'), join(WORK, 'steps.jsonl')], {
    encoding: 'utf8',
    cwd: WORK,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['100', '25', '7']);
});

test("which optimizers' weight decay the snippet takes out of the direction, and Adafactor's effective lr", { skip: TORCH_SKIP }, () => {
  // optimizers this machine cannot install, by the names, modules, attributes and group keys they have
  const program = `
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location("snippet", sys.argv[1])
snippet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(snippet)
def optimizer(name, module="somewhere", **attributes):
    cls = type(name, (), {"__module__": module})
    o = cls()
    o.__dict__.update(attributes)
    return o
group = {"lr": 1e-3, "weight_decay": 0.1}
cases = [
    ("torch AdamW", torch.optim.AdamW([torch.zeros(1)]), group),
    ("torch Adam", torch.optim.Adam([torch.zeros(1)]), group),
    ("torch SGD", torch.optim.SGD([torch.zeros(1)], lr=0.1), group),
    ("Adam decoupled_weight_decay", optimizer("Adam", "torch.optim.adam"), dict(group, decoupled_weight_decay=True)),
    ("RAdam coupled", optimizer("RAdam", "torch.optim.radam"), dict(group, decoupled_weight_decay=False)),
    ("bnb AdamW8bit", optimizer("AdamW8bit", "bitsandbytes.optim.adamw"), group),
    ("bnb Adam8bit", optimizer("Adam8bit", "bitsandbytes.optim.adam"), group),
    ("bnb AdEMAMix", optimizer("AdEMAMix", "bitsandbytes.optim.ademamix"), group),
    ("bnb SGD8bit", optimizer("SGD8bit", "bitsandbytes.optim.sgd"), group),
    ("bnb Lion8bit", optimizer("Lion8bit", "bitsandbytes.optim.lion"), group),
    ("lion-pytorch Lion", optimizer("Lion", "lion_pytorch.lion_pytorch", decoupled_wd=False, _init_lr=1e-3), group),
    ("lion-pytorch Lion decoupled_weight_decay", optimizer("Lion", "lion_pytorch", decoupled_wd=True, _init_lr=1e-2), group),
    ("FusedAdam adam_w_mode", optimizer("FusedAdam", "apex.optimizers", adam_w_mode=True), group),
    ("FusedAdam L2", optimizer("FusedAdam", "deepspeed.ops.adam", adam_w_mode=False), group),
    ("timm Lamb decoupled_decay", optimizer("Lamb", "timm.optim.lamb"), dict(group, decoupled_decay=True)),
    ("timm Lamb", optimizer("Lamb", "timm.optim.lamb"), dict(group, decoupled_decay=False)),
    ("Muon", optimizer("Muon", "torch.optim._muon"), group),
    ("Adafactor", optimizer("Adafactor", "transformers.optimization"), group),
    ("RMSprop", optimizer("RMSprop", "torch.optim.rmsprop"), group),
    ("AdamW without weight_decay", optimizer("AdamW", "x"), {"lr": 1e-3}),
]
for what, o, g in cases:
    print("%s: %r" % (what, snippet._decoupled_weight_decay(o, g)))
hf = {"lr": None, "relative_step": True, "warmup_init": False, "scale_parameter": True, "eps": (1e-30, 1e-3)}
print(snippet._adafactor_lrs(hf, None, 40000, 0.5))          # min(1e-2, 1/200) * 0.5
print(snippet._adafactor_lrs(dict(hf, warmup_init=True), None, 100, 1e-4))   # 1e-6*100 * max(1e-3, 1e-4)
print(snippet._adafactor_lrs(dict(hf, relative_step=False, scale_parameter=False), 3e-4, 7, 0.5))
print(snippet._adafactor_lrs({"lr": 0.01, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0}, 0.01, 4, 0.5))
`;
  const r = spawnSync(PYTHON, ['-c', program, pastePath('plain-loop')], { encoding: 'utf8', cwd: WORK });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'torch AdamW: 0.1',
    'torch Adam: None',
    'torch SGD: None',
    'Adam decoupled_weight_decay: 0.1',
    'RAdam coupled: None',
    'bnb AdamW8bit: 0.1',
    'bnb Adam8bit: 0.1',
    'bnb AdEMAMix: 0.1',
    'bnb SGD8bit: None',
    'bnb Lion8bit: 0.1',
    'lion-pytorch Lion: 0.1',
    'lion-pytorch Lion decoupled_weight_decay: 10.0',
    'FusedAdam adam_w_mode: 0.1',
    'FusedAdam L2: None',
    'timm Lamb decoupled_decay: 0.1',
    'timm Lamb: None',
    'Muon: 0.1',
    'Adafactor: 0.1',
    'RMSprop: None',
    'AdamW without weight_decay: 0.0',
    '(0.0025, 0.0025)',
    '(1e-07, 1e-07)',
    '(0.0003, 0.0003)',
    '(0.005, 0.01)',
  ]);
});

test('a new run starts the log afresh; append=True (resuming) adds to it', { skip: TORCH_SKIP }, () => {
  const single = train('adam', 'plain').logText;
  const log = join(WORK, 'rerun.jsonl');
  const run = (...extra: string[]) => {
    const r = spawnSync(
      PYTHON,
      [
        join(REPO, 'test', 'python', 'train_tiny.py'),
        '--keep-log',
        '--log',
        log,
        '--truth',
        join(WORK, 'rerun.json'),
        ...pasteArgs('plain'),
        ...extra,
      ],
      { encoding: 'utf8', cwd: WORK, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 300_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(log, 'utf8');
  };
  run();
  assert.equal(run(), single, 'second run replaced the first');
  assert.equal(run('--append'), single + single, 'append=True kept the first');
});

test(
  "the repository's snippets/*.py modules (adapter importing the core) log the same bytes as the composed paste",
  { skip: TORCH_SKIP },
  () => {
    for (const [optimizer, variant] of [
      ['adamw', 'plain'],
      ['adam', 'hf'],
    ] as [Optimizer, Variant][]) {
      const paste = train(optimizer, variant);
      assert.ok(paste.logText.length > 1000);
      assert.equal(train(optimizer, variant, [], true).logText, paste.logText, `${optimizer}/${variant}`);
    }
  },
);

test(
  'the plain-loop paste runs on its own as a script: python -I, nothing of ours on the path, its usage comment followed',
  { skip: TORCH_SKIP },
  () => {
    const folder = mkdtempSync(join(WORK, 'standalone-'));
    const script = join(folder, 'train.py');
    const usage = `
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
lens = OptimizerLensLogger(model, optimizer, "optimizer_lens.jsonl", every=2)
for step in range(4):
    loss = model(torch.randn(16, 4)).pow(2).mean()
    loss.backward()
    lens.before_step()
    optimizer.step()
    lens.after_step()
    optimizer.zero_grad()
lens.close()
import sys
print(sorted(name for name in sys.modules if "optimizer_lens" in name))
`;
    writeFileSync(script, loggingSnippet('plain-loop').code + usage);
    const r = spawnSync(PYTHON, ['-I', script], { encoding: 'utf8', cwd: folder, timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '[]', 'nothing of ours was imported');
    const lines = readFileSync(join(folder, 'optimizer_lens.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.step, l.layer]),
      [1, 2, 4].flatMap((step) => ['0.weight', '0.bias', '2.weight', '2.bias'].map((layer) => [step, layer])),
    );
    for (const l of lines) {
      assert.equal(l.optimizer, 'AdamW');
      for (const field of ['param_rms', 'grad_rms', 'update_rms', 'direction_rms', 'adam_u_rms', 'decay_rms']) {
        assert.ok(typeof l[field] === 'number' && (l[field] as number) > 0, `${String(l.layer)} ${field}`);
      }
    }
  },
);

test(
  'attach() (torch >= 2.0 optimizer step hooks) logs the same as explicit calls',
  { skip: TORCH_SKIP || (!HAS_STEP_HOOKS && 'this torch has no optimizer step hooks (torch < 2.0)') },
  () => {
    assert.equal(train('adam', 'attach').logText, train('adam', 'plain').logText);
  },
);

const KIND_OF: Record<Optimizer, OptimizerKind> = {
  adam: 'adam',
  adamw: 'adamw',
  sgd: 'sgd',
  rmsprop: 'rmsprop',
  lion: 'lion',
  adafactor: 'adafactor',
};

for (const [optimizer, variant] of [
  ['adam', 'plain'],
  ['adamw', 'lightning'],
  ['sgd', 'plain'],
  ['rmsprop', 'plain'],
  ['lion', 'hf'],
  ['adafactor', 'lightning'],
] as [Optimizer, Variant][]) {
  test(
    `the JSONL reader reads the ${variant}/${optimizer} log back with the same figures and optimizer`,
    { skip: TORCH_SKIP },
    async () => {
      const { log, truth } = train(optimizer, variant);
      const data = await readJsonl(log);
      assert.deepEqual(data.issues, []);
      assert.deepEqual(data.nonFinite, []);
      assert.equal(data.hyper.type, KIND_OF[optimizer], 'the optimizer field names the optimizer');
      let compared = 0;
      for (const [stepKey, layers] of Object.entries(truth.steps)) {
        const step = Number(stepKey);
        const observations = observationsOf(data).filter((o) => o.step === step);
        if (!truth.logged_steps.includes(step)) {
          assert.equal(observations.length, 0, `step ${step} was not logged`);
          continue;
        }
        assert.deepEqual(
          observations.map((o) => o.layer),
          Object.keys(layers),
        );
        for (const o of observations) {
          const e = layers[o.layer];
          assert.equal(o.numel, e.numel);
          assert.deepEqual(data.layerShapes[o.layer], e.shape);
          for (const field of LOG_FIELDS) {
            const figure = FIGURE_OF[field];
            if (!(field in e) || !figure) continue;
            const got = o.figures[figure];
            assertClose(
              got ?? null,
              e[field],
              tolerance(optimizer, field),
              `reader ${optimizer}/${variant} step ${step} ${o.layer} ${field}`,
            );
            compared++;
          }
        }
      }
      assert.ok(compared > 300, `compared ${compared} figures`);
    },
  );
}

test(
  'a NaN gradient is written as NaN (not hidden) and the reader reports it as non-finite on its line',
  { skip: TORCH_SKIP },
  async () => {
    const { log, logText } = train('adam', 'plain', ['--nan-grad-at', '10']);
    const lines = logText.split('\n');
    const lineIndex = lines.findIndex((l) => l.includes('"step": 10,') && l.includes('"layer": "fc1.weight"'));
    assert.ok(lineIndex >= 0);
    assert.match(lines[lineIndex], /"grad_rms": NaN/);
    // the steps before are untouched: step 5 equals the clean run's
    const clean = train('adam', 'plain').logText.split('\n');
    assert.deepEqual(
      lines.filter((l) => l.includes('"step": 5,')),
      clean.filter((l) => l.includes('"step": 5,')),
    );
    const data = await readJsonl(log);
    const flagged = data.nonFinite.filter((n) => n.step === 10 && n.layer === 'fc1.weight');
    assert.ok(
      flagged.some((n) => n.what === 'grad_rms' && n.line === lineIndex + 1),
      JSON.stringify(flagged),
    );
    const observation = observationsOf(data).find((o) => o.step === 10 && o.layer === 'fc1.weight');
    assert.ok(observation && observation.figures.gradRms === undefined && observation.figures.paramRms! > 0);
  },
);

const CLI = join(REPO, 'bin', 'optimizer-lens.js');
const CLI_SKIP = TORCH_SKIP || (!existsSync(join(REPO, 'dist', 'cli.js')) && 'dist/cli.js not built (npm run build)');

for (const [optimizer, variant] of [
  ['adam', 'plain'],
  ['adamw', 'hf'],
  ['sgd', 'lightning'],
  ['lion', 'plain'],
] as [Optimizer, Variant][]) {
  test(
    `the CLI analyzes the ${variant}/${optimizer} log: per-layer figures at every logged step equal the direct computation`,
    { skip: CLI_SKIP },
    () => {
      const { log, truth } = train(optimizer, variant);
      for (const step of [undefined, ...truth.logged_steps]) {
        const args = [CLI, 'analyze', log, '--json', ...(step === undefined ? [] : ['--step', String(step)])];
        const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 0, `optimizer-lens ${args.slice(1).join(' ')}:\n${r.stderr}`);
        const result = JSON.parse(r.stdout) as AnalysisResult;
        const reported = step ?? 30; // default: the last step with figures
        assert.equal(result.step, reported);
        assert.deepEqual(result.steps, truth.logged_steps);
        const layers = truth.steps[String(reported)];
        assert.deepEqual(
          result.layers.map((l) => l.name),
          Object.keys(layers),
        );
        for (const l of result.layers) {
          const e = layers[l.name];
          const where = `CLI ${optimizer}/${variant} step ${reported} ${l.name}`;
          assert.equal(l.numel, e.numel);
          assert.deepEqual(l.shape, e.shape);
          assertClose(l.paramRms, e.param_rms, REL, `${where} paramRms`);
          assertClose(l.gradRms, e.grad_rms, REL, `${where} gradRms`);
          assertClose(l.updateRms, e.update_rms, REL, `${where} updateRms`);
          assertClose(l.relStep, e.rel_step, REL, `${where} relStep`);
          assertClose(l.adamUpdateRms, e.adam_u_rms, REL, `${where} adamUpdateRms`);
          assertClose(l.epsDominatedFraction, e.eps_dominated_frac, REL, `${where} epsDominatedFraction`);
          if (e.momentum_buffer_rms !== undefined)
            assertClose(l.momentumBufferRms, e.momentum_buffer_rms, REL, `${where} momentumBufferRms`);
          if (e.decay_rms !== undefined) assertClose(l.decayRms, e.decay_rms, REL, `${where} decayRms`);
        }
      }
    },
  );
}
