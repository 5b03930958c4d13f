// named_parameters() order reconstructed from parameter names, for files that do not keep it (a PEFT
// adapter_model.safetensors: safetensors sorts its header by name). Modules register their children in
// definition order, which names alone do not say; this orders sibling names by layer number, then by
// the definition order of the modules common models define (attention q/k/v/o before the output, gate
// before up before down, LoRA's base_layer before lora_A before lora_B), then alphabetically. The
// mapping that uses it checks every shape and says the order was inferred.

/** Sibling module names in the order common model definitions register them (earlier first). */
const DEFINITION_ORDER = [
  'embed_tokens',
  'wte',
  'wpe',
  'embeddings',
  'word_embeddings',
  'position_embeddings',
  'token_type_embeddings',
  'model',
  'transformer',
  'encoder',
  'decoder',
  'h',
  'layers',
  'layer',
  'block',
  'ln_1',
  'self_attn',
  'attention',
  'attn',
  'SelfAttention',
  'self',
  'c_attn',
  'qkv_proj',
  'Wqkv',
  'in_proj',
  'q_proj',
  'k_proj',
  'v_proj',
  'query',
  'key',
  'value',
  'q',
  'k',
  'v',
  'o_proj',
  'out_proj',
  'o',
  'dense',
  'LayerNorm',
  'ln_2',
  'intermediate',
  'output',
  'mlp',
  'feed_forward',
  'ffn',
  'DenseReluDense',
  'input_layernorm',
  'post_attention_layernorm',
  'gate_proj',
  'up_proj',
  'down_proj',
  'c_fc',
  'c_proj',
  'fc1',
  'fc2',
  'w1',
  'w2',
  'w3',
  'wi',
  'wo',
  'dense_h_to_4h',
  'dense_4h_to_h',
  'norm',
  'ln_f',
  'final_layer_norm',
  'lm_head',
  'base_layer',
  'lora_A',
  'lora_B',
  'lora_embedding_A',
  'lora_embedding_B',
  'lora_magnitude_vector',
];
const RANK = new Map(DEFINITION_ORDER.map((n, i) => [n, i] as const));

function compareSegments(a: string, b: string): number {
  if (a === b) return 0;
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  const ra = RANK.get(a);
  const rb = RANK.get(b);
  if (ra !== undefined && rb !== undefined) return ra - rb;
  return a < b ? -1 : 1;
}

/** Compare two dotted parameter names in the inferred named_parameters() order. */
export function compareParameterNames(a: string, b: string): number {
  const sa = a.split('.');
  const sb = b.split('.');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const c = compareSegments(sa[i], sb[i]);
    if (c !== 0) return c;
  }
  return sa.length - sb.length;
}

/** True for the keys of a PEFT LoRA/DoRA adapter (`…q_proj.lora_A.weight`). */
export function isAdapterKey(key: string): boolean {
  return /\.lora_(?:A|B|embedding_A|embedding_B|magnitude_vector)(?:\.|$)/.test(key);
}
