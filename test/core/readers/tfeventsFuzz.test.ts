// Fuzz: seeded mutations of small event files through the whole TensorBoard reader (framing, CRC,
// protobuf, tag mapping). Every outcome must be RunData or a ReaderError — never another exception, a
// hang, or output that breaks the RunData contract. Half of the mutations re-seal the CRCs afterwards,
// so the protobuf decoder (not only the CRC check) sees the damaged bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../support/fixtures';
import { crc32c, maskCrc32c } from '../../../src/core/io/crc32c';
import {
  encodeFileVersionEvent,
  encodeHistogramEvent,
  encodeScalarEvent,
  encodeTensorScalarEvent,
  encodeTf2HistogramEvent,
  frameRecord,
} from '../../support/tfeventsWriter';
import { readTfeventsBytes } from '../../../src/core/readers/tfevents/reader';
import { ReaderError } from '../../../src/core/errors';
import type { RunData } from '../../../src/core/run/types';
import { FUZZ_SCALE, fuzzCases } from '../../support/fuzz';
import { globalsOf, observationsOf } from '../../support/observations';

const EVENTS = 'events.out.tfevents.1717200000.localhost';
const CASES = Number(process.env.OL_FUZZ_CASES ?? fuzzCases(10_000));

/** xorshift32: deterministic, seedable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** Record boundaries of a well-framed prefix of `b` (stops at the first record that does not fit). */
function recordOffsets(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  let p = 0;
  while (p + 12 <= b.length) {
    const len = dv.getUint32(p, true);
    if (dv.getUint32(p + 4, true) !== 0 || p + 16 + len > b.length) break;
    out.push(p);
    p += 16 + len;
  }
  return out;
}

/** Recompute the length and data CRCs of every record whose length still fits (after a payload mutation). */
function reseal(b: Uint8Array): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  while (p + 12 <= b.length) {
    dv.setUint32(p + 8, maskCrc32c(crc32c(b, p, p + 8)), true);
    const len = dv.getUint32(p, true);
    if (dv.getUint32(p + 4, true) !== 0 || p + 16 + len > b.length) break;
    dv.setUint32(p + 12 + len, maskCrc32c(crc32c(b, p + 12, p + 12 + len)), true);
    p += 16 + len;
  }
}

function syntheticSeed(): Uint8Array {
  const parts = [
    encodeFileVersionEvent(1717200000),
    encodeScalarEvent(1, 'train/loss', 3.7),
    encodeScalarEvent(1, 'param_rms/blocks.0.attn.qkv.weight', 0.02),
    encodeScalarEvent(1, 'rel_step/pos_embed', Infinity),
    encodeTensorScalarEvent(2, 'grad_rms/head.weight', 0.5, { metadata: true }),
    encodeTensorScalarEvent(3, 'grad_rms/head.weight', 0.25, { dtype: 'double' }),
    encodeTf2HistogramEvent(
      2,
      'grads/head.weight',
      [
        [-1, 0, 3],
        [0, 1, 5],
      ],
      { metadata: true },
    ),
    encodeHistogramEvent(3, 'params/embed.weight', {
      min: -0.1,
      max: 0.1,
      num: 10,
      sum: 0.01,
      sumSquares: 0.02,
      bucketLimits: [-0.05, 0, 0.05, 0.1],
      bucketCounts: [2, 3, 3, 2],
    }),
  ];
  return Uint8Array.from(Buffer.concat(parts.map(frameRecord)));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function mutate(seed: Uint8Array, r: () => number): { bytes: Uint8Array; resealed: boolean } {
  let b: Uint8Array = Uint8Array.from(seed);
  const n = 1 + Math.floor(r() * 4);
  const offsets = recordOffsets(b);
  for (let k = 0; k < n; k++) {
    const kind = Math.floor(r() * 9);
    const at = Math.floor(r() * b.length);
    switch (kind) {
      case 0: // bit flip
        if (b.length) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
        break;
      case 1: // random byte
        if (b.length) b[at] = Math.floor(r() * 256);
        break;
      case 2: // interesting byte values at a protobuf-ish spot
        if (b.length) b[at] = [0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x2a, 0x0b, 0x0f][Math.floor(r() * 9)]!;
        break;
      case 3: // truncate
        b = b.slice(0, at);
        break;
      case 4: {
        // delete a run of bytes
        const len = Math.floor(r() * 16) + 1;
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + len)));
        break;
      }
      case 5: {
        // insert random bytes
        const len = Math.floor(r() * 16) + 1;
        const ins = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 6: {
        // duplicate a record (or a random slice)
        const o = offsets.length ? offsets[Math.floor(r() * offsets.length)]! : at;
        const end = Math.min(b.length, o + 16 + (b.length > o + 4 ? new DataView(b.buffer).getUint32(o, true) : 0));
        b = concat(b.subarray(0, end), b.subarray(o, end), b.subarray(end));
        break;
      }
      case 7: {
        // a huge or odd length field in a record header
        const o = offsets.length ? offsets[Math.floor(r() * offsets.length)]! : 0;
        if (o + 8 <= b.length) {
          const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
          const choice = Math.floor(r() * 4);
          if (choice === 0) dv.setUint32(o + 4, 0xffffffff, true);
          else if (choice === 1) dv.setUint32(o, 0xfffffff0, true);
          else if (choice === 2) dv.setUint32(o, dv.getUint32(o, true) + 1 + Math.floor(r() * 8), true);
          else dv.setUint32(o, Math.max(0, dv.getUint32(o, true) - 1 - Math.floor(r() * 8)), true);
        }
        break;
      }
      default: {
        // a varint field made long: 0xff bytes inside a payload
        for (let i = 0; i < 10 && at + i < b.length; i++) b[at + i] = 0xff;
      }
    }
  }
  const resealed = r() < 0.5;
  if (resealed) reseal(b);
  return { bytes: b, resealed };
}

/** The RunData contract a surface relies on. */
function checkRun(run: RunData, size: number): void {
  for (const i of run.issues) {
    assert.ok(i.severity === 'error' || i.severity === 'warning');
    assert.equal(typeof i.message, 'string');
    if (i.offset !== undefined) assert.ok(Number.isInteger(i.offset) && i.offset >= 0 && i.offset <= size, `issue offset ${i.offset}`);
  }
  for (const o of observationsOf(run)) {
    assert.ok(Number.isFinite(o.step), 'observation step');
    for (const v of Object.values(o.figures)) assert.ok(v === null || Number.isFinite(v), `figure ${v}`);
  }
  for (const g of globalsOf(run)) for (const v of Object.values(g.values)) assert.ok(Number.isFinite(v), `global ${v}`);
  for (const h of run.histograms) {
    assert.equal(h.bucketLimits.length, h.bucketCounts.length);
    for (const v of [h.num, h.sum, h.sumSquares]) assert.ok(Number.isFinite(v), `histogram sums ${v}`);
    assert.ok(h.num >= 0 && h.sumSquares >= 0, 'histogram num and sum_squares ≥ 0');
  }
}

test(`fuzz: ${CASES} seeded mutations of event files give RunData or ReaderError only`, { timeout: 120_000 * FUZZ_SCALE }, async (t) => {
  const adam = readFileSync(fixturePath('adam_base', 'tb', EVENTS));
  // The first records of adam_base up to ~24 KB (a histogram record is ~10 KB) and a cut 200 KB slice,
  // the two bad/ files, and a synthetic file with TF2 tensors and histograms.
  const adamOffsets = recordOffsets(adam.subarray(0, 300_000));
  const smallEnd = adamOffsets.find((o) => o > 24_000) ?? 24_000;
  const seeds: [string, Uint8Array][] = [
    ['tb_truncated', Uint8Array.from(readFileSync(fixturePath('bad', 'tb_truncated', EVENTS)))],
    ['tb_bad_crc', Uint8Array.from(readFileSync(fixturePath('bad', 'tb_bad_crc', EVENTS)))],
    ['synthetic', syntheticSeed()],
    ['adam_base head', Uint8Array.from(adam.subarray(0, smallEnd))],
  ];
  const big = Uint8Array.from(adam.subarray(0, 200_000));
  const r = rng(0x5eed7fe);
  const outcomes = { ok: 0, readerError: 0, withIssues: 0, resealed: 0, malformedEvents: 0, lengthCrc: 0, dataCrc: 0, truncated: 0 };
  for (let i = 0; i < CASES; i++) {
    // One case in 200 mutates the 200 KB slice (bounded total time); the rest the small seeds.
    const [name, seed] = i % 200 === 199 ? ['adam_base 200 KB', big] : seeds[i % seeds.length]!;
    const { bytes, resealed } = mutate(seed, r);
    if (resealed) outcomes.resealed++;
    const chunkBytes = i % 3 === 0 ? 64 + Math.floor(r() * 512) : undefined;
    try {
      const run = await readTfeventsBytes(bytes, `fuzz/${name}/${i}/${EVENTS}`, { chunkBytes });
      checkRun(run, bytes.length);
      outcomes.ok++;
      if (run.issues.length) outcomes.withIssues++;
      for (const x of run.issues) {
        if (x.message.startsWith('malformed event')) outcomes.malformedEvents++;
        else if (x.message.startsWith('length CRC')) outcomes.lengthCrc++;
        else if (x.message.startsWith('data CRC')) outcomes.dataCrc++;
        else if (x.message.startsWith('truncated')) outcomes.truncated++;
      }
    } catch (err) {
      if (err instanceof ReaderError) {
        outcomes.readerError++;
        assert.ok(err.message.includes(`fuzz/${name}/${i}/`), 'ReaderError names the file');
        continue;
      }
      const hex = Buffer.from(bytes).toString('base64');
      throw new Error(
        `case ${i} (${name}, resealed ${resealed}, chunk ${chunkBytes}): ${(err as Error).stack}\ninput (base64): ${hex.slice(0, 4000)}`,
      );
    }
  }
  t.diagnostic(JSON.stringify(outcomes));
  assert.equal(outcomes.ok + outcomes.readerError, CASES);
  // The mutations reach every outcome (not only "rejected by CRC").
  assert.ok(outcomes.ok > CASES / 4, JSON.stringify(outcomes));
  assert.ok(outcomes.withIssues > CASES / 10, JSON.stringify(outcomes));
  assert.ok(outcomes.readerError > 0, JSON.stringify(outcomes));
  for (const k of ['malformedEvents', 'lengthCrc', 'dataCrc', 'truncated'] as const)
    assert.ok(outcomes[k] > 100, `${k}: ${JSON.stringify(outcomes)}`);
});

test('fuzz: every prefix of a synthetic file (a file being written) reads without error', async () => {
  const bytes = syntheticSeed();
  for (let cut = 0; cut <= bytes.length; cut++) {
    const run = await readTfeventsBytes(bytes.subarray(0, cut), `prefix/${cut}/${EVENTS}`, { chunkBytes: 64 });
    assert.ok(
      run.issues.every((i) => i.severity === 'warning'),
      `cut ${cut}: ${JSON.stringify(run.issues)}`,
    );
    checkRun(run, cut);
  }
});
