import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { classifyHistogramTag, classifyScalarTag, globalKey, type TagMeaning } from '../../../src/core/run/scalarTags';
import { fixturePath } from '../../support/fixtures';

const layer = (l: string, figure: string): TagMeaning => ({ kind: 'layer', layer: l, figure: figure as never });
const global = (key: string, paramGroup?: number): TagMeaning =>
  paramGroup === undefined ? { kind: 'global', key } : { kind: 'global', key, paramGroup };

function table(cases: [string, TagMeaning][], fn = classifyScalarTag): void {
  for (const [tag, want] of cases) assert.deepEqual(fn(tag), want, tag);
}

describe('classifyScalarTag', () => {
  it('ours (snake_case as the fixtures and our snippet write them)', () => {
    table([
      ['param_rms/embed.weight', layer('embed.weight', 'paramRms')],
      ['grad_rms/blocks.0.attn.qkv.weight', layer('blocks.0.attn.qkv.weight', 'gradRms')],
      ['update_rms/pos_embed', layer('pos_embed', 'updateRms')],
      ['rel_step/ln_f.bias', layer('ln_f.bias', 'relStep')],
      ['adam_u_rms/head.weight', layer('head.weight', 'adamUpdateRms')],
      ['param_norm/head.weight', layer('head.weight', 'paramNorm')],
      ['grad_norm/head.weight', layer('head.weight', 'gradNorm')],
      ['update_norm/head.weight', layer('head.weight', 'updateNorm')],
      ['eps_dominated_frac/embed.weight', layer('embed.weight', 'epsDominatedFraction')],
      ['sqrt_v_hat_rms/x', layer('x', 'sqrtVHatRms')],
      ['exp_avg_rms/x', layer('x', 'exp_avgRms')],
      ['momentum_buffer_rms/x', layer('x', 'momentumBufferRms')],
      ['decay_rms/x', layer('x', 'decayRms')],
      ['pred_rel_step/x', layer('x', 'relStepPredicted')],
      ['lr/x', layer('x', 'lr')],
      ['direction_rms/x', layer('x', 'directionRms')],
      ['effective_lr/x', layer('x', 'effectiveLr')],
      ['zero_second_moment_frac/x', layer('x', 'zeroSecondMomentFraction')],
      ['trust_ratio/x', layer('x', 'trustRatio')],
    ]);
  });
  it('camelCase', () => {
    table([
      ['paramRms/a.b', layer('a.b', 'paramRms')],
      ['relStep/a.b', layer('a.b', 'relStep')],
      ['adamUpdateRms/a.b', layer('a.b', 'adamUpdateRms')],
      ['epsDominatedFraction/a.b', layer('a.b', 'epsDominatedFraction')],
      ['relStepPredicted/a.b', layer('a.b', 'relStepPredicted')],
    ]);
  });
  it('prefixes (W&B train/…, optim/…) and layer names with slashes', () => {
    table([
      ['train/param_rms/embed.weight', layer('embed.weight', 'paramRms')],
      ['optim/rel_step/blocks.0.ln1.weight', layer('blocks.0.ln1.weight', 'relStep')],
      ['diagnostics/adam_u_rms/model/layers/0/w', layer('model/layers/0/w', 'adamUpdateRms')],
      ['param_rms/', null],
      ['eval/param_rms/x', null],
    ]);
  });
  it('non-figures are not mapped (lr_over_param_rms, sqrt_v_hat_median, adam_u_abs_p*, …)', () => {
    for (const tag of [
      'lr_over_param_rms/embed.weight',
      'sqrt_v_hat_median/embed.weight',
      'adam_u_abs_p50/embed.weight',
      'adam_u_abs_p99/x',
      'adam_u_mean_abs/x',
      'adam_u_max_abs/x',
      'exp_avg_sq_mean/x',
      'param_rms_after/x',
      'update_pred_rel_err/x',
      '_step',
      '_runtime',
      '_timestamp',
      'run',
      'train/global_step',
      'test/loss',
      '',
    ]) {
      assert.equal(classifyScalarTag(tag), null, tag);
    }
  });
  it('Composer l2_norm/{param,grad,update,moment}/<L>', () => {
    table([
      ['l2_norm/param/model.fc.weight', layer('model.fc.weight', 'paramNorm')],
      ['l2_norm/grad/model.fc.weight', layer('model.fc.weight', 'gradNorm')],
      ['l2_norm/update/model.fc.weight', layer('model.fc.weight', 'updateNorm')],
      ['l2_norm/moment/model.fc.weight', null],
      ['l2_norm/grad/global', global('gradNorm')],
    ]);
  });
  it('OLMo {param,grad,exp_avg,exp_avg_sq}/<n>.{norm,min,max,avg}', () => {
    table([
      ['param/transformer.blocks.0.att_proj.weight.norm', layer('transformer.blocks.0.att_proj.weight', 'paramNorm')],
      ['grad/transformer.wte.weight.norm', layer('transformer.wte.weight', 'gradNorm')],
      ['optim/grad/transformer.wte.weight.norm', layer('transformer.wte.weight', 'gradNorm')],
      ['exp_avg/transformer.wte.weight.norm', null],
      ['exp_avg_sq/transformer.wte.weight.norm', null],
      ['grad/transformer.wte.weight.max', null],
      ['param/transformer.wte.weight.min', null],
      ['grad/transformer.wte.weight.avg', null],
      ['optim/total_grad_norm', global('gradNorm')],
      ['optim/LR (group 1)', global('lr', 1)],
    ]);
  });
  it('Levanter {grad,params,updates}/norm/<p>', () => {
    table([
      ['grad/norm/transformer/blocks/0/attn/c_attn/weight', layer('transformer/blocks/0/attn/c_attn/weight', 'gradNorm')],
      ['params/norm/embeddings/token_embeddings', layer('embeddings/token_embeddings', 'paramNorm')],
      ['updates/norm/lm_head', layer('lm_head', 'updateNorm')],
      ['grad/norm/total', global('gradNorm')],
      ['params/norm/total', global('paramNorm')],
    ]);
  });
  it('Lightning grad_2.0_norm/<n>, grad_2.0_norm_total, lr-<Opt>[/pgN]', () => {
    table([
      ['grad_2.0_norm/model.layer1.weight', layer('model.layer1.weight', 'gradNorm')],
      ['grad_2.0_norm_total', global('gradNorm')],
      ['grad_1.0_norm/model.layer1.weight', null],
      ['grad_inf_norm_total', null],
      ['lr-Adam', global('lr')],
      ['lr-AdamW', global('lr')],
      ['lr-Adam/pg0', global('lr', 0)],
      ['lr-SGD/pg2', global('lr', 2)],
      ['lr-Adam-1', global('lr')],
      ['lr-Adam-momentum', null],
      ['lr-SGD/pg1-momentum', null],
    ]);
  });
  it('Megatron grad-norm, params-norm, learning-rate (and not the "vs samples" series)', () => {
    table([
      ['grad-norm', global('gradNorm')],
      ['params-norm', global('paramNorm')],
      ['learning-rate', global('lr')],
      ['lm loss', global('loss')],
      ['loss-scale', global('lossScale')],
      ['learning-rate vs samples', null],
      ['grad-norm vs samples', null],
      ['lm loss vs tokens', null],
    ]);
  });
  it('global keys normalized (HF, W&B, ours)', () => {
    table([
      ['loss', global('loss')],
      ['train/loss', global('loss')],
      ['train_loss', global('loss')],
      ['lr', global('lr')],
      ['train/lr', global('lr')],
      ['learning_rate', global('lr')],
      ['train/learning_rate', global('lr')],
      ['grad_norm', global('gradNorm')],
      ['train/grad_norm', global('gradNorm')],
      ['grad_norm_total', global('gradNorm')],
      ['param_norm_total', global('paramNorm')],
      ['update_norm_total', global('updateNorm')],
      ['rel_step_total', global('relStep')],
      ['loss_scale', global('lossScale')],
      ['eval/loss', global('evalLoss')],
      ['eval_loss', global('evalLoss')],
      ['val/loss', global('evalLoss')],
      ['eval/acc', global('evalAcc')],
      ['eval_acc', global('evalAcc')],
      ['train/epoch', global('epoch')],
      ['lr/pg1', global('lr', 1)],
    ]);
    assert.equal(globalKey('train/batch_acc'), 'batchAcc');
    assert.equal(globalKey('eval/whatever'), null);
  });
  it("every column of the fixtures' history_wide.csv and key of train_log.jsonl is classified as documented", () => {
    for (const run of ['adam_base', 'sgd_momentum']) {
      const header = readFileSync(fixturePath(run, 'history_wide.csv'), 'utf8').split('\n', 1)[0].split(',');
      let layers = 0;
      for (const h of header) {
        const m = classifyScalarTag(h);
        const metric = h.split('/')[0];
        if (['lr_over_param_rms', 'sqrt_v_hat_median'].includes(metric) || h.startsWith('_')) assert.equal(m, null, h);
        else if (h.includes('/') && !['train', 'eval'].includes(metric)) {
          assert.equal(m?.kind, 'layer', h);
          layers++;
        } else assert.equal(m?.kind, 'global', h);
      }
      assert.equal(layers, 5 * 14, 'five figure columns per layer (Adam: adam_u_rms, SGD: momentum_buffer_rms)');
    }
    const keys = Object.keys(JSON.parse(readFileSync(fixturePath('adam_base', 'train_log.jsonl'), 'utf8').split('\n', 1)[0]));
    const mapped = Object.fromEntries(keys.map((k) => [k, classifyScalarTag(k)]));
    assert.deepEqual(mapped, {
      run: null,
      step: null,
      loss: global('loss'),
      batch_acc: global('batchAcc'),
      lr: global('lr'),
      loss_scale: global('lossScale'),
      grad_norm_total: global('gradNorm'),
      param_norm_total: global('paramNorm'),
      update_norm_total: global('updateNorm'),
      rel_step_total: global('relStep'),
    });
  });
});

describe('classifyHistogramTag', () => {
  const h = (l: string, role: string | null, quantity: string): TagMeaning => ({
    kind: 'histogram',
    layer: l,
    role: role as never,
    quantity,
  });
  it('W&B watch, fixture TensorBoard histograms, suffix styles', () => {
    table(
      [
        ['gradients/model.fc.weight', h('model.fc.weight', 'grad', 'grad')],
        ['parameters/model.fc.weight', h('model.fc.weight', 'param', 'param')],
        ['params/blocks.0.ln1.weight', h('blocks.0.ln1.weight', 'param', 'param')],
        ['grads/blocks.0.ln1.weight', h('blocks.0.ln1.weight', 'grad', 'grad')],
        ['blocks.0.ln1.weight/grad', h('blocks.0.ln1.weight', 'grad', 'grad')],
        ['blocks.0.ln1.weight.grad', h('blocks.0.ln1.weight', 'grad', 'grad')],
        ['adam_u/head.weight', h('head.weight', null, 'adam_u')],
        ['momentum/head.weight', h('head.weight', 'momentum_buffer', 'momentum_buffer')],
        ['exp_avg/head.weight', h('head.weight', 'exp_avg', 'exp_avg')],
        ['exp_avg_sq/head.weight', h('head.weight', 'exp_avg_sq', 'exp_avg_sq')],
        ['param_before/head.weight', h('head.weight', 'param_before', 'param_before')],
      ],
      classifyHistogramTag,
    );
  });
  it('not histograms of a layer', () => {
    for (const tag of ['grad/norm/x', 'train/loss', 'loss', 'params/', 'gradients/', ''])
      assert.equal(classifyHistogramTag(tag), null, tag);
  });
});
