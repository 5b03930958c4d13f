// Generators of the large log inputs the log benches read (bench/.data/, gitignored, written once):
//   - a scalar-heavy TensorBoard file: 52,721 steps × 120 per-layer scalar tags (24 layers × 5 figures)
//     plus loss and lr, one Event per step holding every value of that step (TF1 merged summaries), 256 MB;
//   - a Llama-7B-shaped long-form JSONL log: 291 parameter tensors × 2,000 logged steps, 582k lines, the
//     fields our logging snippet writes (snippets/*.py: step, layer, shape, numel, lr, param_rms, grad_rms,
//     update_rms, rel_step, adam_u_rms, eps_dominated_frac, optimizer, betas, eps, weight_decay), ~245 MB;
//   - the same records as a long-form CSV.
// Values are seeded pseudo-random doubles printed the way Python's json.dumps / repr prints them.

import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crc32c, maskCrc32c } from '../src/core/io/crc32c';

export const DATA_DIR = resolve(__dirname, '.data');

/** The 291 parameter tensors of Llama-7B, in named_parameters() order, with their shapes. */
export function llama7bTensors(): { name: string; shape: number[] }[] {
  const out = [{ name: 'model.embed_tokens.weight', shape: [32000, 4096] }];
  for (let b = 0; b < 32; b++) {
    for (const t of ['q_proj', 'k_proj', 'v_proj', 'o_proj'])
      out.push({ name: `model.layers.${b}.self_attn.${t}.weight`, shape: [4096, 4096] });
    out.push({ name: `model.layers.${b}.mlp.gate_proj.weight`, shape: [11008, 4096] });
    out.push({ name: `model.layers.${b}.mlp.up_proj.weight`, shape: [11008, 4096] });
    out.push({ name: `model.layers.${b}.mlp.down_proj.weight`, shape: [4096, 11008] });
    out.push({ name: `model.layers.${b}.input_layernorm.weight`, shape: [4096] });
    out.push({ name: `model.layers.${b}.post_attention_layernorm.weight`, shape: [4096] });
  }
  out.push({ name: 'model.norm.weight', shape: [4096] }, { name: 'lm_head.weight', shape: [32000, 4096] });
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Write a file through an 8 MiB buffer, atomically (a .partial renamed at the end). */
function writeFileStreamed(file: string, body: (write: (s: string | Buffer) => void) => void): void {
  mkdirSync(DATA_DIR, { recursive: true });
  const tmp = `${file}.partial`;
  const fd = openSync(tmp, 'w');
  let parts: (string | Buffer)[] = [];
  let pending = 0;
  const flush = () => {
    if (!parts.length) return;
    const b = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    writeSync(fd, b);
    parts = [];
    pending = 0;
  };
  body((s) => {
    parts.push(s);
    pending += s.length;
    if (pending > 8 << 20) flush();
  });
  flush();
  closeSync(fd);
  renameSync(tmp, file);
}

/** Python's repr of a float (what json.dumps writes): shortest round-trip digits, 'e-05' style exponents. */
export function pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  // repr switches to an exponent below 1e-4 and from 1e16; JS's toExponential() gives the same shortest digits.
  const s = Math.abs(x) < 1e-4 || Math.abs(x) >= 1e16 ? x.toExponential() : String(x);
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1]}e${m[2]}${m[3]!.padStart(2, '0')}`;
}

export const LLAMA_STEPS = 2000;

/** One long-form record per tensor and logged step, as the snippet writes it (Adam, cosine lr). */
function llamaRecords(emit: (fields: Record<string, unknown>) => void, steps = LLAMA_STEPS): void {
  const tensors = llama7bTensors();
  const r = rng(7);
  for (let k = 1; k <= steps; k++) {
    const step = k * 10;
    const lr = 3e-4 * 0.5 * (1 + Math.cos((Math.PI * k) / steps)) + 1e-10;
    for (const t of tensors) {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const paramRms = 0.02 * (1 + 0.1 * r());
      const updateRms = lr * (0.2 + 0.1 * r());
      const rec: Record<string, unknown> = {
        step,
        layer: t.name,
        shape: t.shape,
        numel,
        lr,
        param_rms: paramRms,
        grad_rms: 1e-3 * r(),
        update_rms: updateRms,
        rel_step: updateRms / paramRms,
        adam_u_rms: 0.2 + 0.1 * r(),
        eps_dominated_frac: r() < 0.9 ? 0.0 : r() * 1e-3,
        optimizer: 'Adam',
        betas: [0.9, 0.95],
        eps: 1e-8,
        weight_decay: 0.0,
      };
      emit(rec);
    }
  }
}

function jsonValue(v: unknown): string {
  if (typeof v === 'number')
    return Number.isInteger(v) && !Number.isSafeInteger(v * 10)
      ? String(v)
      : typeof v === 'number' && !Number.isInteger(v)
        ? pyFloat(v)
        : String(v);
  if (Array.isArray(v)) return `[${v.map(jsonValue).join(', ')}]`;
  return JSON.stringify(v);
}

/** Floats that Python writes as floats even when integral (eps_dominated_frac 0.0, betas). */
const FLOAT_FIELDS = new Set([
  'lr',
  'param_rms',
  'grad_rms',
  'update_rms',
  'rel_step',
  'adam_u_rms',
  'eps_dominated_frac',
  'eps',
  'weight_decay',
  'decay_rms',
]);

function pyJsonLine(rec: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    let s: string;
    if (FLOAT_FIELDS.has(k) && typeof v === 'number') s = pyFloat(v);
    else if (k === 'betas') s = `[${(v as number[]).map(pyFloat).join(', ')}]`;
    else s = jsonValue(v);
    parts.push(`"${k}": ${s}`);
  }
  return `{${parts.join(', ')}}\n`;
}

export function ensureLlamaJsonl(steps = LLAMA_STEPS): string {
  const file = join(DATA_DIR, `llama7b_long_${steps}.jsonl`);
  if (existsSync(file)) return file;
  console.log(`generating ${file} …`);
  writeFileStreamed(file, (write) => llamaRecords((rec) => write(pyJsonLine(rec)), steps));
  return file;
}

const CSV_COLUMNS = [
  'step',
  'layer',
  'shape',
  'numel',
  'lr',
  'param_rms',
  'grad_rms',
  'update_rms',
  'rel_step',
  'adam_u_rms',
  'eps_dominated_frac',
];

export function ensureLlamaCsv(steps = LLAMA_STEPS): string {
  const file = join(DATA_DIR, `llama7b_long_${steps}.csv`);
  if (existsSync(file)) return file;
  console.log(`generating ${file} …`);
  writeFileStreamed(file, (write) => {
    write(CSV_COLUMNS.join(',') + '\n');
    llamaRecords((rec) => {
      const cells = CSV_COLUMNS.map((c) => {
        const v = rec[c];
        if (c === 'shape') return `"[${(v as number[]).join(', ')}]"`;
        return FLOAT_FIELDS.has(c) ? pyFloat(v as number) : String(v);
      });
      write(cells.join(',') + '\n');
    }, steps);
  });
  return file;
}

// ---- TensorBoard ---------------------------------------------------------------------------------

export const TB_STEPS = 52_721;
/** 24 layers × 5 figures = 120 per-layer tags; names sized so the file is 256 MB. */
export function tbTags(): { layerTags: string[]; globalTags: string[] } {
  const layers: string[] = [];
  for (let b = 0; b < 4; b++)
    for (const t of ['attn.qkv', 'attn.proj', 'mlp.fc1', 'mlp.fc2', 'ln_1', 'ln_2']) layers.push(`layers.${b}.${t}.weight`);
  const metrics = ['param_rms', 'grad_rms', 'update_rms', 'rel_step', 'adam_u_rms'];
  return { layerTags: layers.flatMap((l) => metrics.map((m) => `${m}/${l}`)), globalTags: ['train/loss', 'train/lr'] };
}

function varint(buf: Buffer, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  return p;
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 16);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(0, 4);
  out.writeUInt32LE(maskCrc32c(crc32c(out, 0, 8)), 8);
  payload.copy(out, 12);
  out.writeUInt32LE(maskCrc32c(crc32c(payload)), 12 + payload.length);
  return out;
}

/** One Event: wall_time, step, summary { value { tag, simple_value } … } (the TF1 merged-summary shape). */
function stepEvent(step: number, wall: number, tags: Buffer[], values: number[]): Buffer {
  let summaryLen = 0;
  const valueLens = tags.map((t) => 1 + varintLen(t.length) + t.length + 5);
  for (const l of valueLens) summaryLen += 1 + varintLen(l) + l;
  const eventLen = 9 + 1 + varintLen(step) + 1 + varintLen(summaryLen) + summaryLen;
  const b = Buffer.allocUnsafe(eventLen);
  let p = 0;
  b[p++] = 0x09;
  b.writeDoubleLE(wall, p);
  p += 8;
  b[p++] = 0x10;
  p = varint(b, p, step);
  b[p++] = 0x2a;
  p = varint(b, p, summaryLen);
  for (let i = 0; i < tags.length; i++) {
    b[p++] = 0x0a;
    p = varint(b, p, valueLens[i]!);
    b[p++] = 0x0a;
    p = varint(b, p, tags[i]!.length);
    tags[i]!.copy(b, p);
    p += tags[i]!.length;
    b[p++] = 0x15;
    b.writeFloatLE(values[i]!, p);
    p += 4;
  }
  if (p !== eventLen) throw new Error('bench encoder length mismatch');
  return frame(b);
}

export function ensureTbScalars(steps = TB_STEPS): string {
  const file = join(DATA_DIR, `tb_${steps}`, `events.out.tfevents.1717200000.bench-scalars`);
  if (existsSync(file)) return file;
  mkdirSync(join(DATA_DIR, `tb_${steps}`), { recursive: true });
  console.log(`generating ${file} …`);
  const { layerTags, globalTags } = tbTags();
  const tags = [...globalTags, ...layerTags].map((t) => Buffer.from(t));
  const r = rng(42);
  const fv = Buffer.alloc(9 + 2 + 13);
  fv[0] = 0x09;
  fv.writeDoubleLE(1717200000, 1);
  fv[9] = 0x1a;
  fv[10] = 13;
  fv.write('brain.Event:2', 11);
  writeFileStreamed(file, (write) => {
    write(frame(fv));
    const values = new Array<number>(tags.length);
    for (let s = 1; s <= steps; s++) {
      for (let i = 0; i < tags.length; i++) values[i] = i < globalTags.length ? 3 * r() : r() * 0.05;
      write(stepEvent(s, 1717200000 + 0.05 * s, tags, values));
    }
  });
  return file;
}

export function sizeMb(file: string): number {
  return statSync(file).size / 1e6;
}

if (process.argv[1] && /bench[\\/]logData\.ts$/.test(process.argv[1])) {
  for (const f of [ensureTbScalars(), ensureLlamaJsonl(), ensureLlamaCsv()]) console.log(`${f}: ${sizeMb(f).toFixed(1)} MB`);
}
