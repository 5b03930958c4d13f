// Run-naming rules for steps: which optimizer step a file or folder name states. Shared by every reader
// (tensor dumps, checkpoints, HF checkpoint folders) and discovery.

/** Step number from a file or folder name: step_000010.npz, checkpoint-60, model_step000120.pt, epoch=1-step=120.ckpt. */
export function stepFromName(name: string): number | null {
  const base = name.split(/[\\/]/).filter(Boolean).pop() ?? name;
  // Shard numbers are not steps: model-00001-of-00002.safetensors.
  if (/\d+-of-\d+/.test(base)) return null;
  const m =
    /(?:^|[^a-z])step[_=-]?(\d+)/i.exec(base) ??
    /^checkpoint-(\d+)$/.exec(base) ??
    /(?:^|[_-])(\d+)\.(?:npz|npy|safetensors|pt|pth|bin|ckpt)$/.exec(base);
  return m ? Number(m[1]) : null;
}

/**
 * The step a tensor file's path states: its base name (step_000010.npz), else its folder
 * (checkpoint-60/model.safetensors). Shard names (model-00001-of-00002.safetensors) state no step in
 * their numbers, so only the folder counts for them.
 */
export function stepFromFilePath(path: string): number | null {
  const parts = path.split(/[\\/]/).filter(Boolean);
  const base = parts.pop() ?? path;
  const parent = parts.pop();
  const shard = /-\d+-of-\d+\.[A-Za-z]+$/.test(base);
  const own = shard ? null : stepFromName(base);
  if (own !== null) return own;
  return parent !== undefined ? stepFromName(parent) : null;
}
