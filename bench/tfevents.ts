// Bench: TensorBoard event-file reading speed on a scalar-heavy file (the common large case: per-layer
// scalars every step). Generates bench/.data/scalars.tfevents (~400 MB, gitignored) once, by writing the
// TFRecords directly, then measures three levels:
//   framing  — TFRecord framing + both CRC-32Cs over every record (scanRecords, no decoding)
//   decode   — framing + Event/Summary decoding into a no-op visitor (tags decoded to strings)
//   rundata  — the full reader: tags mapped through tags.ts into RunData observations/globals
// Run alone: `node --import tsx bench/tfevents.ts` (the lead's bench/run.ts calls benchTfevents()).

import { existsSync, mkdirSync, openSync, writeSync, closeSync, statSync, renameSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { crc32c, maskCrc32c } from '../src/core/io/crc32c';
import { scanRecords } from '../src/core/readers/tfevents/framing';
import { EventDecoder } from '../src/core/readers/tfevents/events';
import { readTfeventsFile } from '../src/core/readers/tfevents/reader';
import type { ReadIssue } from '../src/core/run/types';
import { IssueLimiter } from '../src/core/run/issueLimit';

export interface TfeventsBenchResult {
  name: string;
  mbPerSec: number;
  bytes: number;
  seconds: number;
  records: number;
  /** Same throughput over this process's CPU time (user + system): less sensitive to other load. */
  cpuMbPerSec: number;
  /** 1-minute load average when measured (the machine has os.cpus().length cores). */
  loadAverage: number;
  note?: string;
}

const DATA_DIR = resolve(__dirname, '.data');
const TARGET_BYTES = Number(process.env.OL_BENCH_TFEVENTS_MB ?? 400) * 1024 * 1024;
const FILE = join(DATA_DIR, `events.out.tfevents.1717200000.bench-scalars-${TARGET_BYTES}`);

/** A llama-like layer list: 32 blocks × 9 tensors + embeddings and head (290 layers). */
function layerNames(): string[] {
  const out = ['model.embed_tokens.weight'];
  for (let b = 0; b < 32; b++) {
    for (const t of [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
      'mlp.down_proj',
    ]) {
      out.push(`model.layers.${b}.${t}.weight`);
    }
    out.push(`model.layers.${b}.input_layernorm.weight`, `model.layers.${b}.post_attention_layernorm.weight`);
  }
  out.push('model.norm.weight', 'lm_head.weight');
  return out;
}

function writeVarint(buf: Buffer, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Write one scalar Event record (wall_time, step, summary{value{tag, simple_value}}) at buf[p]; returns the new p. */
function writeScalarRecord(buf: Buffer, p: number, tag: Buffer, step: number, value: number, wallTime: number): number {
  const valueLen = 1 + varintLen(tag.length) + tag.length + 5;
  const summaryLen = 1 + varintLen(valueLen) + valueLen;
  const eventLen = 9 + 1 + varintLen(step) + 1 + varintLen(summaryLen) + summaryLen;
  buf.writeUInt32LE(eventLen, p);
  buf.writeUInt32LE(0, p + 4);
  buf.writeUInt32LE(maskCrc32c(crc32c(buf, p, p + 8)), p + 8);
  p += 12;
  const d = p;
  buf[p++] = 0x09;
  buf.writeDoubleLE(wallTime, p);
  p += 8;
  buf[p++] = 0x10;
  p = writeVarint(buf, p, step);
  buf[p++] = 0x2a;
  p = writeVarint(buf, p, summaryLen);
  buf[p++] = 0x0a;
  p = writeVarint(buf, p, valueLen);
  buf[p++] = 0x0a;
  p = writeVarint(buf, p, tag.length);
  tag.copy(buf, p);
  p += tag.length;
  buf[p++] = 0x15;
  buf.writeFloatLE(value, p);
  p += 4;
  if (p - d !== eventLen) throw new Error('bench encoder length mismatch');
  buf.writeUInt32LE(maskCrc32c(crc32c(buf, d, p)), p);
  return p + 4;
}

/** Generate the bench file once (kept in bench/.data/); returns its path. */
export function ensureScalarFile(target = TARGET_BYTES, file = FILE): string {
  if (existsSync(file) && statSync(file).size >= target) return file;
  mkdirSync(DATA_DIR, { recursive: true });
  const layers = layerNames();
  const metrics = ['param_rms', 'grad_rms', 'update_rms', 'rel_step', 'adam_u_rms'];
  const tags = layers.flatMap((l) => metrics.map((m) => Buffer.from(`${m}/${l}`)));
  const globals = ['train/loss', 'train/lr', 'train/grad_norm'].map((t) => Buffer.from(t));
  const tmp = `${file}.partial`;
  const fd = openSync(tmp, 'w');
  const buf = Buffer.alloc(8 * 1024 * 1024);
  let p = 0;
  let written = 0;
  const flush = () => {
    writeSync(fd, buf, 0, p);
    written += p;
    p = 0;
  };
  // file_version event
  const fv = Buffer.from('brain.Event:2');
  const fvLen = 9 + 2 + fv.length;
  buf.writeUInt32LE(fvLen, 0);
  buf.writeUInt32LE(0, 4);
  buf.writeUInt32LE(maskCrc32c(crc32c(buf, 0, 8)), 8);
  buf[12] = 0x09;
  buf.writeDoubleLE(1717200000, 13);
  buf[21] = 0x1a;
  buf[22] = fv.length;
  fv.copy(buf, 23);
  buf.writeUInt32LE(maskCrc32c(crc32c(buf, 12, 12 + fvLen)), 12 + fvLen);
  p = 16 + fvLen;
  let seed = 42;
  const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296;
  for (let step = 1; written + p < target; step++) {
    const wall = 1717200000 + 0.05 * step;
    for (let i = 0; i < globals.length; i++) {
      if (p > buf.length - 4096) flush();
      p = writeScalarRecord(buf, p, globals[i]!, step, 3 * rnd(), wall);
    }
    for (let i = 0; i < tags.length; i++) {
      if (p > buf.length - 4096) flush();
      p = writeScalarRecord(buf, p, tags[i]!, step, rnd(), wall);
    }
  }
  flush();
  closeSync(fd);
  renameSync(tmp, file);
  return file;
}

async function timeIt<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; cpuSeconds: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { value, seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** Measure framing, decoding and full RunData reading of the generated scalar file (best of `repeats`). */
export async function benchTfevents(repeats = 2): Promise<TfeventsBenchResult[]> {
  const file = ensureScalarFile();
  const bytes = statSync(file).size;
  const mb = bytes / 1e6;
  const results: TfeventsBenchResult[] = [];

  const best = async (name: string, run: () => Promise<number>, note?: string) => {
    let seconds = Infinity;
    let cpuSeconds = Infinity;
    let records = 0;
    for (let i = 0; i < repeats; i++) {
      const r = await timeIt(run);
      records = r.value;
      seconds = Math.min(seconds, r.seconds);
      cpuSeconds = Math.min(cpuSeconds, r.cpuSeconds);
    }
    results.push({
      name,
      mbPerSec: mb / seconds,
      cpuMbPerSec: mb / cpuSeconds,
      bytes,
      seconds,
      records,
      loadAverage: loadavg()[0]!,
      note,
    });
  };

  await best('tfevents framing + CRC-32C (scanRecords)', async () => {
    const fh = await fsp.open(file, 'r');
    try {
      const issues: ReadIssue[] = [];
      const r = await scanRecords(fh, file, 0, bytes, () => undefined, new IssueLimiter(issues));
      if (issues.length) throw new Error(issues[0]!.message);
      return r.records;
    } finally {
      await fh.close();
    }
  });
  await best('tfevents framing + protobuf decode (EventDecoder, no-op visitor)', async () => {
    const fh = await fsp.open(file, 'r');
    let values = 0;
    try {
      const dec = new EventDecoder({ scalar: () => void values++, histogram: () => void values++ });
      const issues: ReadIssue[] = [];
      await scanRecords(fh, file, 0, bytes, (b, s, e, o) => dec.decode(b, s, e, o), new IssueLimiter(issues));
      if (issues.length) throw new Error(issues[0]!.message);
      return values;
    } finally {
      await fh.close();
    }
  });
  await best(
    'tfevents full read to RunData (readTfeventsFile)',
    async () => {
      const run = await readTfeventsFile(file);
      if (run.issues.length) throw new Error(run.issues[0]!.message);
      return run.scalars.valueCount;
    },
    'records = values stored in the columnar run model',
  );
  return results;
}

if (process.argv[1] && /bench[\\/]tfevents\.ts$/.test(process.argv[1])) {
  benchTfevents().then(
    (rs) => {
      for (const r of rs) {
        console.log(
          `${r.name}: ${r.mbPerSec.toFixed(1)} MB/s wall, ${r.cpuMbPerSec.toFixed(1)} MB/s per CPU second ` +
            `(${(r.bytes / 1e6).toFixed(0)} MB in ${r.seconds.toFixed(2)} s, ${r.records} records, load ${r.loadAverage.toFixed(1)} on ${cpus().length} cores)`,
        );
      }
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
