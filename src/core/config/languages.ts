// Which files the config scanner reads, by name and VS Code language id. No parser imports: the extension
// decides with this module whether a document is a config before it loads the scanners (activation).
import { basename, extname } from 'node:path';
import type { ConfigLanguage } from './types';

/** Language of a path by extension; null when not a config format we scan. */
export function configLanguageOf(path: string): ConfigLanguage | null {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.yaml':
    case '.yml':
      return 'yaml';
    case '.json':
      return 'json';
    case '.jsonc':
    case '.json5':
      return 'jsonc';
    case '.toml':
      return 'toml';
    case '.py':
      return 'python';
    case '.sh':
    case '.bash':
      return 'shell';
    default:
      return null;
  }
}

/** VS Code language id → scanner language (null: not scanned). */
export function configLanguageOfId(languageId: string, path: string): ConfigLanguage | null {
  switch (languageId) {
    case 'yaml':
      return 'yaml';
    case 'json':
      return 'json';
    case 'jsonc':
      return 'jsonc';
    case 'python':
      return 'python';
    case 'toml':
      return 'toml';
    case 'shellscript':
      return 'shell';
    default:
      return configLanguageOf(path);
  }
}

/**
 * Training logs written as JSON/YAML that are not configs, by file name: Hugging Face Trainer's
 * `trainer_state.json` (its log_history repeats the scheduled learning rate once per logging step).
 */
export const TRAINING_LOG_NAMES = new Set(['trainer_state.json']);

/**
 * JSON files next to a model that are data, not settings (tokenizer vocabularies and merges, the weight map of a
 * sharded checkpoint): tens of thousands of entries and never a learning rate.
 */
const MODEL_DATA_NAMES = new Set(['tokenizer.json', 'vocab.json', 'added_tokens.json', 'special_tokens_map.json', 'merges.json']);

/** Why a path is not read as a config although its extension is one (null: it is read). */
export function notAConfigByName(path: string): string | null {
  const name = basename(path).toLowerCase();
  if (TRAINING_LOG_NAMES.has(name)) return `${basename(path)} is a training log (Hugging Face Trainer state), not a config`;
  if (MODEL_DATA_NAMES.has(name)) return `${basename(path)} is tokenizer data, not a config`;
  if (name.endsWith('.index.json')) return `${basename(path)} is the weight map of a sharded checkpoint, not a config`;
  return null;
}
