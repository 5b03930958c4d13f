// Format by content, for files whose name no reader claims: a TFRecord event file not named
// `events.out.tfevents.*` (CatBoost writes `events.out.tfevents` without the suffix, other tools their
// own names), JSON Lines named `.json` (detectron2's `metrics.json`), a torch.save zip or legacy pickle
// with an unusual extension. A file that is none of these gets a reason, for the "skipped" list.

import type { Reader } from './reader';
import { crc32c, maskCrc32c } from '../io/crc32c';
import { tfeventsReader } from './tfevents/reader';
import { torchReader } from './torch/reader';
import { npzReader } from './npz';
import { jsonlReader } from './jsonl';
import { parseJsonTolerant } from './scalarRecords';
import { STEP_KEYS } from '../run/scalarTags';

export type Sniffed = { reader: Reader } | { reason: string };

/** Bytes read to recognise JSON Lines: a detectron2 line is ~0.5–2 KB; one whole line must fit. */
export const SNIFF_BYTES = 16 * 1024;

// Event.wall_time (1, fixed64), step (2, varint), file_version (3, bytes), summary (5, bytes): the field
// keys an Event record starts with.
const EVENT_FIRST_KEYS = new Set([0x09, 0x10, 0x1a, 0x2a]);
// torch.save's legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2).
const LEGACY_TORCH_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

const CONFIG_RE = /\.(ya?ml|toml|cfg|ini|py|sh|ipynb)$/i;
const IMAGE_RE = /\.(png|jpe?g|gif|svg|bmp|webp|pdf)$/i;

/**
 * What `path` is, from its first bytes (`head`, up to 64) and, for text that starts like JSON, up to
 * SNIFF_BYTES more (`more`). Never reads the whole file.
 */
export function sniffFormat(path: string, head: Uint8Array, more: (n: number) => Uint8Array): Sniffed {
  if (head.length === 0) return { reason: 'empty file' };
  if (isTfRecordEvent(head)) return { reader: tfeventsReader };
  if (head.length >= 30 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    const name = firstZipEntry(more(512));
    if (name !== null && /(^|\/)(data\.pkl|\.format_version|version|byteorder)$/.test(name)) return { reader: torchReader };
    if (name !== null && /\.npy$/.test(name)) return { reader: npzReader };
    return { reason: `a zip archive that is neither a torch.save checkpoint nor an .npz (first entry ${JSON.stringify(name ?? '?')})` };
  }
  if (LEGACY_TORCH_MAGIC.every((b, i) => head[i] === b)) return { reader: torchReader };
  if (IMAGE_RE.test(path)) return { reason: 'an image or document' };
  if (CONFIG_RE.test(path)) return { reason: 'a config or script (`optimizer-lens lint` checks training configs)' };
  if (!looksLikeText(head)) return { reason: 'binary, not a format Optimizer Lens reads' };
  const first = head.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf);
  if (first === 0x7b && isJsonLines(more(SNIFF_BYTES))) return { reader: jsonlReader };
  if (first === 0x7b || first === 0x5b) return { reason: 'a JSON document, not JSON Lines with a step field nor a log format read' };
  return { reason: 'text, not JSON Lines, CSV or another log format read' };
}

/** A TFRecord whose first record's length CRC matches and whose payload starts like an Event. */
function isTfRecordEvent(head: Uint8Array): boolean {
  if (head.length < 13) return false;
  const stored = (head[8]! | (head[9]! << 8) | (head[10]! << 16) | (head[11]! << 24)) >>> 0;
  if (maskCrc32c(crc32c(head, 0, 8)) !== stored) return false;
  return EVENT_FIRST_KEYS.has(head[12]!);
}

/** The file name of a zip's first local header, or null. */
function firstZipEntry(b: Uint8Array): string | null {
  if (b.length < 30) return null;
  const n = b[26]! | (b[27]! << 8);
  if (30 + n > b.length) return null;
  return new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(30, 30 + n));
}

function looksLikeText(head: Uint8Array): boolean {
  for (const b of head) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) return false;
  return true;
}

/**
 * JSON Lines: the first line is a complete JSON object, and either another line follows that starts with
 * `{`, or the object has a step field (a one-line log). A pretty-printed JSON document fails the first test.
 */
function isJsonLines(bytes: Uint8Array): boolean {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  const complete = lines.length > 1 ? lines.slice(0, -1) : bytes.length < SNIFF_BYTES ? lines : [];
  const nonEmpty = complete.map((l) => l.trim()).filter((l) => l !== '');
  if (nonEmpty.length === 0) return false;
  let rec: unknown;
  try {
    rec = parseJsonTolerant(nonEmpty[0]!);
  } catch {
    return false;
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return false;
  if (nonEmpty.length > 1 && nonEmpty[1]!.startsWith('{')) return true;
  return STEP_KEYS.some((k) => k in (rec as object));
}
