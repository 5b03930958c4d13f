import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { ReaderError } from '../../../src/core/errors';
import { torchPersistentLoad } from '../../../src/core/readers/pickle/torchAllowList';
import { unpickle } from '../../../src/core/readers/pickle/machine';
import { readTorchCheckpoint } from '../../../src/core/readers/torch/reader';
import { readTensorValues } from '../../../src/core/io/tensorData';
import { fixturePath } from '../../support/fixtures';
import { fuzzCases, fuzzSeed, rng } from '../../support/fuzz';

// Seeded mutation fuzzing of the allow-list unpickler and the torch.save reader. The only acceptable
// outcomes are a result or a ReaderError: no RangeError/TypeError/other exception may escape, and
// nothing may hang or allocate absurdly (every length is checked against the bytes left).

const SEED = fuzzSeed(20260525);
/** `npm run fuzz` multiplies the case counts (FUZZ_SCALE). */
const PICKLE_CASES = fuzzCases(8000);
const ZIP_CASES = fuzzCases(2400);

const FIXTURE_FILES = [
  fixturePath('adam_base', 'ckpt', 'model_step000120.pt'),
  fixturePath('adam_base', 'ckpt', 'optim_step000120.pt'),
  fixturePath('adamw_wd0.05', 'checkpoint-60', 'optimizer.pt'),
  fixturePath('bad', 'unsafe_global_eval.pt'),
];

interface PklLocation {
  file: Buffer;
  /** data.pkl bytes range in the file (stored member). */
  start: number;
  length: number;
  /** Offset of the CRC-32 field of data.pkl's central directory entry. */
  crcField: number;
}

function locatePickle(file: Buffer): PklLocation {
  // Central directory entry whose name ends with /data.pkl; its local header gives the data offset.
  for (let p = file.length - 46; p >= 0; p--) {
    if (file.readUInt32LE(p) !== 0x02014b50) continue;
    const nameLen = file.readUInt16LE(p + 28);
    const name = file.toString('utf8', p + 46, p + 46 + nameLen);
    if (!name.endsWith('/data.pkl')) continue;
    const size = file.readUInt32LE(p + 24);
    const local = file.readUInt32LE(p + 42);
    const start = local + 30 + file.readUInt16LE(local + 26) + file.readUInt16LE(local + 28);
    return { file, start, length: size, crcField: p + 16 };
  }
  throw new Error('no data.pkl in fixture');
}

const OPCODES = [
  0x80, 0x95, 0x2e, 0x28, 0x7d, 0x5d, 0x29, 0x58, 0x8c, 0x4b, 0x4a, 0x4d, 0x8a, 0x8b, 0x47, 0x71, 0x72, 0x68, 0x6a, 0x63, 0x93, 0x52, 0x51,
  0x62, 0x73, 0x75, 0x61, 0x65, 0x74, 0x85, 0x86, 0x87, 0x81, 0x94, 0x8f, 0x90, 0x91, 0x30, 0x31, 0x32,
];

/** One random mutation of `src` (a copy): bit flips, byte overwrites, length fields, truncation, splices. */
function mutate(src: Uint8Array, r: () => number, keepLength: boolean): Uint8Array {
  const out = Uint8Array.from(src);
  const pick = () => Math.floor(r() * out.length);
  const kind = Math.floor(r() * (keepLength ? 5 : 7));
  switch (kind) {
    case 0: {
      // 1-4 bit flips
      const k = 1 + Math.floor(r() * 4);
      for (let i = 0; i < k; i++) out[pick()] ^= 1 << Math.floor(r() * 8);
      return out;
    }
    case 1: {
      // byte overwrites with random or interesting values (opcodes, 0x00, 0xff)
      const k = 1 + Math.floor(r() * 3);
      for (let i = 0; i < k; i++) {
        const c = r();
        out[pick()] = c < 0.4 ? OPCODES[Math.floor(r() * OPCODES.length)] : c < 0.6 ? 0 : c < 0.8 ? 0xff : Math.floor(r() * 256);
      }
      return out;
    }
    case 2: {
      // corrupt a 4-byte little-endian length right after a length-prefixed opcode (or anywhere)
      const candidates: number[] = [];
      for (let i = 0; i + 5 <= out.length; i++)
        if (out[i] === 0x58 || out[i] === 0x72 || out[i] === 0x6a || out[i] === 0x4a) candidates.push(i + 1);
      const at = candidates.length && r() < 0.8 ? candidates[Math.floor(r() * candidates.length)] : Math.max(0, pick() - 4);
      const values = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, out.length, out.length + 1, Math.floor(r() * 0xffffffff)];
      const v = values[Math.floor(r() * values.length)];
      const dv = new DataView(out.buffer);
      if (at + 4 <= out.length) dv.setUint32(at, v >>> 0, true);
      return out;
    }
    case 3: {
      // swap two bytes
      const a = pick();
      const b = pick();
      [out[a], out[b]] = [out[b], out[a]];
      return out;
    }
    case 4: {
      // overwrite a short run with a copy of another run (plausible opcodes in the wrong place)
      const len = 1 + Math.floor(r() * 16);
      const from = pick();
      const to = pick();
      out.copyWithin(to, from, Math.min(out.length, from + len));
      return out;
    }
    case 5:
      // truncation
      return out.subarray(0, pick());
    default: {
      // delete or insert a few bytes
      const at = pick();
      const len = 1 + Math.floor(r() * 8);
      if (r() < 0.5) return Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + len)]);
      const ins = Array.from({ length: len }, () => Math.floor(r() * 256));
      return Uint8Array.from([...out.subarray(0, at), ...ins, ...out.subarray(at)]);
    }
  }
}

function expectReaderErrorOnly(e: unknown, what: string): void {
  if (!(e instanceof ReaderError)) {
    const err = e as Error;
    assert.fail(`${what}: escaped ${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`);
  }
}

test(`fuzz: allow-list unpickler over ${PICKLE_CASES} mutated data.pkl streams (seed ${SEED})`, () => {
  const r = rng(SEED);
  const pickles = FIXTURE_FILES.map((f) => {
    const loc = locatePickle(readFileSync(f));
    return loc.file.subarray(loc.start, loc.start + loc.length);
  });
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < PICKLE_CASES; i++) {
    const src = pickles[i % pickles.length];
    let bytes = mutate(src, r, false);
    if (r() < 0.3) bytes = mutate(bytes, r, false);
    try {
      unpickle(bytes, { path: `case${i}`, member: 'data.pkl', persistentLoad: torchPersistentLoad });
      ok++;
    } catch (e) {
      expectReaderErrorOnly(e, `pickle case ${i}`);
      refused++;
    }
  }
  assert.equal(ok + refused, PICKLE_CASES);
  assert.ok(refused > 0 && ok > 0, `both outcomes occur (ok ${ok}, refused ${refused})`);
});

test(`fuzz: torch.save reader over ${ZIP_CASES} mutated checkpoint files (seed ${SEED + 1})`, async () => {
  const r = rng(SEED + 1);
  const dir = mkdtempSync(join(tmpdir(), 'ol-fuzz-torch-'));
  const locs = FIXTURE_FILES.map((f) => locatePickle(readFileSync(f)));
  let ok = 0;
  let refused = 0;
  let valuesRead = 0;
  try {
    for (let i = 0; i < ZIP_CASES; i++) {
      const loc = locs[i % locs.length];
      let bytes: Uint8Array;
      const mode = r();
      if (mode < 0.55) {
        // Mutate the pickle in place (same length) and fix the CRC, so the structure code runs on it.
        const file = Buffer.from(loc.file);
        const pkl = mutate(file.subarray(loc.start, loc.start + loc.length), r, true);
        file.set(pkl, loc.start);
        file.writeUInt32LE(zlib.crc32(pkl) >>> 0, loc.crcField);
        bytes = file;
      } else if (mode < 0.75) {
        // Mutate anywhere in the archive (zip structures, storages, headers).
        bytes = mutate(loc.file, r, false);
      } else if (mode < 0.9) {
        // Mutate the zip directory region (the last 2 KiB) specifically.
        const file = Buffer.from(loc.file);
        const tailStart = Math.max(0, file.length - 2048);
        file.set(mutate(file.subarray(tailStart), r, true), tailStart);
        bytes = file;
      } else {
        bytes = loc.file.subarray(0, Math.floor(r() * loc.file.length));
      }
      const path = join(dir, `case${i % 16}.pt`);
      writeFileSync(path, bytes);
      try {
        const run = await readTorchCheckpoint(path);
        ok++;
        // The refs it hands out must be readable or refused cleanly too.
        for (const ref of run.snapshots[0]?.tensors.slice(0, 2) ?? []) {
          try {
            await readTensorValues(ref);
            valuesRead++;
          } catch (e) {
            expectReaderErrorOnly(e, `zip case ${i} tensor ${ref.key}`);
          }
        }
      } catch (e) {
        expectReaderErrorOnly(e, `zip case ${i} (mode ${mode.toFixed(2)})`);
        refused++;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(ok + refused, ZIP_CASES);
  assert.ok(ok > 0 && refused > 0 && valuesRead > 0, `both outcomes occur (ok ${ok}, refused ${refused}, tensors read ${valuesRead})`);
});
