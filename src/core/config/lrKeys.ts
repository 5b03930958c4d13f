// Which keys are learning rates, by a rule rather than a list: a key whose last word is `lr` or `learning rate`
// (any case; `-`, `_`, `.`, space and camelCase separate words), minus the few such words that are not rates
// (`decay_lr: True`, `scale_lr`, …). The words before it say the role: `min`/`final`/`end` → the schedule's
// floor, `warmup`+`init`/`start`/`min`, `warmup` alone or with a group's name (`warmup_bias_lr`) → where the
// warmup starts, `base`/`max`/`peak`/`initial`
// → the main lr, anything else names a parameter group (`text_encoder_lr`, `actor_learning_rate`,
// Megatron's `--decoupled-lr`). Keys like `lr_scheduler`, `lr_decay_style`, `lr_warmup_fraction`, `min_lr_ratio`
// end in another word and are not rates by the same rule.
import type { LrRole } from './types';

/** Split a key into lower-case words: `BASE_LR` → base lr, `textEncoderLR` → text encoder lr, `--min-lr` → min lr. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Keys whose last word is lr but that are not a rate: flags and switches (nanoGPT `decay_lr`, diffusers `--scale_lr`). */
export const NOT_LR_KEYS = new Set([
  'decay lr',
  'scale lr',
  'find lr',
  'auto lr',
  'use lr',
  'auto scale lr',
  'no decay lr',
  'layerwise lr',
]);

/** lr keys that do not end in lr: schedule floors (torch CosineAnnealingLR eta_min, timm lr_min, HF lr_end). */
const FLOOR_KEYS = new Set(['eta min', 'lr min', 'lr end', 'lr final']);

/** Words before `lr` that only qualify the main lr. */
const MAIN_WORDS = new Set([
  'base',
  'max',
  'peak',
  'initial',
  'init',
  'default',
  'global',
  'main',
  'target',
  'learning',
  'optimizer',
  'optim',
  'opt',
  'train',
  'training',
  'the',
]);
const FLOOR_WORDS = new Set(['min', 'minimum', 'final', 'end', 'floor', 'last', 'lowest']);
const WARMUP_START_WORDS = new Set(['init', 'initial', 'start', 'begin', 'min', 'minimum']);

export interface LrKey {
  role: LrRole;
  /** Parameter group named by the key's words (role 'group'). */
  group?: string;
  label: string;
}

/** A group's name as said: Megatron's decoupled lr is the embedding and output layers'. */
function groupName(words: string[]): string {
  const g = words.join(' ');
  return g === 'decoupled' ? 'embedding/output (decoupled)' : g;
}

function groupLrLabel(group: string): string {
  return group === 'embedding/output (decoupled)' ? 'embedding/output lr (decoupled)' : `${group.replace(/ /g, '-')} lr`;
}

/**
 * The role of a key that is a learning rate, or null when it is not one. `lr0` (Ultralytics' initial lr) is the
 * main lr; `lrf` (its final lr as a fraction of lr0) is not a rate and is read with lr0 by the classifier.
 */
export function lrKey(key: string): LrKey | null {
  let v = memo.get(key);
  if (v === undefined) {
    v = classify(key);
    if (memo.size >= 20_000) memo.clear();
    memo.set(key, v);
  }
  return v;
}
// Keys repeat within a file and across the re-scans of a document being edited: each is classified once (the
// results are shared, so callers copy what they change).
const memo = new Map<string, LrKey | null>();

function classify(key: string): LrKey | null {
  const words = keyWords(key);
  const n = words.length;
  if (!n) return null;
  const joined = words.join(' ');
  if (NOT_LR_KEYS.has(joined)) return null;
  if (FLOOR_KEYS.has(joined)) return { role: 'floor', label: 'schedule floor' };
  if (joined === 'lr0') return { role: 'main', label: 'lr' };
  let prefix: string[];
  if (words[n - 1] === 'lr') prefix = words.slice(0, -1);
  else if (n >= 2 && words[n - 1] === 'rate' && words[n - 2] === 'learning') prefix = words.slice(0, -2);
  else return null;
  const warmup = prefix.includes('warmup');
  const rest = prefix.filter((w) => w !== 'warmup');
  if (warmup) {
    if (rest.some((w) => w === 'max' || w === 'peak' || w === 'target')) return { role: 'main', label: 'lr' };
    if (rest.length === 0 || rest.some((w) => WARMUP_START_WORDS.has(w))) return { role: 'warmup-start', label: 'warmup start lr' };
    // Ultralytics' warmup_bias_lr: where the bias group's warmup starts, not a group's lr for the run.
    const g = groupName(rest.filter((w) => !MAIN_WORDS.has(w)));
    if (g) return { role: 'warmup-start', group: g, label: `${g} warmup start lr` };
  }
  const floor = rest.some((w) => FLOOR_WORDS.has(w));
  const named = rest.filter((w) => !MAIN_WORDS.has(w) && !FLOOR_WORDS.has(w) && !WARMUP_START_WORDS.has(w));
  if (floor)
    return named.length
      ? { role: 'floor', group: groupName(named), label: `${groupName(named)} schedule floor` }
      : { role: 'floor', label: 'schedule floor' };
  if (!named.length) return { role: 'main', label: 'lr' };
  const group = groupName(named);
  return { role: 'group', group, label: groupLrLabel(group) };
}
