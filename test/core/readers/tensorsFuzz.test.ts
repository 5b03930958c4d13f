import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { readNpz } from '../../../src/core/readers/npz';
import { readNpy } from '../../../src/core/readers/npy';
import { readSafetensors } from '../../../src/core/readers/safetensors';
import { openZip, readZipEntry } from '../../../src/core/io/zip';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { ReaderError } from '../../../src/core/errors';
import type { RunData } from '../../../src/core/run/types';
import { fixturePath } from '../../support/fixtures';
import { FUZZ_SCALE, fuzzCases, fuzzSeed, int, rng as prng, type Rand } from '../../support/fuzz';

// Seeded mutation fuzzing of the binary tensor readers (≥ 10,000 mutated files per reader per
// CI run, zero crashes, hangs or untyped exceptions). Each iteration writes one mutated file to a
// reused temp path, reads it, and reads back every described tensor of ≤ 1e6 elements: every outcome
// must be success or a ReaderError. Failures are collected with the seed and mutation so they replay.

const ITERATIONS = fuzzCases(10_000);
const SEED = fuzzSeed(0x5eed);

/** Offsets of zip record signatures (PK..) and other length-bearing places worth corrupting. */
function interestingOffsets(seed: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= seed.length; i++) {
    if (seed[i] === 0x50 && seed[i + 1] === 0x4b && seed[i + 2] < 9 && seed[i + 3] < 9) out.push(i);
    if (seed[i] === 0x93 && seed[i + 1] === 0x4e) out.push(i); // npy magic (standalone or npz member)
  }
  out.push(0);
  return out;
}

const SPECIAL32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function mutate(seed: Uint8Array, r: Rand, interesting: number[]): { bytes: Uint8Array; what: string } {
  const kind = int(r, 9);
  const b = Uint8Array.from(seed);
  const pos = (): number => int(r, Math.max(1, b.length));
  switch (kind) {
    case 0: {
      const n = 1 + int(r, 4);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = pos();
        b[p] ^= 1 << int(r, 8);
        at.push(p);
      }
      return { bytes: b, what: `bit flips at ${at}` };
    }
    case 1: {
      const p = pos();
      const v = [0x00, 0xff, int(r, 256)][int(r, 3)];
      const len = 1 + int(r, 8);
      b.fill(v, p, Math.min(b.length, p + len));
      return { bytes: b, what: `overwrite ${len} bytes at ${p} with 0x${v.toString(16)}` };
    }
    case 2: {
      const len = int(r, seed.length);
      return { bytes: b.subarray(0, len), what: `truncate to ${len}` };
    }
    case 3:
    case 4: {
      // Length/offset field corruption near a record start (zip headers, npy prelude, safetensors u64).
      const base = interesting[int(r, interesting.length)];
      const p = Math.min(b.length - 1, base + int(r, 48));
      const width = [2, 4, 8][int(r, 3)];
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const v = SPECIAL32[int(r, SPECIAL32.length)];
      if (p + width > b.length) return { bytes: b, what: 'no-op (field past end)' };
      if (width === 2) view.setUint16(p, v & 0xffff, true);
      else if (width === 4) view.setUint32(p, v >>> 0, true);
      else {
        view.setUint32(p, v >>> 0, true);
        view.setUint32(p + 4, int(r, 3) === 0 ? v >>> 0 : 0, true);
      }
      return { bytes: b, what: `field u${width * 8} at ${p} := 0x${v.toString(16)}` };
    }
    case 5: {
      // Small arithmetic change of a field (sizes off by a little: the hardest to notice).
      const base = interesting[int(r, interesting.length)];
      const p = Math.min(b.length - 4, base + int(r, 48));
      if (p < 0) return { bytes: b, what: 'no-op' };
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const d = int(r, 17) - 8;
      view.setUint32(p, (view.getUint32(p, true) + d) >>> 0, true);
      return { bytes: b, what: `u32 at ${p} += ${d}` };
    }
    case 6: {
      // Text-ish headers (npy dict, safetensors JSON): replace a digit or punctuation character.
      const candidates: number[] = [];
      for (let i = 0; i < Math.min(b.length, 4096); i++) if (/[0-9,:()[\]{}'"]/.test(String.fromCharCode(b[i]))) candidates.push(i);
      if (candidates.length === 0) return { bytes: b, what: 'no-op' };
      const p = candidates[int(r, candidates.length)];
      const repl = '0123456789,:()[]{}"\' -'.charCodeAt(int(r, 22));
      b[p] = repl;
      return { bytes: b, what: `char at ${p} := ${String.fromCharCode(repl)}` };
    }
    case 7: {
      // Insert or delete a few bytes: every later offset shifts.
      const p = pos();
      const n = 1 + int(r, 16);
      if (int(r, 2) === 0)
        return { bytes: Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + n))]), what: `delete ${n} at ${p}` };
      const ins = new Uint8Array(n).map(() => int(r, 256));
      return { bytes: Buffer.concat([b.subarray(0, p), ins, b.subarray(p)]), what: `insert ${n} at ${p}` };
    }
    default: {
      const n = 2 + int(r, 6);
      for (let i = 0; i < n; i++) b[pos()] = int(r, 256);
      return { bytes: b, what: `${n} random bytes` };
    }
  }
}

interface Outcome {
  ok: number;
  readerErrors: number;
  tensorsRead: number;
  failures: string[];
}

async function consume(run: RunData, outcome: Outcome): Promise<void> {
  for (const snap of run.snapshots) {
    for (const t of snap.tensors) {
      if (t.numel > 1e6) continue;
      try {
        const v = await readTensorValues(t);
        assert.equal(v.length, t.numel);
        outcome.tensorsRead++;
      } catch (err) {
        if (!(err instanceof ReaderError)) throw err;
      }
    }
  }
}

async function fuzz(
  name: string,
  seeds: Uint8Array[],
  fileName: string,
  read: (path: string) => Promise<RunData | void>,
): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), `ol-fuzz-${name}-`));
  const path = join(dir, fileName);
  const outcome: Outcome = { ok: 0, readerErrors: 0, tensorsRead: 0, failures: [] };
  // Thousands of expected ReaderErrors: their stack traces (source-mapped under tsx) are not needed.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const r = prng(SEED ^ hash(name));
  const interesting = seeds.map(interestingOffsets);
  // One temp file, rewritten in place: write then shrink (an O_TRUNC rewrite makes ext4 flush on close,
  // ~2 ms per file; this is ~0.05 ms).
  const fd = openSync(path, 'w+');
  const put = (bytes: Uint8Array): void => {
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
  };
  try {
    // The unmutated seeds must read cleanly (otherwise the fuzzing exercises only the error paths).
    for (const s of seeds) {
      put(s);
      const run = await read(path);
      if (run) await consume(run, outcome);
    }
    for (let i = 0; i < ITERATIONS; i++) {
      const k = int(r, seeds.length);
      const { bytes, what } = mutate(seeds[k], r, interesting[k]);
      put(bytes);
      try {
        const run = await read(path);
        if (run) await consume(run, outcome);
        outcome.ok++;
      } catch (err) {
        if (err instanceof ReaderError) {
          outcome.readerErrors++;
          if (err.path !== path) outcome.failures.push(`#${i} seed ${k} ${what}: ReaderError names '${err.path}'`);
        } else {
          const e = err as Error;
          outcome.failures.push(`#${i} seed ${k} ${what}: ${e?.name}: ${e?.message}`);
          if (outcome.failures.length > 20) break;
        }
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return outcome;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function report(name: string, o: Outcome, diagnostic?: (msg: string) => void): void {
  diagnostic?.(`${name}: ${o.ok} read, ${o.readerErrors} ReaderErrors, ${o.tensorsRead} tensors read back (seed ${SEED})`);
  assert.deepEqual(o.failures, [], `${name}: non-ReaderError outcomes`);
  assert.equal(o.ok + o.readerErrors, ITERATIONS);
  // Both paths must be exercised: some mutated files still read, some are refused.
  assert.ok(o.ok > 0 && o.readerErrors > 0, `${name}: ok ${o.ok}, errors ${o.readerErrors}`);
  assert.ok(o.tensorsRead > 0);
}

// ---- Seeds: small real files derived from the fixtures -------------------------------------------

async function fixtureMembers(names: string[]): Promise<Map<string, Uint8Array>> {
  const zip = await openZip(fixturePath('adam_base', 'tensors', 'step_000001.npz'));
  const out = new Map<string, Uint8Array>();
  for (const n of names)
    out.set(
      n,
      await readZipEntry(
        zip,
        zip.entries.find((e) => e.name === n)!,
      ),
    );
  return out;
}

/** A zip as numpy.savez writes it (zip64 extra in the local header) or savez_compressed (deflate). */
function npzBytes(members: Map<string, Uint8Array>, deflate: boolean, descriptor = false): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [n, data] of members) {
    const name = Buffer.from(n);
    const stored = deflate ? zlib.deflateRawSync(data) : Buffer.from(data);
    const crc = zlib.crc32(data) >>> 0;
    const extra = Buffer.alloc(20);
    extra.writeUInt16LE(1, 0);
    extra.writeUInt16LE(16, 2);
    extra.writeBigUInt64LE(BigInt(data.length), 4);
    extra.writeBigUInt64LE(BigInt(stored.length), 12);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(descriptor ? 8 : 0, 6);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(descriptor ? 0 : crc, 14);
    local.writeUInt32LE(descriptor ? 0 : stored.length, 18);
    local.writeUInt32LE(descriptor ? 0 : data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(descriptor ? 0 : extra.length, 28);
    const desc = Buffer.alloc(descriptor ? 16 : 0);
    if (descriptor) {
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(crc, 4);
      desc.writeUInt32LE(stored.length, 8);
      desc.writeUInt32LE(data.length, 12);
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(45, 6);
    cd.writeUInt16LE(descriptor ? 8 : 0, 8);
    cd.writeUInt16LE(deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(stored.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    const localExtra = descriptor ? Buffer.alloc(0) : extra;
    parts.push(local, name, localExtra, stored, desc);
    offset += local.length + name.length + localExtra.length + stored.length + desc.length;
  }
  const cdBuf = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.size, 8);
  eocd.writeUInt16LE(members.size, 10);
  eocd.writeUInt32LE(cdBuf.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, eocd]);
}

const NPZ_MEMBERS = ['step.npy', 'lr.npy', 'param_before/ln_f.weight.npy', 'grad/ln_f.weight.npy'];

test(`fuzz: npz reader over ${ITERATIONS} mutated archives (stored zip64 + deflated)`, { timeout: 120_000 * FUZZ_SCALE }, async (t) => {
  const members = await fixtureMembers(NPZ_MEMBERS);
  // The deflated seed holds one tensor: reading a deflate source back costs far more than a stored one.
  const small = new Map([...members].filter(([k]) => k !== 'grad/ln_f.weight.npy'));
  const seeds = [npzBytes(members, false), npzBytes(small, true)];
  const o = await fuzz('npz', seeds, 'step_000001.npz', (p) => readNpz(p));
  report('npz', o, (m) => t.diagnostic(m));
});

test(
  `fuzz: zip directory reader over ${ITERATIONS} mutated archives (torch-style, data descriptors)`,
  { timeout: 120_000 * FUZZ_SCALE },
  async (t) => {
    const members = await fixtureMembers(['param_before/ln_f.weight.npy', 'grad/ln_f.weight.npy']);
    const seeds = [
      readFileSync(fixturePath('bad', 'unsafe_global_eval.pt')),
      npzBytes(members, false, true),
      npzBytes(members, true, true),
    ];
    let sawEntries = 0;
    const o = await fuzz('zip', seeds, 'archive.zip', async (p) => {
      const zip = await openZip(p);
      for (const e of zip.entries) {
        try {
          const bytes = await readZipEntry(zip, e);
          assert.equal(bytes.length, e.uncompressedSize);
          sawEntries++;
        } catch (err) {
          if (!(err instanceof ReaderError)) throw err;
        }
      }
    });
    // The zip reader yields no tensors; count read members instead.
    t.diagnostic(`zip: ${o.ok} opened, ${o.readerErrors} ReaderErrors, ${sawEntries} members read whole (seed ${SEED})`);
    assert.deepEqual(o.failures, []);
    assert.equal(o.ok + o.readerErrors, ITERATIONS);
    assert.ok(o.ok > 0 && o.readerErrors > 0 && sawEntries > 0);
  },
);

test(`fuzz: safetensors reader over ${ITERATIONS} mutated files`, { timeout: 120_000 * FUZZ_SCALE }, async (t) => {
  // bad/header_too_long.safetensors with its length field repaired is a valid 2-tensor file.
  const repaired = Buffer.from(readFileSync(fixturePath('bad', 'header_too_long.safetensors')));
  repaired.writeBigUInt64LE(184n, 0);
  const f16 = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7c00]).buffer);
  const i64 = Buffer.from(new BigInt64Array([5n]).buffer);
  let json = JSON.stringify({
    __metadata__: { step: '3', lr: '0.001' },
    'grad/a': { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
    'b.exp_avg': { dtype: 'BF16', shape: [4], data_offsets: [0, 8] },
    n: { dtype: 'I64', shape: [], data_offsets: [8, 16] },
  });
  while (json.length % 8) json += ' ';
  const pre = Buffer.alloc(8);
  pre.writeBigUInt64LE(BigInt(json.length));
  const mixed = Buffer.concat([pre, Buffer.from(json), f16, i64]);
  const o = await fuzz('safetensors', [repaired, mixed], 'step_000001.safetensors', (p) => readSafetensors(p));
  report('safetensors', o, (m) => t.diagnostic(m));
});

test(`fuzz: npy reader over ${ITERATIONS} mutated files`, { timeout: 120_000 * FUZZ_SCALE }, async (t) => {
  const members = await fixtureMembers(['param_before/ln_f.weight.npy', 'step.npy', 'lr.npy']);
  const seeds = [...members.values()];
  const o = await fuzz('npy', seeds, 'grad.npy', (p) => readNpy(p));
  report('npy', o, (m) => t.diagnostic(m));
});

test('fuzz: memory stays bounded after the fuzzing (no absurd allocations kept)', () => {
  const rss = process.memoryUsage().rss;
  assert.ok(rss < 1.5 * 1024 ** 3, `rss ${rss}`);
});
