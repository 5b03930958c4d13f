// W&B `wandb-summary.json` (in a run's `files/` folder): one JSON object holding the last logged value of
// every key, `_step`, `_runtime`, `_timestamp` and the `_wandb` bookkeeping. It is not a series: its
// values are read as one record at its `_step` (what a run's history would give at that step), and the
// input is reported as a summary so nobody takes it for the run's history.

import { promises as fsp } from 'node:fs';
import type { ReadOptions, Reader } from './reader';
import type { RunData } from '../run/types';
import { ReaderError } from '../errors';
import { fsError } from '../io/fileBytes';
import { parseJsonTolerant, ScalarRecordSink } from './scalarRecords';

export const WANDB_SUMMARY_FORMAT = 'wandb-summary';

/** A summary is a few keys per logged metric; refuse absurd sizes (it is read whole). */
const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

export async function readWandbSummary(path: string, options: ReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  let text: string;
  try {
    const st = await fsp.stat(path);
    if (st.size > MAX_SUMMARY_BYTES)
      throw new ReaderError(path, `${st.size} bytes is too large for a wandb-summary.json (limit ${MAX_SUMMARY_BYTES})`);
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    throw fsError(path, err);
  }
  let doc: unknown;
  try {
    doc = parseJsonTolerant(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ReaderError(path, `invalid JSON (${(err as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ReaderError(path, 'not a JSON object');
  const sink = new ScalarRecordSink(path, WANDB_SUMMARY_FORMAT);
  const rec = doc as Record<string, unknown>;
  const keys = Object.keys(rec).filter((k) => !k.startsWith('_')).length;
  if ('_step' in rec) sink.addJsonRecord(rec, 0, ['_step']);
  const data = sink.finish();
  const step = typeof rec._step === 'number' ? ` at step ${rec._step}` : '';
  data.seen![0].kind = 'wandb-summary';
  data.seen![0].note = `W&B run summary: the last value of ${keys} key${keys === 1 ? '' : 's'}${step}, not a series; the run's history is wandb-history.jsonl (older runs) or run.history()`;
  return data;
}

export const wandbSummaryReader: Reader = {
  format: WANDB_SUMMARY_FORMAT,
  detect(path: string): boolean {
    return /(^|[\\/])wandb-summary\.json$/.test(path);
  },
  read: readWandbSummary,
};
