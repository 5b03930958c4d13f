// Hugging Face Trainer `trainer_state.json` (in every `checkpoint-N/` folder).
// `log_history` entries become whole-model globals per step:
//   loss → loss (the mean over the last `logging_steps` steps, rounded to 4 decimals by the Trainer),
//   learning_rate → lr, grad_norm → gradNorm (the global gradient norm, before clipping),
//   eval_loss → evalLoss, eval_accuracy → evalAcc, epoch → epoch.
// The end-of-training summary entry (train_loss, train_runtime, total_flos, …) is not a per-step value and
// is skipped. There are no per-layer figures in this file: that is reported faithfully, not filled in.
// Python writes NaN / Infinity for a diverged run; those are accepted and reported as non-finite.

import { promises as fsp } from 'node:fs';
import type { ReadOptions, Reader } from './reader';
import type { RunData } from '../run/types';
import { ReaderError } from '../errors';
import { fsError } from '../io/fileBytes';
import { parseJsonTolerant, ScalarRecordSink, toStep } from './scalarRecords';

export const HF_TRAINER_STATE_FORMAT = 'hf-trainer-state';

/** trainer_state.json is read whole (it is small: a few entries per logging step); refuse absurd sizes. */
export const MAX_TRAINER_STATE_BYTES = 256 * 1024 * 1024;

const ENTRY_KEYS: Readonly<Record<string, string>> = Object.freeze({
  loss: 'loss',
  learning_rate: 'lr',
  grad_norm: 'gradNorm',
  eval_loss: 'evalLoss',
  eval_accuracy: 'evalAcc',
  epoch: 'epoch',
});

export interface TrainerState {
  data: RunData;
  /** `global_step`: the optimizer steps done when the checkpoint was saved; null if absent. */
  globalStep: number | null;
  maxSteps: number | null;
  loggingSteps: number | null;
  /** Number of `log_history` entries. */
  entries: number;
}

/** Read a trainer_state.json with its step counters. Throws ReaderError when the file is not one. */
export async function readTrainerState(path: string, options: ReadOptions = {}): Promise<TrainerState> {
  options.signal?.throwIfAborted();
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) throw new ReaderError(path, 'not a regular file');
    if (st.size > MAX_TRAINER_STATE_BYTES) {
      throw new ReaderError(path, `${st.size} bytes is too large for a trainer_state.json (limit ${MAX_TRAINER_STATE_BYTES})`);
    }
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    throw fsError(path, err);
  }
  options.onProgress?.(0.5);
  let doc: unknown;
  try {
    doc = parseJsonTolerant(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? { line: lineOf(text, Number(pos[1])) } : {};
    throw new ReaderError(path, `invalid JSON (${msg})`, where);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ReaderError(path, 'not a JSON object');
  const state = doc as Record<string, unknown>;
  if (!Array.isArray(state.log_history)) throw new ReaderError(path, 'no log_history array: not a Hugging Face trainer_state.json');

  const sink = new ScalarRecordSink(path, HF_TRAINER_STATE_FORMAT);
  const history = state.log_history as unknown[];
  history.forEach((entry, index) => {
    const where = `log_history[${index}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      sink.issue('not-object', 'warning', `${where} is not an object; skipped`);
      return;
    }
    const e = entry as Record<string, unknown>;
    if ('train_runtime' in e || 'total_flos' in e) return; // end-of-training summary, not a step's values
    const step = toStep(e.step);
    if (step === null) {
      sink.issue('bad-step', 'warning', `${where} has no integer step (${JSON.stringify(e.step) ?? 'missing'}); skipped`);
      return;
    }
    let stored = false;
    for (const [k, key] of Object.entries(ENTRY_KEYS)) {
      if (!(k in e)) continue;
      if (sink.globalValue(step, key, e[k], 0, `${where}.${k}`)) stored = true;
    }
    if (stored) sink.usableRecords++;
  });
  const data = sink.finish();
  options.onProgress?.(1);
  return {
    data,
    globalStep: toStep(state.global_step),
    maxSteps: toStep(state.max_steps),
    loggingSteps: toStep(state.logging_steps),
    entries: history.length,
  };
}

export const hfTrainerStateReader: Reader = {
  format: HF_TRAINER_STATE_FORMAT,
  detect(path: string): boolean {
    return /(^|[\\/])trainer_state\.json$/.test(path);
  },
  async read(path: string, options?: ReadOptions): Promise<RunData> {
    return (await readTrainerState(path, options)).data;
  },
};

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
