// Configs written the way real projects write them (test/fixtures/configs/projects, one file per project's
// layout): every learning rate found on its line with its role, what is said under each optimizer, and advice
// that agrees with itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join as joinPath, relative } from 'node:path';
import { fixturePath } from '../../support/fixtures';
import {
  applyEdits,
  configHover,
  keyWords,
  lintConfig,
  lrKey,
  quickFixesFor,
  scanConfigFile,
  scanConfigText,
  type ConfigFinding,
  type ConfigScan,
} from '../../../src/core/config';
import { DEFAULT_THRESHOLDS } from '../../../src/core/rules/types';

const proj = (...p: string[]) => fixturePath('configs', 'projects', ...p);
const text = (...p: string[]) => readFileSync(proj(...p), 'utf8');
const lrs = (s: ConfigScan) => s.learningRates.map((l) => [l.key, l.value, l.role, l.range.line]);
const rules = (fs: ConfigFinding[]) => fs.map((f) => `${f.rule}@${f.range.line}:${f.severity}`);

/** Hover at the n-th occurrence of `needle` in the file (1 character in). */
function hoverAt(file: string, needle: string, nth = 0, scan?: ConfigScan): string {
  const t = text(file);
  let at = -1;
  for (let k = 0; k <= nth; k++) at = t.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} in ${file}`);
  const h = configHover(scan ?? scanConfigFile(proj(file)), at + 1);
  assert.ok(h, `hover on ${needle} in ${file}`);
  return h.markdown;
}

test('lr keys by rule: last word lr / learning rate in any case and separator, the role from the words before; decoys are not lrs', () => {
  const cases: [string, string | null, string?][] = [
    ['lr', 'main'],
    ['learning_rate', 'main'],
    ['base_learning_rate', 'main'], // latent-diffusion
    ['BASE_LR', 'main'], // yacs
    ['learningRate', 'main'],
    ['initial_learning_rate', 'main'], // TF Model Garden cosine
    ['peak_lr', 'main'],
    ['max_lr', 'main'],
    ['warmup_max_lr', 'main'], // DeepSpeed WarmupLR's target
    ['lr0', 'main'], // Ultralytics
    ['--lr', 'main'],
    ['min_lr', 'floor'],
    ['--min-lr', 'floor'],
    ['eta_min', 'floor'],
    ['end_learning_rate', 'floor'],
    ['warmup_min_lr', 'warmup-start'],
    ['WARMUP_LR', 'warmup-start'], // Swin
    ['--warmup-init-lr', 'warmup-start'], // fairseq
    ['warmup_learning_rate', 'warmup-start'],
    ['text_encoder_lr', 'group', 'text-encoder lr'],
    ['--decoupled-lr', 'group', 'embedding/output lr (decoupled)'],
    ['--decoupled-min-lr', 'floor', 'embedding/output (decoupled) schedule floor'],
    ['actor_learning_rate', 'group', 'actor lr'],
    ['Critic_Lr', 'group', 'critic lr'],
    ['head_lr', 'group', 'head lr'],
    ['embedding_lr', 'group', 'embedding lr'],
    // Decoys: another word last, or a switch named …_lr.
    ['lr_scheduler', null],
    ['lr_scheduler_type', null],
    ['lr_decay_style', null],
    ['--lr-warmup-fraction', null],
    ['lr_warmup_steps', null],
    ['--lr-decay-iters', null],
    ['min_lr_ratio', null],
    ['cosine_min_lr_ratio', null],
    ['min_lr_factor', null],
    ['lr_mult', null],
    ['lrf', null],
    ['decay_lr', null],
    ['scale_lr', null],
    ['auto_scale_lr', null],
    ['embedding_lr_scale', null],
    ['warmup_ratio', null],
    ['layer_decay', null],
  ];
  for (const [key, role, label] of cases) {
    const k = lrKey(key);
    assert.equal(k?.role ?? null, role, key);
    if (label) assert.equal(k?.label, label, key);
  }
  assert.deepEqual(keyWords('textEncoderLR'), ['text', 'encoder', 'lr']);

  // The same decoys as configs write them, next to real lrs, in every format: only the lrs are read.
  const yaml = [
    'lr_scheduler: cosine',
    'lr_scheduler_type: linear',
    'min_lr_ratio: 0.1',
    'decay_lr: true',
    'warmup_ratio: 0.03',
    'lr_warmup_steps: 100',
    'search_space:',
    '  lr: [1.0e-5, 1.0e-3]',
    'hydra:',
    '  sweeper:',
    '    params:',
    '      model.optimizer.lr: interval(0.0001, 0.1)',
    'optimizer:',
    '  lr: 3.0e-4',
    '  weight_decay: 0.1',
    '',
  ].join('\n');
  assert.deepEqual(lrs(scanConfigText(yaml, 'd.yaml')), [['optimizer.lr', 3e-4, 'main', 14]]);
  const sh = 'python train.py --lr-decay-style cosine --lr-warmup-fraction .01 --scale_lr --lr 3e-4 --min-lr-ratio 0.1\n';
  assert.deepEqual(lrs(scanConfigText(sh, 'd.sh')), [['--lr', 3e-4, 'main', 1]]);
  const py = 'decay_lr = True\nlr_decay_iters = 600000\nmin_lr_ratio = 0.1\nscale_lr = 1.0\nlearning_rate = 6e-4\n';
  assert.deepEqual(lrs(scanConfigText(py, 'd.py')), [['learning_rate', 6e-4, 'main', 5]]);
  // Ultralytics' hyperparameter file: lr0 the lr, lrf its final fraction, warmup_bias_lr where the bias group's warmup
  // starts (10× lr0, decaying to it); momentum and warmup_momentum are not lrs.
  const ul = scanConfigFile(proj('ultralytics_hyp_sgd.yaml'));
  assert.deepEqual(lrs(ul), [
    ['lr0', 0.01, 'main', 18],
    ['lrf', 1e-4, 'floor', 19],
    ['warmup_bias_lr', 0.1, 'warmup-start', 24],
  ]);
  assert.deepEqual([ul.learningRates[2].group, ul.learningRates[2].label], ['bias', 'bias warmup start lr']);
  assert.match(
    hoverAt('ultralytics_hyp_sgd.yaml', '0.1 #'),
    /The bias group's warmup starts from this; the lr 0\.01 \(`lr0`, line 18\) is its peak, and this is 10× it\./,
  );
  assert.deepEqual(rules(lintConfig(ul)), ['not-adam@13:info'], 'SGD: no step-size findings on any of the three');
  // default.yaml's own optimizer: auto: the trainer ignores lr0 (and momentum) and picks SGD or AdamW with its own lr,
  // so lr0 gets lr-ignored and no step-size finding; naming the optimizer (either quick fix) makes lr0 the lr again.
  const autoPath = proj('ultralytics_default_auto.yaml');
  const autoText = readFileSync(autoPath, 'utf8');
  const auto = scanConfigFile(autoPath);
  const autoFindings = lintConfig(auto);
  assert.deepEqual(rules(autoFindings), ['lr-ignored@18:warning']);
  assert.match(
    autoFindings[0].message,
    /^optimizer: auto \(line 13\): lr0 = 0\.01 is not used\..*SGD\(lr=0\.01, momentum=0\.9\) for runs of more than 10,000 iterations, else AdamW\(lr=0\.002·5\/\(4 \+ nc\): 1\.19e-4 for COCO's 80 classes/,
  );
  assert.match(
    hoverAt('ultralytics_default_auto.yaml', '0.1 #'),
    /lr-ignored \(warning\): optimizer: auto \(line 13\): warmup_bias_lr is set to 0\./,
  );
  const [toSgd, toAdamW] = quickFixesFor(autoText, auto, autoFindings[0]);
  assert.deepEqual(
    [toSgd.title, toAdamW.title],
    ['Set optimizer: SGD (lr0 = 0.01 then applies)', 'Set optimizer: AdamW (lr0 = 0.01 then applies)'],
  );
  assert.deepEqual(rules(lintConfig(scanConfigText(applyEdits(autoText, toSgd.edits), autoPath))), ['not-adam@13:info']);
  assert.deepEqual(rules(lintConfig(scanConfigText(applyEdits(autoText, toAdamW.edits), autoPath))), ['lr-without-scale@18:warning']);
  // The Python API: the fit for AdamW follows from nc where the call states it (round(0.002·5/(4+3), 6) = 0.001429).
  const apiText =
    'from ultralytics import YOLO\nmodel = YOLO("yolov8n.pt")\nmodel.train(data="d.yaml", nc=3, optimizer="auto", lr0=0.01)\n';
  const api = scanConfigText(apiText, 'train.py');
  const apiFinding = lintConfig(api);
  assert.deepEqual(rules(apiFinding), ['lr-ignored@3:warning']);
  assert.equal(apiFinding[0].evidence.adamWLr, 0.001429);
  assert.match(apiFinding[0].message, /AdamW\(lr=0\.001429 for nc = 3,/);
  assert.match(applyEdits(apiText, quickFixesFor(apiText, api, apiFinding[0])[1].edits), /optimizer="AdamW", lr0=0\.01/);
  // The Ultralytics CLI: `yolo train key=value` arguments are the same settings.
  const cli = scanConfigText('yolo detect train data=coco8.yaml model=yolo11n.pt epochs=100 imgsz=640 optimizer=auto lr0=0.01\n', 'y.sh');
  assert.deepEqual(
    [lrs(cli), cli.autoOptimizer?.key, rules(lintConfig(cli))],
    [[['lr0', 0.01, 'main', 1]], 'optimizer', ['lr-ignored@1:warning']],
  );
  // auto without Ultralytics' lr0 says nothing about other lrs.
  assert.deepEqual(rules(lintConfig(scanConfigText('optimizer: auto\nlr: 1.0e-4  # optimizer-lens: param-scale=0.02\n', 'o.yaml'))), []);
  // Ultralytics: lr0 is the lr; lrf is the final lr as a fraction of lr0, a floor of lr0 × lrf.
  const u = scanConfigText('lr0: 0.01  # initial learning rate\nlrf: 0.01  # final learning rate (lr0 * lrf)\nmomentum: 0.937\n', 'u.yaml');
  assert.deepEqual(lrs(u), [
    ['lr0', 0.01, 'main', 1],
    ['lrf', 1e-4, 'floor', 2],
  ]);
  assert.match(u.learningRates[1].note!, /fraction of lr0: 0\.01 × 0\.01 = 1e-4/);
});

test('list and piecewise values: fairseq lr: [0.0005], TF Model Garden stepwise values, MultiStepLR milestones with gamma — the peak is the lr, the rest its schedule', () => {
  const fs = scanConfigFile(proj('fairseq_roberta_pretraining_base.yaml'));
  assert.deepEqual(lrs(fs), [['optimization.lr', 5e-4, 'main', 34]]);
  assert.equal(fs.learningRates[0].range.column, 8, 'the item, not the list');
  assert.deepEqual(
    fs.betas.map((b) => b.value),
    [[0.9, 0.98]],
    'adam_betas: (0.9,0.98) is a string fairseq parses',
  );
  assert.equal(fs.optimizers[0].family, 'adam');

  const tf = scanConfigFile(proj('tf_model_garden_imagenet_resnet50_gpu.yaml'));
  const [peak] = tf.learningRates;
  assert.deepEqual(
    [peak.key, peak.value, peak.role, peak.range.line, peak.range.column],
    ['trainer.optimizer_config.learning_rate.stepwise.values', 0.8, 'main', 36, 18],
  );
  assert.deepEqual(peak.schedule, { values: [0.08, 0.008, 0.0008], boundaries: [18750, 37500, 50000] });
  assert.equal(tf.learningRates.length, 1, 'the later values are the schedule, not four lrs');
  assert.match(
    hoverAt('tf_model_garden_imagenet_resnet50_gpu.yaml', '0.8,'),
    /Schedule: peak 0\.8, then 0\.08, 0\.008, 8e-4 \(boundaries 1\.875e4, 3\.75e4, 5e4\)/,
  );

  const mm = scanConfigFile(proj('mmdet_faster_rcnn_r50_fpn_1x_coco.py'));
  assert.deepEqual(
    mm.schedules.map((s) => [s.key, s.milestones, s.gamma, s.range.line]),
    [['param_scheduler.1.milestones', [8, 11], 0.1, 21]],
  );
  assert.ok(!mm.learningRates.some((l) => l.value === 0.001), 'LinearLR start_factor is a factor, not an lr');
  assert.match(
    hoverAt('mmdet_faster_rcnn_r50_fpn_1x_coco.py', '0.02'),
    /`param_scheduler\.1\.milestones` \(line 21\): × 0\.1 at 8, 11 → 0\.002, 2e-4/,
  );
});

test('roles named in hover and Problems: Megatron decoupled lr, diffusers text-encoder lr, DeepSpeed-Chat actor/critic, Swin warmup and floor', () => {
  const meg = scanConfigFile(proj('megatron_llama3_8b.sh'));
  assert.deepEqual(lrs(meg), [
    ['--lr', 1.5e-4, 'main', 45],
    ['--min-lr', 1e-5, 'floor', 46],
    ['--decoupled-lr', 5e-4, 'group', 47],
    ['--decoupled-min-lr', 4.5e-5, 'floor', 48],
  ]);
  assert.equal(meg.learningRates[2].group, 'embedding/output (decoupled)');
  const decoupled = lintConfig(meg).find((f) => f.range.line === 47)!;
  assert.match(decoupled.message, /^--decoupled-lr = 5e-4 \(embedding\/output lr \(decoupled\)\)/);
  assert.match(hoverAt('megatron_llama3_8b.sh', '5.0e-4'), /`--decoupled-lr` — embedding\/output lr \(decoupled\)/);
  const decFloor = hoverAt('megatron_llama3_8b.sh', '4.5e-5');
  assert.match(decFloor, /— embedding\/output \(decoupled\) schedule floor/);
  assert.match(
    decFloor,
    /The embedding\/output \(decoupled\) group's schedule decays to this; the embedding\/output lr \(decoupled\) 5e-4 \(`--decoupled-lr`, line 47\) is its peak, and this is 0\.09 of it/,
  );
  assert.match(hoverAt('megatron_llama3_8b.sh', '0.00001'), /the lr 1\.5e-4 \(`--lr`, line 45\) is its peak/);

  const diff = scanConfigFile(proj('diffusers_dreambooth_lora_sdxl.sh'));
  assert.deepEqual(lrs(diff), [
    ['--learning_rate', 1e-4, 'main', 18],
    ['--text_encoder_lr', 5e-6, 'group', 20],
  ]);
  const te = lintConfig(diff).find((f) => f.range.line === 20)!;
  assert.match(te.message, /--text_encoder_lr = 5e-6 \(text-encoder lr\) without a parameter scale: under AdamW \(8-bit\)/);
  assert.match(hoverAt('diffusers_dreambooth_lora_sdxl.sh', '5e-6'), /— text-encoder lr/);
  assert.equal(diff.loadedWeights?.key, '--pretrained_model_name_or_path');

  const chat = scanConfigFile(proj('deepspeed_chat_step3_opt_1.3b.sh'));
  assert.deepEqual(
    chat.learningRates.map((l) => [l.key, l.value, l.label, l.range.line]),
    [
      ['--actor_learning_rate', 9.65e-6, 'actor lr', 13],
      ['--critic_learning_rate', 5e-6, 'critic lr', 14],
    ],
  );

  const swin = scanConfigFile(proj('swin_config.py'));
  assert.deepEqual(lrs(swin), [
    ['_C.TRAIN.BASE_LR', 5e-4, 'main', 34],
    ['_C.TRAIN.WARMUP_LR', 5e-7, 'warmup-start', 35],
    ['_C.TRAIN.MIN_LR', 5e-6, 'floor', 36],
  ]);
  const warm = hoverAt('swin_config.py', '5e-7');
  assert.match(warm, /— warmup start lr/);
  assert.match(warm, /the warmup starts from this; the lr 5e-4 \(`_C\.TRAIN\.BASE_LR`, line 34\) is its peak, and this is 0\.001 of it/i);
  // Only the main lr gets findings: warmup start and floor are not step sizes to judge.
  assert.deepEqual(
    lintConfig(swin).map((f) => f.range.line),
    [34],
  );
});

test('Python configs parsed, never executed: attribute assignments, constant arithmetic, depends on X, 0. 4. 1_000, mmcv optim_wrapper', () => {
  // ml_collections / Flax: config.x = … inside get_config(); 5. and 1_024 are literals.
  const flax = scanConfigFile(proj('flax_imagenet_default.py'));
  assert.deepEqual(lrs(flax), [['config.learning_rate', 0.1, 'main', 16]]);
  assert.deepEqual(flax.issues, []);
  // yacs: _C.TRAIN.BASE_LR; `_C.MODEL.SWIN.MLP_RATIO = 4.` is valid Python, not a syntax error.
  const swin = scanConfigFile(proj('swin_config.py'));
  assert.deepEqual(swin.issues, []);
  assert.deepEqual(
    swin.optimizers.map((o) => [o.key, o.name, o.family]),
    [['_C.TRAIN.OPTIMIZER.NAME', 'adamw', 'adamw']],
  );
  assert.deepEqual(
    swin.eps.map((e) => [e.key, e.value]),
    [['_C.TRAIN.OPTIMIZER.EPS', 1e-8]],
  );
  const lits = scanConfigText('a = 0.\nb = 4.\nc = 1_000\nd = 1.e-3\nlr = 4. * 1_000 / 2e7\nmin_lr = 0.\n', 'l.py');
  assert.deepEqual(lits.issues, [], 'no syntax error for valid literals');
  assert.deepEqual(lrs(lits), [
    ['lr', 2e-4, 'main', 5],
    ['min_lr', 0, 'floor', 6],
  ]);
  assert.equal(lits.learningRates[1].raw, '0.', 'the literal as written');
  assert.equal(lits.learningRates[0].note, '4. * 1_000 / 2e7 = 2e-4');

  // cfg.optim.lr = …: a key path under an attribute, and an lr computed from it folds with its line.
  const cfg = scanConfigText(
    "cfg.optim.name = 'adamw'\ncfg.optim.lr = 3e-4\ncfg.optim.min_lr = cfg.optim.lr / 10\ncfg.model.init_std = 0.02\n",
    'cfg.py',
  );
  assert.deepEqual(lrs(cfg), [
    ['cfg.optim.lr', 3e-4, 'main', 2],
    ['cfg.optim.min_lr', 3e-4 / 10, 'floor', 3],
  ]);
  assert.equal(cfg.learningRates[0].feeds, undefined, 'a floor computed from the lr leaves the lr in use');
  assert.equal(cfg.optimizers[cfg.learningRates[0].optimizer!].family, 'adamw');
  assert.deepEqual(rules(lintConfig(cfg)), ['relative-step-high@2:info']);
  const headFromLr = scanConfigText('lr = 3e-4\nhead_lr = lr * 10\n', 'h.py');
  assert.deepEqual(
    lintConfig(headFromLr).map((f) => [f.rule, f.range.line]),
    [
      ['lr-without-scale', 1],
      ['lr-without-scale', 2],
    ],
    'both are used: the group lr computed from lr does not make lr an input',
  );

  // mmpretrain's linear-scaling idiom, folded; the key is the dict path.
  const mmp = scanConfigFile(proj('mmpretrain_swin_tiny_16xb64_in1k.py'));
  assert.deepEqual(lrs(mmp), [
    ['optim_wrapper.optimizer.lr', 1e-3, 'main', 12],
    ['param_scheduler.1.eta_min', 1e-5, 'floor', 37],
  ]);
  assert.equal(mmp.learningRates[0].note, '5e-4 * 1024 / 512 = 0.001');
  assert.equal(mmp.learningRates[0].raw, '5e-4 * 1024 / 512');

  // Module constants fold; a name the file does not state is "depends on".
  const dep = scanConfigText(
    'base_lr = 0.1\nbatch_size = 512\nlr = base_lr * batch_size / 256\nwarm = lr * world_size / 8\nmax_lr = lr * world_size\n',
    'c.py',
  );
  assert.deepEqual(lrs(dep), [
    ['base_lr', 0.1, 'main', 1],
    ['lr', 0.2, 'main', 3],
  ]);
  assert.equal(dep.learningRates[0].feeds, 'lr', 'base_lr is an input of lr');
  assert.equal(dep.learningRates[1].note, 'base_lr * batch_size / 256 with base_lr = 0.1 (line 1), batch_size = 512 (line 2) = 0.2');
  assert.deepEqual(
    dep.unresolved.map((u) => [u.key, u.dependsOn, u.range.line]),
    [['max_lr', ['world_size'], 5]],
  );
  assert.deepEqual(
    lintConfig(dep).map((f) => [f.rule, f.range.line]),
    [['lr-without-scale', 3]],
    'only the lr the optimizer uses gets findings',
  );
  const h = configHover(dep, dep.unresolved[0].range.start + 1)!;
  assert.match(h.markdown, /`lr \* world_size` depends on `world_size`, which this file does not state as a constant/);

  // mmcv/mmengine dict configs: optim_wrapper.optimizer.lr, SGD → not-adam and no Adam wording.
  const mm = scanConfigFile(proj('mmdet_faster_rcnn_r50_fpn_1x_coco.py'));
  assert.deepEqual(lrs(mm), [['optim_wrapper.optimizer.lr', 0.02, 'main', 28]]);
  assert.deepEqual(
    mm.optimizers.map((o) => [o.name, o.family, o.key]),
    [['SGD', 'sgd', 'optim_wrapper.optimizer.type']],
    "type='OptimWrapper' is a wrapper, not an optimizer",
  );
  assert.deepEqual(rules(lintConfig(mm)), ['not-adam@28:info']);

  // HF accelerate: config = {"lr": 2e-5} in main(), read as config["lr"] in a function above it, passed to AdamW.
  const acc = scanConfigFile(proj('accelerate_nlp_example.py'));
  assert.deepEqual(lrs(acc), [['AdamW.lr', 2e-5, 'main', 35]]);
  assert.equal(acc.learningRates[0].useRanges?.[0].line, 22, 'hover on lr=lr shows it too');
  assert.deepEqual(acc.unresolved, []);
});

test('shell variables followed: LR=2e-5, export, $LR, ${X}, "${LR:-3e-4}"; the position is the assignment, the flag hovers too', () => {
  const p = proj('accelerate_run_glue.sh');
  const s = scanConfigFile(p);
  assert.deepEqual(
    s.learningRates.map((l) => [l.key, l.value, l.role, l.range.line, l.range.column, l.useRanges?.map((u) => u.line)]),
    [
      ['--learning_rate', 2e-5, 'main', 4, 4, [14]],
      ['--min_lr', 1e-7, 'floor', 7, 19, [16]],
      ['--head_lr', 3e-4, 'group', 17, 25, [17]],
    ],
  );
  assert.equal(s.learningRates[0].note, '$LR: LR=2e-5 (line 4)');
  assert.match(s.learningRates[2].note!, /the default 3e-4 \(unless HEAD_LR is set in the environment\)/);
  assert.deepEqual(
    s.unresolved.map((u) => [u.key, u.dependsOn]),
    [['--classifier_lr', ['CLASSIFIER_LR']]],
  );
  // Problems sit on the assignment; the hover on `$LR` in the flag shows the same lr.
  const f = lintConfig(s).find((x) => x.rule === 'lr-without-scale')!;
  assert.deepEqual([f.range.line, f.range.column], [4, 4]);
  const onFlag = hoverAt('accelerate_run_glue.sh', '$LR');
  assert.match(onFlag, /`--learning_rate` — lr/);
  assert.match(onFlag, /\$LR: LR=2e-5 \(line 4\)/);
  // export and ${X}: DeepSpeed-Chat's ${Actor_Lr}.
  const chat = scanConfigFile(proj('deepspeed_chat_step3_opt_1.3b.sh'));
  assert.equal(chat.learningRates[0].note, '${Actor_Lr}: Actor_Lr=9.65e-6 (line 13)');
  const ex = scanConfigText('export LR=2e-5\nLR=${LR:-3e-4}\npython train.py --lr "${LR}"\n', 'e.sh');
  assert.deepEqual(
    ex.learningRates.map((l) => [l.key, l.value, l.range.line]),
    [['--lr', 2e-5, 1]],
    'the export is set, so the default does not apply',
  );
  const def = scanConfigText('LR=${LR:-3e-4}\npython train.py --lr=$LR\n', 'd.sh');
  assert.deepEqual(
    def.learningRates.map((l) => [l.key, l.value, l.range.line, l.range.column]),
    [['--lr', 3e-4, 1, 10]],
  );
  // Megatron arrays: TRAINING_ARGS=( … ) with comments after values.
  const meg = scanConfigFile(proj('megatron_llama3_8b.sh'));
  assert.deepEqual(
    meg.scales.map((x) => [x.key, x.value, x.range.line]),
    [['--init-method-std', 0.0134, 34]],
  );
});

test('what is said per optimizer: SGD-like → not-adam without Adam wording; LAMB: lr is a relative step, no lr-without-scale; an unknown optimizer named, nothing assumed; apex O3 is true fp16', () => {
  for (const [file, needle] of [
    ['tf_model_garden_imagenet_resnet50_gpu.yaml', '0.8,'],
    ['pytorch_examples_imagenet_main.py', '0.1,'],
    ['mmdet_faster_rcnn_r50_fpn_1x_coco.py', '0.02'],
  ] as const) {
    const s = scanConfigFile(proj(file));
    const fs = lintConfig(s);
    assert.deepEqual(
      fs.map((f) => f.rule),
      ['not-adam'],
      file,
    );
    for (const m of [...fs.map((f) => f.message), hoverAt(file, needle)]) {
      assert.doesNotMatch(m, /under Adam|Adam-like|RMS\(u\)/i, `${file}: ${m}`);
      assert.match(m, /lr is not a step size/);
    }
  }
  const sgdPositional = scanConfigFile(proj('pytorch_examples_imagenet_main.py'));
  assert.deepEqual(lrs(sgdPositional), [['SGD.lr', 0.1, 'main', 9]], 'SGD(params, args.lr): the --lr default');

  const lamb = scanConfigFile(proj('deepspeed_bert_lamb.json'));
  const lf = lintConfig(lamb);
  assert.ok(!lf.some((f) => f.rule === 'lr-without-scale'), 'the trust ratio makes lr a relative step: no scale needed');
  assert.deepEqual(rules(lf), ['relative-step-high@9:warning']);
  assert.match(lf[0].message, /LAMB's relative step is lr = 0\.011 \(1\.1% per step\), above 0\.01/);
  assert.match(hoverAt('deepspeed_bert_lamb.json', '11e-3'), /lr already is a relative step per layer/);

  // LARS as solo-learn (optimizer.name, kwargs.eta) and mmpretrain (SimCLR optim_wrapper) write it: lr × η is the
  // relative step; η unstated is said, not assumed.
  const solo = scanConfigFile(proj('solo_learn_simclr_cifar_lars.yaml'));
  assert.deepEqual(
    solo.optimizers.map((o) => [o.name, o.family, o.options.trustCoefficient]),
    [['lars', 'lars', 0.02]],
  );
  assert.deepEqual(lrs(solo), [
    ['optimizer.lr', 0.4, 'main', 31],
    ['optimizer.classifier_lr', 0.1, 'group', 32],
  ]);
  assert.deepEqual(rules(lintConfig(solo)), ['yaml-float-string@33:info'], 'no lr-without-scale: the trust ratio needs no scale');
  assert.match(
    hoverAt('solo_learn_simclr_cifar_lars.yaml', '0.4'),
    /With η = 0\.02 the relative step is lr × η[^]*Relative step ≈ lr × 0\.02 = \*\*0\.008\*\*/,
  );
  assert.match(hoverAt('solo_learn_simclr_cifar_lars.yaml', '0.1'), /`optimizer\.classifier_lr` — classifier lr \(LARS/);
  const simclr = scanConfigFile(proj('mmpretrain_simclr_resnet50_16xb256_lars.py'));
  assert.deepEqual(lrs(simclr), [['optim_wrapper.optimizer.lr', 4.8, 'main', 35]], 'auto_scale_lr is a switch, base_batch_size no lr');
  assert.deepEqual(lintConfig(simclr), []);
  assert.match(
    hoverAt('mmpretrain_simclr_resnet50_16xb256_lars.py', '4.8'),
    /trust coefficient η \(not stated here; 0\.001 in the LARS paper\)/,
  );
  // Nothing about an SGD-like or trust-ratio lr speaks of Adam: not the Problems, the hover or a quick fix.
  for (const [file, needle] of [
    ['tf_model_garden_imagenet_resnet50_gpu.yaml', '0.8,'],
    ['pytorch_examples_imagenet_main.py', '0.1,'],
    ['mmdet_faster_rcnn_r50_fpn_1x_coco.py', '0.02'],
    ['ultralytics_hyp_sgd.yaml', '0.01 #'],
    ['deepspeed_bert_lamb.json', '11e-3'],
    ['solo_learn_simclr_cifar_lars.yaml', '0.4'],
    ['mmpretrain_simclr_resnet50_16xb256_lars.py', '4.8'],
  ] as const) {
    const s = scanConfigFile(proj(file));
    const t = text(file);
    const fs = lintConfig(s);
    const said = [hoverAt(file, needle), ...fs.map((f) => f.message), ...fs.flatMap((f) => quickFixesFor(t, s, f).map((q) => q.title))];
    for (const m of said) assert.doesNotMatch(m, /Adam|RMS\(u\)/, `${file}: ${m}`);
  }

  const mnist = scanConfigFile(proj('pytorch_examples_mnist_main.py'));
  assert.deepEqual(
    mnist.optimizers.map((o) => [o.name, o.family]),
    [['optim.Adadelta', 'other']],
  );
  const mf = lintConfig(mnist);
  assert.deepEqual(rules(mf), ['lr-without-scale@17:info']);
  assert.match(mf[0].message, /for optim\.Adadelta, an optimizer Optimizer Lens does not know: if it normalizes its update like Adam/);
  const mh = hoverAt('pytorch_examples_mnist_main.py', '1.0,');
  assert.match(mh, /`optim\.Adadelta` is not an optimizer Optimizer Lens knows/);
  assert.doesNotMatch(mh, /each weight moves by|Equivalent under/);

  const o3 = scanConfigFile(proj('hf_run_translation_apex_o3.sh'));
  const eps = lintConfig(o3).find((f) => f.rule === 'eps-underflow-fp16')!;
  assert.ok(eps, 'apex O3 keeps no fp32 master weights');
  assert.match(eps.message, /--fp16_opt_level = O3, line 16/);
  for (const level of ['O1', 'O2'])
    assert.ok(
      !lintConfig(
        scanConfigText(text('hf_run_translation_apex_o3.sh').replace('--fp16_opt_level O3', `--fp16_opt_level ${level}`), 'o.sh'),
      ).some((f) => f.rule === 'eps-underflow-fp16'),
      `${level} keeps fp32 master weights`,
    );
  // HF training_args dumps always carry fp16_opt_level; with fp16 false it says nothing.
  assert.deepEqual(scanConfigText('{"fp16": false, "fp16_opt_level": "O3", "adam_epsilon": 1e-8}', 'a.json').precision, []);
});

test('advice agrees with itself: published recipes get no warning their own text contradicts; the target lr, the floor of 0 and the equivalence wording follow the same band', () => {
  const th = DEFAULT_THRESHOLDS.relativeStepHigh;
  // OLMo2-1B: lr 4e-4 at init_std 0.02 is 0.02 at step 1 and 0.004–0.009 later.
  const olmo = scanConfigFile(proj('olmo2_1b_stage1.yaml'));
  const of = lintConfig(olmo).filter((f) => f.rule === 'relative-step-high');
  assert.deepEqual(rules(of), ['relative-step-high@35:info']);
  assert.match(
    of[0].message,
    /lr\/scale = 0\.02 is the step-1 bound \(RMS\(u\) ≈ 1\), above 0\.01; later in training RMS\(u\) 0\.2–0\.45 gives ≈ 0\.004–0\.009, below it/,
  );
  // Megatron Llama-3-8B: lr 1.5e-4 at init-method-std 0.0134.
  const meg = scanConfigFile(proj('megatron_llama3_8b.sh'));
  assert.deepEqual(rules(lintConfig(meg).filter((f) => f.range.line === 45)), ['relative-step-high@45:info']);
  // Every warning's own later estimate is above the threshold (never a warning that then estimates below it).
  for (const s of [olmo, meg, scanConfigFile(proj('nemo_megatron_gpt_config.yaml')), scanConfigFile(proj('test_data', 'train.yaml'))])
    for (const f of lintConfig(s).filter((x) => x.rule === 'relative-step-high' && x.severity === 'warning')) {
      const later = f.evidence.relativeStepLater as [number, number] | null;
      assert.ok(later === null || later[0] > th, `${f.message}`);
    }
  // The hover repeats the lint's verdict and gives the target lr by the same band.
  const h = hoverAt('olmo2_1b_stage1.yaml', '4.0e-4');
  assert.match(h, /ℹ relative-step-high \(info\)/);
  assert.match(
    h,
    /For a relative step of 0\.001 later in training \(RMS\(u\) 0\.45–0\.2\): lr ≈ \*\*4\.44e-5–1e-4\*\*; at step 1 \(RMS\(u\) ≈ 1\): 2e-5/,
  );
  // Equivalence: the direction of each change, both ways.
  assert.match(
    h,
    /weights ×10 with lr ×10 and ε ÷10 → \(lr 0\.004, scale 0\.2, eps 1e-9\); weights ÷10 with lr ÷10 and ε ×10 → \(lr 4e-5, scale 0\.002, eps 1e-7\)/,
  );
  // A floor (or warmup start) of 0 is not a learning rate to judge.
  const zero = hoverAt('olmo2_1b_stage1.yaml', 'warmup_min_lr');
  assert.match(zero, /A warmup start of 0: the schedule starts from zero — not a step size to judge/);
  assert.doesNotMatch(zero, /relative-step-low|Relative step/);
  const floor0 = scanConfigText('init_std: 0.02\nlr: 1.0e-4\nmin_lr: 0\n', 'f.yaml');
  assert.match(
    configHover(floor0, 'init_std: 0.02\nlr: 1.0e-4\nmin_lr: '.length + 1)!.markdown,
    /A floor of 0: the schedule decays to zero/,
  );
  assert.deepEqual(lintConfig(floor0), []);
});

test('yaml-float-string is an info where the loader converts: yacs CfgNode YAML (Swin) and axolotl; a warning for plain PyYAML', () => {
  const swin = lintConfig(scanConfigFile(proj('swin_base_patch4_window7_224_22kto1k_finetune.yaml'))).filter(
    (f) => f.rule === 'yaml-float-string',
  );
  assert.deepEqual(
    swin.map((f) => [f.range.line, f.severity]),
    [
      [13, 'info'],
      [14, 'info'],
      [15, 'info'],
      [16, 'info'],
    ],
  );
  assert.match(swin[1].message, /yacs' merge_from_file literal_evals the string/);
  const ax = scanConfigFile(proj('axolotl_llama3_lora_8b.yml'));
  assert.equal(ax.yamlLoader?.hint, 'axolotl');
  assert.deepEqual(
    lintConfig(ax)
      .filter((f) => f.rule === 'yaml-float-string')
      .map((f) => [f.range.line, f.severity]),
    [
      [32, 'info'],
      [37, 'info'],
    ],
  );
  assert.deepEqual(
    ax.learningRates.map((l) => [l.key, l.value, l.role, l.label]),
    [
      ['learning_rate', 2e-5, 'main', 'lr'],
      ['lr_groups.0.lr', 1e-5, 'group', 'param group `lm_head` lr'],
    ],
  );
  assert.deepEqual(
    ax.optimizers.map((o) => [o.name, o.family, o.eightBit]),
    [['adamw_bnb_8bit', 'adamw', true]],
  );
  // The same lines without the loader's evidence: warnings.
  const plain = scanConfigText('learning_rate: 2e-5\nweight_decay: 1e-8\n', 'p.yaml');
  assert.deepEqual(
    lintConfig(plain)
      .filter((f) => f.rule === 'yaml-float-string')
      .map((f) => f.severity),
    ['warning', 'warning'],
  );
});

test("a sibling config.json's initializer_range in a fine-tune (model_name_or_path loads weights) is the init scale: the hover says so", () => {
  const s = scanConfigFile(proj('alignment_handbook_zephyr_sft', 'config_full.yaml'));
  assert.equal(s.loadedWeights?.key, 'model_name_or_path');
  assert.deepEqual(
    s.scales.map((x) => [x.key, x.value, x.source]),
    [['initializer_range', 0.02, 'sibling']],
  );
  const h = hoverAt(join('alignment_handbook_zephyr_sft', 'config_full.yaml'), '2.0e-05', 0, s);
  assert.match(
    h,
    /`model_name_or_path` \(line 2\) loads weights to train from: initializer_range = 0\.02 is the scale they were \*initialized\* with, not their scale now — link the checkpoint/,
  );
  // litgpt's checkpoint_dir and nanoGPT's init_from are the same evidence; init_from = 'scratch' is not.
  assert.equal(scanConfigFile(proj('litgpt_llama2_7b_lora.yaml')).loadedWeights?.key, 'checkpoint_dir');
  assert.equal(scanConfigText("init_from = 'gpt2-xl'\nlearning_rate = 3e-5\n", 'f.py').loadedWeights?.key, 'init_from');
  assert.equal(scanConfigText("init_from = 'scratch'\nlearning_rate = 6e-4\n", 'f.py').loadedWeights, null);
  // From scratch (no loaded weights) the hover does not say it.
  assert.doesNotMatch(hoverAt('olmo2_1b_stage1.yaml', '4.0e-4'), /initialized\* with/);
});

function join(...p: string[]): string {
  return p.join('/');
}

test('every project config: each lr on its line, the file read without issues, no decoy taken (latent-diffusion, NeMo, litgpt, lightning-hydra, torchtitan, llama-recipes, OLMo)', () => {
  const expect: [string, (string | number)[][]][] = [
    ['latent_diffusion_txt2img_1p4b.yaml', [['model.base_learning_rate', 5e-5, 'main', 2]]],
    [
      'nemo_megatron_gpt_config.yaml',
      [
        ['model.optim.lr', 2e-4, 'main', 28],
        ['model.optim.sched.min_lr', 2e-5, 'floor', 37],
      ],
    ],
    [
      'litgpt_llama2_7b_lora.yaml',
      [
        ['train.min_lr', 6e-5, 'floor', 22],
        ['optimizer.init_args.lr', 2e-4, 'main', 27],
      ],
    ],
    ['lightning_hydra/mnist.yaml', [['optimizer.lr', 1e-3, 'main', 6]]],
    ['lightning_hydra/mnist_optuna.yaml', []],
    ['torchtitan_llama3_8b.toml', [['optimizer.lr', 3e-4, 'main', 19]]],
    ['llama_recipes_training.py', [['lr', 1e-4, 'main', 22]]],
    [
      'olmo2_1b_stage1.yaml',
      [
        ['optimizer.learning_rate', 4e-4, 'main', 35],
        ['scheduler.warmup_min_lr', 0, 'warmup-start', 51],
      ],
    ],
    [
      'tf_model_garden_imagenet_vitb16.yaml',
      [
        ['trainer.optimizer_config.learning_rate.cosine.initial_learning_rate', 5e-4, 'main', 23],
        ['trainer.optimizer_config.warmup.linear.warmup_learning_rate', 0, 'warmup-start', 32],
      ],
    ],
  ];
  for (const [file, want] of expect) {
    const s = scanConfigFile(proj(...file.split('/')));
    assert.deepEqual(lrs(s), want, file);
    assert.deepEqual(s.issues, [], file);
  }
  // The optimizer of each, by its own naming: Hydra _target_, LightningCLI class_path, NeMo optim.name, TF type.
  const fam = (f: string) => scanConfigFile(proj(...f.split('/'))).optimizers.map((o) => [o.name, o.family]);
  assert.deepEqual(fam('lightning_hydra/mnist.yaml'), [['torch.optim.Adam', 'adam']]);
  assert.deepEqual(fam('litgpt_llama2_7b_lora.yaml'), [['torch.optim.AdamW', 'adamw']]);
  assert.deepEqual(fam('nemo_megatron_gpt_config.yaml'), [['fused_adam', 'adam']]);
  assert.deepEqual(fam('tf_model_garden_imagenet_vitb16.yaml'), [['adamw', 'adamw']]);
  assert.deepEqual(fam('llama_recipes_training.py'), [['AdamW', 'adamw']]);
  // TF Model Garden's warmup start (0) and the optimizer in a sibling section: the lr is AdamW's.
  const vit = scanConfigFile(proj('tf_model_garden_imagenet_vitb16.yaml'));
  assert.equal(vit.optimizers[vit.learningRates[0].optimizer!].family, 'adamw');
});

/** Every project config, its folders walked (the README is no config). */
function projectFiles(dir = proj()): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(joinPath(dir, n)).isDirectory() ? projectFiles(joinPath(dir, n)) : [joinPath(dir, n)]))
    .filter((p) => !p.endsWith('README.md'));
}

test('quick fixes on every project config: each edit removes its finding and breaks nothing; titles name the lr they set; no fix contradicts its finding', () => {
  let applied = 0;
  const titles: string[] = [];
  for (const p of projectFiles()) {
    const s = scanConfigFile(p);
    const t = readFileSync(p, 'utf8');
    for (const f of lintConfig(s)) {
      for (const q of quickFixesFor(t, s, f)) {
        titles.push(`${relative(proj(), p)}:${f.range.line} ${q.title}`);
        if (!q.edits.length) continue;
        const fixed = applyEdits(t, q.edits);
        const s2 = scanConfigText(fixed, p);
        assert.deepEqual(s2.issues, s.issues, `${p}: ${q.title}`);
        // The finding's line after the edit (an annotation above it moves it down by one).
        const shift = q.edits.filter((e) => e.start <= f.range.start && e.newText.includes('\n')).length;
        const still = lintConfig(s2).filter((g) => g.rule === f.rule && g.range.line === f.range.line + shift);
        assert.deepEqual(still, [], `${p}: ${q.title}`);
        applied++;
      }
    }
  }
  assert.ok(applied >= 40, `${applied} fixes applied`);
  // The lr a set-lr fix changes is named: Megatron's decoupled lr is not "lr".
  assert.ok(
    titles.includes('megatron_llama3_8b.sh:47 Set --decoupled-lr to 2.98e-5 (relative step ≤ 0.001 at scale 0.0134)'),
    titles.filter((x) => x.includes('megatron')).join('\n'),
  );
  assert.ok(titles.includes('deepspeed_bert_lamb.json:9 Set optimizer.params.lr to 0.001 (relative step ≤ 0.001)'));
  // OLMo2's and Megatron's --lr infos say later steps are below the threshold: no fix cutting the published lr 9×;
  // the decoupled lr's later band straddles it (above it at the upper end) and keeps the fix.
  for (const at of ['olmo2_1b_stage1.yaml:35 Set', 'megatron_llama3_8b.sh:45 Set'])
    assert.ok(!titles.some((x) => x.startsWith(at)), titles.join('\n'));
  // A group lr's annotation fix is offered on its own line too (diffusers' text-encoder lr).
  assert.ok(titles.includes('diffusers_dreambooth_lora_sdxl.sh:20 Add annotation: # optimizer-lens: param-scale=…'));
});

test('launch scripts: config overrides as arguments (Hydra key.path=value, mmcv --cfg-options, yacs pairs) are read as the nested keys', () => {
  // lightning-hydra-template's scripts/schedule.sh form; `+key=` adds a key.
  const hydra = scanConfigText(
    '# Run from root folder with: bash scripts/schedule.sh\npython src/train.py trainer.max_epochs=5 logger=csv\npython src/train.py trainer.max_epochs=10 logger=csv model.optimizer.lr=0.002 +model.optimizer.eps=1e-6\n',
    'schedule.sh',
  );
  assert.deepEqual(lrs(hydra), [['model.optimizer.lr', 0.002, 'main', 3]]);
  assert.deepEqual(
    hydra.eps.map((e) => [e.key, e.value]),
    [['model.optimizer.eps', 1e-6]],
  );
  assert.equal(
    hydra.learningRates[0].keyRange?.column,
    'python src/train.py trainer.max_epochs=10 logger=csv '.length + 1,
    'the key range starts at the key as written',
  );
  assert.equal(
    hydra.eps[0].range.column,
    'python src/train.py trainer.max_epochs=10 logger=csv model.optimizer.lr=0.002 +model.optimizer.eps='.length + 1,
  );
  // detectron2's GETTING_STARTED: yacs options as space-separated pairs after the flags; the variables before the
  // command stay variables.
  const d2 = scanConfigText(
    'CUDA_VISIBLE_DEVICES=0 ./train_net.py --config-file ../configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml --num-gpus 1 SOLVER.IMS_PER_BATCH 2 SOLVER.BASE_LR 0.0025\n',
    'd2.sh',
  );
  assert.deepEqual(lrs(d2), [['SOLVER.BASE_LR', 0.0025, 'main', 1]]);
  // mmdetection: --cfg-options key.path=value; a variable in the value is followed.
  const mm = scanConfigText(
    'LR=0.02\nbash tools/dist_train.sh configs/faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py 8 --cfg-options optim_wrapper.optimizer.lr=${LR} model.backbone.init_cfg=None\n',
    'mm.sh',
  );
  assert.deepEqual(
    lrs(mm).filter(([k]) => k !== 'LR'),
    [['optim_wrapper.optimizer.lr', 0.02, 'main', 1]],
  );
  // Not overrides: assignments before a command, export, and words that are not key=value.
  const plain = scanConfigText('export LR=3e-4\nHF_HOME=/tmp python -c "print(1)" a=b=c --x=1 s/lr=1/\n', 'p.sh');
  assert.deepEqual(lrs(plain), [['LR', 3e-4, 'main', 1]]);
});
