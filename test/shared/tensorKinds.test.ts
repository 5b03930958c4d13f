// Tensor kind and block from parameter names (src/shared/tensorKinds.ts), over names as real checkpoints
// write them. Sources: a Llama-2-7B `model.safetensors.index.json` weight_map (HF layout; Mistral's is the
// same), Meta's consolidated Llama checkpoint keys, GPT-2 / nanoGPT state dicts, `bert-base-uncased`, T5 and
// FLAN-T5 (`wi_0`/`wi_1`), BART/OPT, Falcon, GPT-NeoX, CLIP, DistilBERT, Qwen3 (q/k norms), timm ViT, ConvNeXt,
// EfficientNet and Swin, torchvision ResNet and ViT, torch's nn.TransformerEncoderLayer, and this repository's
// fixture runs (minGPT-style names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blockLabel,
  classifyTensors,
  compareKinds,
  kindKey,
  kindLabel,
  tensorKindOf,
  TENSOR_KINDS,
  type TensorKind,
} from '../../src/shared/tensorKinds';
import { loadExpected } from '../support/fixtures';

type Want = [
  name: string,
  kind: TensorKind,
  block: number | null,
  extra?: { bias?: boolean; cross?: boolean; stage?: number; stack?: string | null },
];

const CASES: Want[] = [
  // HF Llama / Mistral (model.safetensors.index.json weight_map of a Llama-2-7B)
  ['model.embed_tokens.weight', 'embed', null],
  ['model.layers.0.input_layernorm.weight', 'attn_norm', 0],
  ['model.layers.0.self_attn.q_proj.weight', 'q', 0],
  ['model.layers.0.self_attn.k_proj.weight', 'k', 0],
  ['model.layers.0.self_attn.v_proj.weight', 'v', 0],
  ['model.layers.0.self_attn.o_proj.weight', 'o', 0],
  ['model.layers.0.post_attention_layernorm.weight', 'mlp_norm', 0],
  ['model.layers.10.mlp.gate_proj.weight', 'gate', 10],
  ['model.layers.10.mlp.up_proj.weight', 'up', 10],
  ['model.layers.31.mlp.down_proj.weight', 'down', 31],
  ['model.layers.0.self_attn.rotary_emb.inv_freq', 'other', 0],
  ['model.norm.weight', 'norm', null],
  ['lm_head.weight', 'head', null],
  // Qwen2 / Qwen3
  ['model.layers.3.self_attn.q_proj.bias', 'q', 3, { bias: true }],
  ['model.layers.3.self_attn.q_norm.weight', 'qk_norm', 3],
  ['model.layers.3.self_attn.k_norm.weight', 'qk_norm', 3],
  // Phi-3 fused projections
  ['model.layers.2.self_attn.qkv_proj.weight', 'qkv', 2],
  ['model.layers.2.mlp.gate_up_proj.weight', 'gate_up', 2],
  // Mixtral: the experts' projections and the router
  ['model.layers.1.block_sparse_moe.experts.3.w1.weight', 'gate', 1],
  ['model.layers.1.block_sparse_moe.experts.3.w2.weight', 'down', 1],
  ['model.layers.1.block_sparse_moe.gate.weight', 'other', 1],
  // Meta's consolidated Llama checkpoint
  ['tok_embeddings.weight', 'embed', null],
  ['layers.0.attention.wq.weight', 'q', 0],
  ['layers.0.attention.wk.weight', 'k', 0],
  ['layers.0.attention.wv.weight', 'v', 0],
  ['layers.0.attention.wo.weight', 'o', 0],
  ['layers.0.feed_forward.w1.weight', 'gate', 0],
  ['layers.0.feed_forward.w3.weight', 'up', 0],
  ['layers.0.feed_forward.w2.weight', 'down', 0],
  ['layers.0.attention_norm.weight', 'attn_norm', 0],
  ['layers.0.ffn_norm.weight', 'mlp_norm', 0],
  ['norm.weight', 'norm', null],
  ['output.weight', 'head', null],
  // HF GPT-2 and nanoGPT (the same names; torch.compile adds _orig_mod.)
  ['transformer.wte.weight', 'embed', null],
  ['transformer.wpe.weight', 'pos_embed', null],
  ['transformer.h.0.ln_1.weight', 'attn_norm', 0],
  ['transformer.h.0.ln_1.bias', 'attn_norm', 0, { bias: true }],
  ['transformer.h.0.attn.c_attn.weight', 'qkv', 0],
  ['transformer.h.0.attn.c_attn.bias', 'qkv', 0, { bias: true }],
  ['transformer.h.0.attn.c_proj.weight', 'o', 0],
  ['transformer.h.0.ln_2.weight', 'mlp_norm', 0],
  ['transformer.h.11.mlp.c_fc.weight', 'fc1', 11],
  ['transformer.h.11.mlp.c_proj.weight', 'fc2', 11],
  ['transformer.h.11.mlp.c_proj.bias', 'fc2', 11, { bias: true }],
  ['transformer.ln_f.weight', 'norm', null],
  ['_orig_mod.transformer.h.5.attn.c_attn.weight', 'qkv', 5],
  // bert-base-uncased
  ['bert.embeddings.word_embeddings.weight', 'embed', null],
  ['bert.embeddings.position_embeddings.weight', 'pos_embed', null],
  ['bert.embeddings.token_type_embeddings.weight', 'embed', null],
  ['bert.embeddings.LayerNorm.weight', 'norm', null],
  ['bert.encoder.layer.0.attention.self.query.weight', 'q', 0, { stack: 'encoder' }],
  ['bert.encoder.layer.0.attention.self.key.bias', 'k', 0, { bias: true, stack: 'encoder' }],
  ['bert.encoder.layer.0.attention.self.value.weight', 'v', 0],
  ['bert.encoder.layer.0.attention.output.dense.weight', 'o', 0],
  ['bert.encoder.layer.0.attention.output.LayerNorm.weight', 'attn_norm', 0],
  ['bert.encoder.layer.0.intermediate.dense.weight', 'fc1', 0],
  ['bert.encoder.layer.0.output.dense.weight', 'fc2', 0],
  ['bert.encoder.layer.0.output.LayerNorm.bias', 'mlp_norm', 0, { bias: true }],
  ['bert.pooler.dense.weight', 'head', null],
  ['classifier.weight', 'head', null],
  // T5 (encoder and decoder stacks, cross-attention, T5's sublayer index is not a block)
  ['shared.weight', 'embed', null],
  ['encoder.embed_tokens.weight', 'embed', null],
  ['encoder.block.0.layer.0.SelfAttention.q.weight', 'q', 0, { stack: 'encoder' }],
  ['encoder.block.0.layer.0.SelfAttention.o.weight', 'o', 0, { stack: 'encoder' }],
  ['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', 'pos_embed', 0],
  ['encoder.block.0.layer.0.layer_norm.weight', 'attn_norm', 0],
  ['encoder.block.0.layer.1.DenseReluDense.wi.weight', 'fc1', 0],
  ['encoder.block.0.layer.1.DenseReluDense.wo.weight', 'fc2', 0],
  ['encoder.block.0.layer.1.layer_norm.weight', 'mlp_norm', 0],
  ['encoder.final_layer_norm.weight', 'norm', null],
  ['decoder.block.3.layer.0.SelfAttention.k.weight', 'k', 3, { stack: 'decoder', cross: false }],
  ['decoder.block.3.layer.1.EncDecAttention.q.weight', 'q', 3, { stack: 'decoder', cross: true }],
  ['decoder.block.3.layer.1.EncDecAttention.o.weight', 'o', 3, { cross: true }],
  ['decoder.block.3.layer.1.layer_norm.weight', 'attn_norm', 3, { cross: true }],
  ['decoder.block.3.layer.2.DenseReluDense.wi.weight', 'fc1', 3],
  ['decoder.block.3.layer.2.layer_norm.weight', 'mlp_norm', 3],
  // FLAN-T5 (gated: wi_0, wi_1)
  ['decoder.block.0.layer.2.DenseReluDense.wi_0.weight', 'gate', 0],
  ['decoder.block.0.layer.2.DenseReluDense.wi_1.weight', 'up', 0],
  // BART / OPT
  ['model.encoder.layers.2.self_attn.k_proj.weight', 'k', 2, { stack: 'encoder' }],
  ['model.encoder.layers.2.self_attn_layer_norm.weight', 'attn_norm', 2],
  ['model.encoder.layers.2.fc1.weight', 'fc1', 2],
  ['model.encoder.layers.2.fc2.bias', 'fc2', 2, { bias: true }],
  ['model.encoder.layers.2.final_layer_norm.weight', 'mlp_norm', 2],
  ['model.decoder.layers.1.encoder_attn.v_proj.weight', 'v', 1, { stack: 'decoder', cross: true }],
  ['model.decoder.layers.1.encoder_attn_layer_norm.weight', 'attn_norm', 1, { cross: true }],
  ['model.decoder.embed_positions.weight', 'pos_embed', null],
  ['model.decoder.final_layer_norm.weight', 'norm', null],
  // Falcon, GPT-NeoX
  ['transformer.word_embeddings.weight', 'embed', null],
  ['transformer.h.7.self_attention.query_key_value.weight', 'qkv', 7],
  ['transformer.h.7.self_attention.dense.weight', 'o', 7],
  ['transformer.h.7.mlp.dense_h_to_4h.weight', 'fc1', 7],
  ['transformer.h.7.mlp.dense_4h_to_h.weight', 'fc2', 7],
  ['gpt_neox.embed_in.weight', 'embed', null],
  ['gpt_neox.layers.4.attention.query_key_value.weight', 'qkv', 4],
  ['gpt_neox.layers.4.post_attention_layernorm.weight', 'mlp_norm', 4],
  ['embed_out.weight', 'head', null],
  // CLIP, DistilBERT
  ['vision_model.encoder.layers.5.self_attn.q_proj.weight', 'q', 5, { stack: 'vision_model.encoder' }],
  ['vision_model.encoder.layers.5.layer_norm1.weight', 'attn_norm', 5],
  ['vision_model.encoder.layers.5.mlp.fc2.weight', 'fc2', 5],
  ['vision_model.embeddings.patch_embedding.weight', 'embed', null],
  ['text_model.encoder.layers.0.layer_norm2.bias', 'mlp_norm', 0, { bias: true, stack: 'text_model.encoder' }],
  ['distilbert.transformer.layer.3.attention.q_lin.weight', 'q', 3],
  ['distilbert.transformer.layer.3.attention.out_lin.weight', 'o', 3],
  ['distilbert.transformer.layer.3.sa_layer_norm.weight', 'attn_norm', 3],
  ['distilbert.transformer.layer.3.ffn.lin1.weight', 'fc1', 3],
  ['distilbert.transformer.layer.3.output_layer_norm.weight', 'mlp_norm', 3],
  // timm ViT
  ['cls_token', 'embed', null],
  ['pos_embed', 'pos_embed', null],
  ['patch_embed.proj.weight', 'embed', null],
  ['blocks.0.norm1.weight', 'attn_norm', 0],
  ['blocks.0.attn.qkv.weight', 'qkv', 0],
  ['blocks.0.attn.proj.weight', 'o', 0],
  ['blocks.0.norm2.bias', 'mlp_norm', 0, { bias: true }],
  ['blocks.11.mlp.fc1.weight', 'fc1', 11],
  ['blocks.11.mlp.fc2.weight', 'fc2', 11],
  ['norm.bias', 'norm', null, { bias: true }],
  ['head.weight', 'head', null],
  // timm ConvNeXt, EfficientNet, Swin (stages of blocks)
  ['stem.0.weight', 'conv', null],
  ['stages.0.blocks.0.conv_dw.weight', 'conv', 0, { stage: 0 }],
  ['stages.0.blocks.0.norm.weight', 'norm', 0, { stage: 0 }],
  ['stages.3.blocks.2.mlp.fc1.weight', 'fc1', 2, { stage: 3 }],
  ['stages.3.blocks.2.mlp.fc2.bias', 'fc2', 2, { stage: 3, bias: true }],
  ['stages.1.downsample.1.weight', 'conv', null, { stage: 1 }],
  ['head.fc.weight', 'head', null],
  ['head.norm.weight', 'norm', null],
  ['blocks.1.0.conv_dw.weight', 'conv', 0, { stage: 1 }],
  ['conv_stem.weight', 'conv', null],
  ['layers.0.blocks.1.attn.qkv.weight', 'qkv', 1, { stage: 0 }],
  ['layers.2.blocks.5.norm2.weight', 'mlp_norm', 5, { stage: 2 }],
  ['layers.2.blocks.5.attn.relative_position_bias_table', 'pos_embed', 5, { stage: 2 }],
  // torchvision ResNet and ViT
  ['conv1.weight', 'conv', null],
  ['bn1.weight', 'norm', null],
  ['layer1.0.conv1.weight', 'conv', 0, { stage: 1 }],
  ['layer1.0.bn1.bias', 'norm', 0, { stage: 1, bias: true }],
  ['layer4.2.conv3.weight', 'conv', 2, { stage: 4 }],
  ['layer1.0.downsample.0.weight', 'conv', 0, { stage: 1 }],
  ['layer2.0.bn2.running_mean', 'other', 0, { stage: 2 }],
  ['fc.weight', 'head', null],
  ['encoder.layers.encoder_layer_3.self_attention.in_proj_weight', 'qkv', 3],
  ['encoder.layers.encoder_layer_3.self_attention.in_proj_bias', 'qkv', 3, { bias: true }],
  ['encoder.layers.encoder_layer_3.self_attention.out_proj.weight', 'o', 3],
  ['encoder.layers.encoder_layer_3.ln_1.weight', 'attn_norm', 3],
  ['conv_proj.weight', 'embed', null],
  ['heads.head.weight', 'head', null],
  // torch nn.TransformerEncoder
  ['layers.1.self_attn.in_proj_weight', 'qkv', 1],
  ['layers.1.linear1.weight', 'fc1', 1],
  ['layers.1.linear2.bias', 'fc2', 1, { bias: true }],
  ['layers.1.norm1.weight', 'attn_norm', 1],
  // this repository's fixture runs (test/fixtures/*/expected.json)
  ['embed.weight', 'embed', null],
  ['blocks.0.ln1.weight', 'attn_norm', 0],
  ['blocks.0.ln2.bias', 'mlp_norm', 0, { bias: true }],
  ['blocks.0.mlp.fc.weight', 'fc1', 0],
  ['blocks.0.mlp.proj.weight', 'fc2', 0],
  ['ln_f.weight', 'norm', null],
];

test('kind, block, stage, stack, bias and cross-attention from real parameter names', () => {
  const wrong: string[] = [];
  for (const [name, kind, block, extra = {}] of CASES) {
    const info = tensorKindOf(name);
    const got = { kind: info.kind, block: info.block, bias: info.bias, cross: info.cross, stage: info.stage };
    const want = { kind, block, bias: extra.bias ?? false, cross: extra.cross ?? false, stage: extra.stage ?? null };
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    if (extra.stack !== undefined && info.stack !== extra.stack) wrong.push(`${name}: stack ${info.stack}, want ${extra.stack}`);
  }
  assert.deepEqual(wrong, []);
});

test('a shape tells an unnamed Sequential member apart: a 1-D weight is a norm, a 4-D one a conv', () => {
  // ConvNeXt: stem.0 is the patchify conv, stem.1 its LayerNorm; torchvision downsample.1 is BatchNorm.
  assert.equal(tensorKindOf('stem.1.weight', [96]).kind, 'norm');
  assert.equal(tensorKindOf('stem.0.weight', [96, 3, 4, 4]).kind, 'conv');
  assert.equal(tensorKindOf('layer1.0.downsample.1.weight', [256]).kind, 'norm');
  assert.equal(tensorKindOf('stages.1.downsample.0.weight', [96]).kind, 'norm');
});

test('the block key and slot: one key per block across stacks, the same slot for the same tensor of every block', () => {
  const a = tensorKindOf('model.layers.3.self_attn.q_proj.weight');
  assert.equal(a.blockKey, 'layers.3');
  assert.equal(a.slot, 'self_attn.q_proj.weight');
  assert.equal(tensorKindOf('model.layers.17.self_attn.q_proj.weight').slot, a.slot);
  const enc = tensorKindOf('encoder.block.2.layer.0.SelfAttention.q.weight');
  const dec = tensorKindOf('decoder.block.2.layer.0.SelfAttention.q.weight');
  assert.notEqual(enc.blockKey, dec.blockKey);
  assert.equal(blockLabel(enc, true), 'encoder 2');
  assert.equal(blockLabel(tensorKindOf('stages.3.blocks.2.mlp.fc1.weight')), 'stage 3 · 2');
  assert.equal(tensorKindOf('lm_head.weight').blockKey, null);
  assert.equal(tensorKindOf('model.norm.weight').slot, 'norm.weight');
});

test('a whole Llama-7B: 32 blocks of the 9 kinds a block computes, plus embed, final norm and head (291 tensors)', () => {
  const perBlock = [
    'input_layernorm.weight',
    'self_attn.q_proj.weight',
    'self_attn.k_proj.weight',
    'self_attn.v_proj.weight',
    'self_attn.o_proj.weight',
    'post_attention_layernorm.weight',
    'mlp.gate_proj.weight',
    'mlp.up_proj.weight',
    'mlp.down_proj.weight',
  ];
  const names = ['model.embed_tokens.weight'];
  for (let b = 0; b < 32; b++) for (const p of perBlock) names.push(`model.layers.${b}.${p}`);
  names.push('model.norm.weight', 'lm_head.weight');
  assert.equal(names.length, 291);
  const infos = classifyTensors(names);
  const blocks = new Set(infos.filter((i) => i.block !== null).map((i) => i.blockKey));
  assert.equal(blocks.size, 32);
  const kinds = [...new Set(infos.filter((i) => i.block !== null).map(kindKey))];
  assert.deepEqual(kinds, ['attn_norm', 'q', 'k', 'v', 'o', 'mlp_norm', 'gate', 'up', 'down']);
  assert.deepEqual(
    [...kinds].sort((x, y) =>
      compareKinds(
        tensorKindOf(`model.layers.0.${perBlock[kinds.indexOf(x)]}`),
        tensorKindOf(`model.layers.0.${perBlock[kinds.indexOf(y)]}`),
      ),
    ),
    ['attn_norm', 'q', 'k', 'v', 'o', 'mlp_norm', 'gate', 'up', 'down'],
  );
  assert.deepEqual(
    infos.filter((i) => i.block === null).map((i) => i.kind),
    ['embed', 'norm', 'head'],
  );
});

test('T5 v1.1 (gated): the MLP output projection wo is down when its block has gate and up', () => {
  const names = [
    'encoder.block.0.layer.1.DenseReluDense.wi_0.weight',
    'encoder.block.0.layer.1.DenseReluDense.wi_1.weight',
    'encoder.block.0.layer.1.DenseReluDense.wo.weight',
  ];
  assert.deepEqual(
    classifyTensors(names).map((i) => i.kind),
    ['gate', 'up', 'down'],
  );
  // v1.0 (wi, wo): fc1 and fc2.
  assert.deepEqual(
    classifyTensors(['encoder.block.0.layer.1.DenseReluDense.wi.weight', 'encoder.block.0.layer.1.DenseReluDense.wo.weight']).map(
      (i) => i.kind,
    ),
    ['fc1', 'fc2'],
  );
});

test('labels and keys: cross-attention and biases are their own kind key', () => {
  assert.equal(kindKey(tensorKindOf('decoder.block.3.layer.1.EncDecAttention.q.weight')), 'cross q');
  assert.equal(kindLabel(tensorKindOf('transformer.h.0.ln_1.bias')), 'attn norm bias');
  assert.equal(TENSOR_KINDS.length, new Set(TENSOR_KINDS).size);
});

test("every tensor of the fixture runs has a kind (none is 'other')", () => {
  const layers = Object.keys(loadExpected('adam_base').steps['120']).filter((k) => k !== 'global');
  assert.ok(layers.length >= 14);
  assert.deepEqual(
    layers.filter((l) => tensorKindOf(l).kind === 'other'),
    [],
  );
});
