// What a parameter tensor is, from its name: its kind (q/k/v/o or fused qkv, gate/up/down, fc1/fc2, norms,
// embeddings, head, conv) and the block it sits in (`layers.3`, `h.3`, `blocks.3`, `encoder.layer.3`,
// `stages.1.blocks.2`, torchvision's `layer2.1`). The naming conventions are those of HF transformers
// (Llama, Mistral, Qwen, GPT-2, BERT, T5, BART), Meta's Llama checkpoints, nanoGPT/minGPT, timm (ViT,
// ConvNeXt, Swin) and torchvision (ResNet, ViT). Pure and environment-free: the rules (grouped findings),
// the CLI and the dashboard (heatmap, per-kind bands, the table grouped by block) share it.

export const TENSOR_KINDS = [
  'embed',
  'pos_embed',
  'attn_norm',
  'q',
  'k',
  'v',
  'qkv',
  'qk_norm',
  'o',
  'mlp_norm',
  'gate',
  'up',
  'gate_up',
  'down',
  'fc1',
  'fc2',
  'conv',
  'norm',
  'head',
  'other',
] as const;

export type TensorKind = (typeof TENSOR_KINDS)[number];

export const TENSOR_KIND_LABELS: Readonly<Record<TensorKind, string>> = {
  embed: 'embed',
  pos_embed: 'pos embed',
  attn_norm: 'attn norm',
  q: 'q',
  k: 'k',
  v: 'v',
  qkv: 'qkv',
  qk_norm: 'q/k norm',
  o: 'o',
  mlp_norm: 'mlp norm',
  gate: 'gate',
  up: 'up',
  gate_up: 'gate+up',
  down: 'down',
  fc1: 'fc1',
  fc2: 'fc2',
  conv: 'conv',
  norm: 'norm',
  head: 'head',
  other: 'other',
};

export interface TensorKindInfo {
  kind: TensorKind;
  /** A bias vector (`….bias`, `in_proj_bias`); a norm's scale and every weight matrix are not. */
  bias: boolean;
  /** Cross-attention (T5 `EncDecAttention`, BART `encoder_attn`, `cross_attn`): its q/k/v/o and norm. */
  cross: boolean;
  /** The stack the block belongs to where a model has several (`encoder`, `decoder`, `vision_model.encoder`), else null. */
  stack: string | null;
  /** The stage of a staged network (timm `stages.N`, Swin `layers.N`, torchvision `layerN`), else null. */
  stage: number | null;
  /** The block's index (within its stage, if any); null outside blocks (embeddings, final norm, head). */
  block: number | null;
  /** The block's path without wrapper prefixes, one per block of the model ("layers.3", "decoder.block.0", "stages.1.blocks.2"); null outside blocks and stages. */
  blockKey: string | null;
  /** The tensor's path inside its block ("self_attn.q_proj.weight"); outside blocks the name without wrapper prefixes. */
  slot: string;
}

// Module containers whose next segment is a block index.
const BLOCK_CONTAINERS = new Set([
  'layers',
  'layer',
  'h',
  'blocks',
  'block',
  'transformer_blocks',
  'resblocks',
  'decoder_layers',
  'encoder_layers',
]);
// Containers of stages, whose blocks come in a nested container (`stages.1.blocks.2`, Swin `layers.0.blocks.1`).
const STAGE_CONTAINERS = new Set(['stages', 'stage', 'layers']);
// Prefixes a checkpoint wraps models in (DDP, torch.compile, HF base models, Lightning): not part of a block's identity.
const WRAPPERS = new Set([
  'module',
  '_orig_mod',
  'model',
  'models',
  'transformer',
  'backbone',
  'net',
  'base_model',
  'bert',
  'roberta',
  'deberta',
  'electra',
  'distilbert',
  'albert',
  'gpt_neox',
  'language_model',
]);

const ATTENTION_CONTEXT =
  /^(?:attention|attn|self_attn|selfattention|self_attention|self|encdecattention|encoder_attn|cross_attn|crossattention|attn1|attn2|mixer)$/i;
const CROSS_CONTEXT = /^(?:encdecattention|encoder_attn|cross_attn|crossattention|attn2)$/i;
const MLP_CONTEXT = /^(?:mlp|feed_forward|ffn|densereludense|intermediate|ff|feedforward|moe|experts)$/i;

/** Where a tensor sits and what it is, from its name (and, when given, its shape for unnamed `Sequential` members). */
export function tensorKindOf(name: string, shape?: readonly number[] | null): TensorKindInfo {
  const segments = name.split('.');
  const place = blockPlace(segments);
  const rest = segments.slice(place.restStart);
  const ctxBefore = segments.slice(0, place.restStart);
  const { kind, bias, cross } = kindOf(rest, ctxBefore, place, shape ?? null);
  return {
    kind,
    bias,
    cross,
    stack: place.stack,
    stage: place.stage,
    block: place.block,
    blockKey: place.blockKey,
    slot: rest.join('.') || name,
  };
}

/**
 * Kinds of a whole model's tensors at once: like `tensorKindOf`, and a gated MLP's output projection is
 * `down` even where its name alone does not say so (T5 v1.1 `wi_0`/`wi_1`/`wo` next to v1.0's `wi`/`wo`).
 */
export function classifyTensors(names: readonly string[], shapes?: readonly (readonly number[] | null | undefined)[]): TensorKindInfo[] {
  const infos = names.map((n, i) => tensorKindOf(n, shapes?.[i] ?? null));
  const gated = new Set<string>();
  for (const info of infos) if ((info.kind === 'gate' || info.kind === 'up') && info.blockKey) gated.add(info.blockKey);
  return infos.map((info) =>
    info.kind === 'fc2' && info.blockKey && gated.has(info.blockKey) && !infos.some((o) => o.blockKey === info.blockKey && o.kind === 'fc1')
      ? { ...info, kind: 'down' }
      : info,
  );
}

/** The key tensors of the same role share across blocks: kind, cross-attention, bias ("q", "cross q", "q bias"). */
export function kindKey(info: Pick<TensorKindInfo, 'kind' | 'bias' | 'cross'>): string {
  return `${info.cross ? 'cross ' : ''}${info.kind}${info.bias ? ' bias' : ''}`;
}

/** The kind as a short label for a legend or a column ("q", "cross q", "attn norm bias"). */
export function kindLabel(info: Pick<TensorKindInfo, 'kind' | 'bias' | 'cross'>): string {
  return `${info.cross ? 'cross ' : ''}${TENSOR_KIND_LABELS[info.kind]}${info.bias ? ' bias' : ''}`;
}

/** Orders kind keys as a block computes them (norm, q, k, v, o, norm, gate, up, down), biases after their weights. */
export function compareKinds(
  a: Pick<TensorKindInfo, 'kind' | 'bias' | 'cross'>,
  b: Pick<TensorKindInfo, 'kind' | 'bias' | 'cross'>,
): number {
  const rank = (i: Pick<TensorKindInfo, 'kind' | 'bias' | 'cross'>) =>
    TENSOR_KINDS.indexOf(i.kind) * 4 + (i.cross ? 2 : 0) + (i.bias ? 1 : 0);
  return rank(a) - rank(b);
}

/** Orders blocks: by stack (first seen order is the caller's), then stage, then block. */
export function compareBlocks(a: Pick<TensorKindInfo, 'stage' | 'block'>, b: Pick<TensorKindInfo, 'stage' | 'block'>): number {
  return (a.stage ?? -1) - (b.stage ?? -1) || (a.block ?? -1) - (b.block ?? -1);
}

/** A block's short label: "3", "decoder 3", "stage 1 · 2", "stage 1" (its downsampling), "encoder 3" with stacks shown. */
export function blockLabel(info: Pick<TensorKindInfo, 'stack' | 'stage' | 'block'>, withStack = false): string {
  const where =
    info.stage !== null ? (info.block !== null ? `stage ${info.stage} · ${info.block}` : `stage ${info.stage}`) : String(info.block ?? '');
  return withStack && info.stack ? `${info.stack} ${where}`.trim() : where;
}

// ---- block index ---------------------------------------------------------------------------------

interface Place {
  stack: string | null;
  stage: number | null;
  block: number | null;
  blockKey: string | null;
  /** Index of the first segment after the block (or stage) index; 0 outside blocks (after wrappers). */
  restStart: number;
}

const INDEX = /^\d+$/;

function blockPlace(segments: string[]): Place {
  let wrap = 0;
  while (wrap < segments.length - 1 && WRAPPERS.has(segments[wrap])) wrap++;
  for (let i = wrap; i < segments.length - 1; i++) {
    const seg = segments[i];
    const stackOf = () => stackName(segments.slice(wrap, i));
    const keyOf = (end: number) => segments.slice(wrap, end + 1).join('.');
    // torchvision ResNet: layer1.0.conv1.weight (stage 1, block 0)
    const tv = /^layer(\d+)$/.exec(seg);
    if (tv && INDEX.test(segments[i + 1])) {
      return { stack: stackOf(), stage: Number(tv[1]), block: Number(segments[i + 1]), blockKey: keyOf(i + 1), restStart: i + 2 };
    }
    // torchvision ViT: encoder.layers.encoder_layer_3.…
    const tvVit = /^(?:encoder|decoder)_layer_(\d+)$/.exec(seg);
    if (tvVit) {
      const container = i > wrap && BLOCK_CONTAINERS.has(segments[i - 1]) ? i - 1 : i;
      return {
        stack: stackName(segments.slice(wrap, container)),
        stage: null,
        block: Number(tvVit[1]),
        blockKey: keyOf(i),
        restStart: i + 1,
      };
    }
    if (!BLOCK_CONTAINERS.has(seg) && !STAGE_CONTAINERS.has(seg)) continue;
    if (!INDEX.test(segments[i + 1])) continue;
    const first = Number(segments[i + 1]);
    // A stage with nested blocks: stages.1.blocks.2, Swin layers.0.blocks.1, timm EfficientNet blocks.3.1.
    if (STAGE_CONTAINERS.has(seg) || seg === 'blocks') {
      const j = i + 2;
      if (j + 1 < segments.length && (segments[j] === 'blocks' || segments[j] === 'block') && INDEX.test(segments[j + 1])) {
        return { stack: stackOf(), stage: first, block: Number(segments[j + 1]), blockKey: keyOf(j + 1), restStart: j + 2 };
      }
      if (seg === 'blocks' && j < segments.length - 1 && INDEX.test(segments[j])) {
        return { stack: stackOf(), stage: first, block: Number(segments[j]), blockKey: keyOf(j), restStart: j + 1 };
      }
      if (seg === 'stages' || seg === 'stage') {
        // A stage's own tensors (ConvNeXt downsampling: stages.1.downsample.1.weight).
        return { stack: stackOf(), stage: first, block: null, blockKey: keyOf(i + 1), restStart: i + 2 };
      }
    }
    return { stack: stackOf(), stage: null, block: first, blockKey: keyOf(i + 1), restStart: i + 2 };
  }
  return { stack: null, stage: null, block: null, blockKey: null, restStart: wrap };
}

function stackName(segments: string[]): string | null {
  const named = segments.filter((s) => !WRAPPERS.has(s));
  return named.length ? named.join('.') : null;
}

// ---- kind ----------------------------------------------------------------------------------------

interface KindResult {
  kind: TensorKind;
  bias: boolean;
  cross: boolean;
}

const EMBED = new Set([
  'embed_tokens',
  'wte',
  'word_embeddings',
  'tok_embeddings',
  'embed_in',
  'shared',
  'token_embedding',
  'token_embeddings',
  'tok_emb',
  'embed',
  'embedding',
  'embeddings',
  'token_type_embeddings',
  'cls_token',
  'dist_token',
  'mask_token',
  'patch_embed',
  'patch_embedding',
  'conv_proj',
]);
const POS_EMBED = new Set([
  'wpe',
  'position_embeddings',
  'embed_positions',
  'pos_embed',
  'pos_embedding',
  'pos_emb',
  'positional_embedding',
  'position_embedding',
  'relative_attention_bias',
  'absolute_pos_embed',
  'relative_position_bias_table',
]);
const HEAD = new Set([
  'lm_head',
  'head',
  'heads',
  'classifier',
  'output',
  'embed_out',
  'score',
  'qa_outputs',
  'pooler',
  'cls',
  'last_linear',
  'logits',
  'fc',
  'final_logits_bias',
]);
const Q = new Set(['q_proj', 'query', 'q', 'wq', 'to_q', 'q_lin', 'query_proj']);
const K = new Set(['k_proj', 'key', 'k', 'wk', 'to_k', 'k_lin', 'key_proj']);
const V = new Set(['v_proj', 'value', 'v', 'wv', 'to_v', 'v_lin', 'value_proj']);
const QKV = new Set(['qkv_proj', 'c_attn', 'qkv', 'query_key_value', 'w_pack', 'wqkv', 'in_proj', 'qkv_lin']);
const O = new Set(['o_proj', 'out_proj', 'o', 'wo', 'out_lin', 'to_out', 'proj', 'c_proj', 'dense', 'out', 'output']);
const GATE = new Set(['gate_proj', 'wi_0', 'gate', 'w1', 'w_gate']);
const UP = new Set(['up_proj', 'wi_1', 'up', 'w3', 'w_up']);
const DOWN = new Set(['down_proj', 'w2', 'w_down']);
const GATE_UP = new Set(['gate_up_proj', 'w13', 'gate_up']);
const FC1 = new Set(['fc1', 'c_fc', 'fc_in', 'dense_h_to_4h', 'wi', 'fc', 'lin1', 'linear_fc1', 'linear1', 'proj_in', 'dense']);
const FC2 = new Set(['fc2', 'c_proj', 'fc_out', 'dense_4h_to_h', 'wo', 'proj', 'lin2', 'linear_fc2', 'linear2', 'proj_out', 'dense']);

// Unambiguous MLP projections (also directly in a block: BART/OPT fc1, torch TransformerEncoderLayer linear1).
const FC1_NAMES = new Set(['fc1', 'c_fc', 'fc_in', 'dense_h_to_4h', 'lin1', 'linear_fc1', 'linear1']);
const FC2_NAMES = new Set(['fc2', 'fc_out', 'dense_4h_to_h', 'lin2', 'linear_fc2', 'linear2']);

const NORM =
  /(?:^|_)(?:layer_?norm|layernorm|rms_?norm|norm|ln|bn|batch_?norm|group_?norm)(?:_?\d+)?$|^ln_?[a-z\d]*$|^norm[a-z\d]*$|^bn\d*$|norm$/i;

function kindOf(rest: string[], before: string[], place: Place, shape: readonly number[] | null): KindResult {
  const all = [...before, ...rest];
  const last = rest[rest.length - 1] ?? all[all.length - 1] ?? '';
  // The parameter's own name: weight/bias (and norms' old gamma/beta), or a bare parameter (cls_token, in_proj_weight).
  let bias = false;
  let moduleIdx = rest.length - 1;
  if (/^(?:weight|bias|gamma|beta|scale|g)$/.test(last) && rest.length > 1) {
    bias = last === 'bias' || last === 'beta';
    moduleIdx = rest.length - 2;
  } else if (/_bias$/.test(last) && !POS_EMBED.has(last)) {
    bias = true;
  }
  let module = (rest[moduleIdx] ?? last).toLowerCase();
  // Unnamed Sequential members (to_out.0, downsample.1, stem.0, mlp.0): the container names them.
  let containerIdx = moduleIdx - 1;
  if (INDEX.test(module) && moduleIdx > 0) {
    module = rest[moduleIdx - 1].toLowerCase();
    containerIdx = moduleIdx - 2;
  }
  if (module === 'in_proj_weight' || module === 'in_proj_bias') module = 'in_proj';
  const ctx = rest.slice(0, Math.max(0, containerIdx + 1)).map((s) => s.toLowerCase());
  const cross = ctx.some((c) => CROSS_CONTEXT.test(c));
  const inAttention = ctx.some((c) => ATTENTION_CONTEXT.test(c));
  const inMlp = ctx.some((c) => MLP_CONTEXT.test(c));
  const inBlock = place.blockKey !== null;
  const r = (kind: TensorKind, crossKind = false): KindResult => ({ kind, bias, cross: crossKind });

  // Buffers a state dict may hold next to parameters (rotary frequencies, BN statistics): not a kind.
  if (/^(?:inv_freq|running_mean|running_var|num_batches_tracked|position_ids|masked_bias)$/.test(last)) return r('other');

  if (POS_EMBED.has(module) || POS_EMBED.has(last)) return r('pos_embed');
  if (/^(?:q|k|query|key)_?(?:norm|layernorm|ln)$|^norm_[qk]$/.test(module)) return r('qk_norm');
  if (NORM.test(module) && !/^(?:norm_out|proj|fc)$/.test(module)) {
    const norm = normKind(module, ctx, place, inAttention, inMlp);
    return r(norm.kind, cross || norm.cross);
  }
  if (!inBlock && (EMBED.has(module) || ctx.some((c) => c === 'patch_embed' || c === 'embeddings' || c === 'patch_embedding')))
    return r('embed');
  if (!inBlock && (HEAD.has(module) || HEAD.has((rest[0] ?? '').toLowerCase()))) return r('head');

  if (inAttention || (!inMlp && (Q.has(module) || K.has(module) || V.has(module) || QKV.has(module)))) {
    if (Q.has(module)) return r('q', cross);
    if (K.has(module)) return r('k', cross);
    if (V.has(module)) return r('v', cross);
    if (QKV.has(module)) return r('qkv', cross);
    if (inAttention && O.has(module)) return r('o', cross);
  }
  if (GATE_UP.has(module)) return r('gate_up');
  if (inMlp || inBlock) {
    if (module === 'w1' || module === 'w3' || module === 'w2') {
      // Meta's Llama feed_forward.w1/w3/w2 are gate/up/down; elsewhere (timm SwiGLU packed w12) not a kind.
      return r(module === 'w1' ? 'gate' : module === 'w3' ? 'up' : 'down');
    }
    // A mixture of experts' router (Mixtral block_sparse_moe.gate, Qwen-MoE/DeepSeek mlp.gate) is no projection.
    if (module === 'gate' && !ctx.includes('experts') && ctx.some((c) => /^(?:block_sparse_moe|moe|mlp)$/.test(c))) return r('other');
    if (GATE.has(module)) return r('gate');
    if (UP.has(module)) return r('up');
    if (DOWN.has(module)) return r('down');
    // BERT: intermediate.dense expands, output.dense contracts (attention.output.dense is o, above).
    if (module === 'dense' && ctx.includes('intermediate')) return r('fc1');
    if (module === 'dense' && ctx.includes('output')) return r('fc2');
    if ((module === 'mlp' || module === 'ffn' || module === 'ff') && INDEX.test(rest[moduleIdx] ?? '')) {
      // nn.Sequential MLPs (mlp.0 expands, mlp.2 contracts).
      return r(Number(rest[moduleIdx]) === 0 ? 'fc1' : 'fc2');
    }
    if (FC1_NAMES.has(module) || (inMlp && FC1.has(module) && module !== 'dense' && module !== 'proj')) return r('fc1');
    if (FC2_NAMES.has(module) || (inMlp && FC2.has(module) && module !== 'dense')) return r('fc2');
  }
  if (
    /^(?:conv|conv\d+|conv_dw|conv_pw|conv_pwl|conv_stem|conv_head|dwconv|pwconv\d*|depthwise_conv|pointwise_conv\d*|downsample|stem|shortcut)$/.test(
      module,
    )
  ) {
    return r(shape && shape.length === 1 && !bias ? 'norm' : 'conv');
  }
  if (shape && shape.length >= 3) return r('conv');
  if (!inBlock && EMBED.has(module)) return r('embed');
  return r('other');
}

function normKind(module: string, ctx: string[], place: Place, inAttention: boolean, inMlp: boolean): { kind: TensorKind; cross: boolean } {
  const kind = (k: TensorKind, cross = false) => ({ kind: k, cross });
  if (place.blockKey === null || place.block === null) return kind('norm');
  if (/^(?:encoder_attn_layer_norm|cross_attn_layer_norm|cross_attention_layernorm)$/.test(module)) return kind('attn_norm', true);
  if (
    /^(?:input_layernorm|ln_?1|norm_?1|layer_norm_?1|attention_norm|attn_norm|self_attn_layer_norm|sa_layer_norm|pre_attention_layernorm|operator_norm|attention_layernorm|layernorm_before|ln_attn)$/.test(
      module,
    )
  ) {
    return kind('attn_norm');
  }
  if (
    /^(?:post_attention_layernorm|ln_?2|norm_?2|layer_norm_?2|ffn_norm|mlp_norm|final_layer_norm|output_layer_norm|pre_feedforward_layernorm|post_feedforward_layernorm|layernorm_after|ln_mlp|ffn_layer_norm)$/.test(
      module,
    )
  ) {
    return kind('mlp_norm');
  }
  // BERT: attention.output.LayerNorm (after attention), output.LayerNorm (after the MLP).
  if (inAttention) return kind('attn_norm');
  if (inMlp || ctx.includes('output')) return kind('mlp_norm');
  // T5: block.N.layer.K.layer_norm — K = 0 self-attention, then cross-attention in the decoder, the MLP last.
  const sub = ctx.length >= 2 && ctx[0] === 'layer' && INDEX.test(ctx[1]) ? Number(ctx[1]) : null;
  if (sub !== null) {
    if (sub === 0) return kind('attn_norm');
    const decoder = (place.stack ?? '').split('.').includes('decoder');
    return decoder && sub === 1 ? kind('attn_norm', true) : kind('mlp_norm');
  }
  return kind('norm');
}
