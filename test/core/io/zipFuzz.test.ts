import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReaderError } from '../../../src/core/errors';
import { openZip, readZipEntry } from '../../../src/core/io/zip';
import { TensorChunkReader } from '../../../src/core/io/tensorData';
import { readNpz } from '../../../src/core/readers/npz';
import { npyZeros, zipArchive, type ZipMember } from '../../support/hostileBinary';
import { CaseBudget, fuzzCases, fuzzSeed, int, pick, rng, type Rand } from '../../support/fuzz';

// A structure-aware fuzzer for zip archives and npz files: archives built from members (stored or
// deflated npy arrays, some of them deflate bombs, some garbage) whose sizes lie — the declared
// uncompressed size smaller, larger, zero or 4 GiB; then directory fields overwritten (sizes, local
// header offsets, entry count, name lengths), and cut short. Each case asserts a result or the reader's
// own error, and every described tensor is streamed to its end or to its error. Bounded by construction:
// arrays of at most 1M elements (4 MiB inflated), checked against the per-case budget (test/support/fuzz.ts).
// 1000 cases in the unit suite, FUZZ_SCALE times as many in `npm run fuzz`.

const CASES = fuzzCases(1000);
const SEED = fuzzSeed(0x21f5);

type R = Rand;

function member(r: R, i: number): ZipMember {
  const kind = r();
  const elements = kind < 0.15 ? pick(r, [1 << 19, 1 << 20]) : int(r, 300); // some deflate bombs (2–4 MiB streamed)
  const data = kind < 0.9 ? npyZeros(elements) : Uint8Array.from({ length: int(r, 200) }, () => int(r, 256));
  const m: ZipMember = {
    name: r() < 0.95 ? `param/w${i}.npy` : pick(r, ['x', 'a/', `w${i}.npy`, '\x1b[2J.npy']),
    data,
    deflate: r() < 0.6,
  };
  const lie = r();
  if (lie < 0.1) m.declaredSize = Math.max(0, data.length - 1 - int(r, 100));
  else if (lie < 0.2) m.declaredSize = data.length + 1 + int(r, 1 << 20);
  else if (lie < 0.25) m.declaredSize = pick(r, [0, 0xffffffff, 0x7fffffff]);
  return m;
}

/** Overwrite a few fields of the central directory or local headers with hostile values. */
function corrupt(buf: Buffer, r: R): Buffer {
  const out = Buffer.from(buf);
  const central: number[] = [];
  const local: number[] = [];
  for (let p = 0; p + 4 <= out.length; p++) {
    const sig = out.readUInt32LE(p);
    if (sig === 0x02014b50) central.push(p);
    else if (sig === 0x04034b50) local.push(p);
  }
  const eocd = out.length - 22;
  const n = int(r, 3);
  for (let k = 0; k < n; k++) {
    const c = r();
    const v = pick(r, [0, 1, 0xffff, 0xffffffff, 0x7fffffff, int(r, out.length * 2), int(r, 1 << 30)]);
    if (c < 0.4 && central.length) {
      // method, compressed size, uncompressed size, name length, extra length, local header offset
      const [field, width] = pick(r, [
        [10, 2],
        [20, 4],
        [24, 4],
        [28, 2],
        [30, 2],
        [42, 4],
      ] as const);
      const at = pick(r, central) + field;
      if (width === 2) out.writeUInt16LE(v & 0xffff, at);
      else out.writeUInt32LE(v >>> 0, at);
    } else if (c < 0.6 && local.length) {
      out.writeUInt16LE(v & 0xffff, pick(r, local) + pick(r, [26, 28, 8]));
    } else if (c < 0.8 && eocd > 0 && out.readUInt32LE(eocd) === 0x06054b50) {
      const f = pick(r, [8, 10, 12, 16, 20]);
      if (f <= 10 || f === 20) out.writeUInt16LE(v & 0xffff, eocd + f);
      else out.writeUInt32LE(v >>> 0, eocd + f);
    } else if (c < 0.9 && local.length) {
      // damage the data of a member after its first 160 bytes (its npy header stays readable)
      const at = pick(r, local) + 30 + 160 + int(r, 200);
      if (at < out.length) out[at] ^= 1 + int(r, 255);
    } else {
      return out.subarray(0, int(r, out.length));
    }
  }
  return out;
}

function readerErrorOnly(e: unknown, what: string): void {
  if (!(e instanceof ReaderError)) {
    const err = e as Error;
    assert.fail(`${what}: escaped ${err?.name}: ${err?.message}\n${err?.stack}`);
  }
  assert.ok(e.message.length < 800, `${what}: message of ${e.message.length} characters`);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\x00-\x08\x0b-\x1f]/.test(e.message), `${what}: control characters in ${JSON.stringify(e.message)}`);
}

test(`zip/npz with lying sizes, bombs and overwritten directory fields: ${CASES} cases, a result or the reader's error, every tensor streamed (seed ${SEED})`, async (t) => {
  const r = rng(SEED);
  const budget = new CaseBudget();
  const dir = mkdtempSync(join(tmpdir(), 'ol-zipfuzz-'));
  const outcome = { read: 0, refused: 0, tensorsRead: 0, tensorsRefused: 0 };
  try {
    for (let i = 0; i < CASES; i++) {
      const t0 = budget.start();
      const members = Array.from({ length: 1 + int(r, 4) }, (_, k) => member(r, k));
      let bytes = zipArchive(members);
      if (r() < 0.5) bytes = corrupt(bytes, r);
      const path = join(dir, `case${i % 8}.npz`);
      writeFileSync(path, bytes);
      const what = `case ${i}`;
      try {
        const zip = await openZip(path);
        for (const e of zip.entries.slice(0, 3)) {
          try {
            const b = await readZipEntry(zip, e, 4096);
            assert.ok(b.length <= 4096);
          } catch (err) {
            readerErrorOnly(err, `${what} entry ${e.name}`);
          }
        }
      } catch (err) {
        readerErrorOnly(err, `${what} openZip`);
      }
      try {
        const run = await readNpz(path);
        outcome.read++;
        for (const ref of run.snapshots[0].tensors) {
          let count = 0;
          try {
            const reader = new TensorChunkReader(ref);
            try {
              for (let c = await reader.next(); c; c = await reader.next()) count += c.length;
            } finally {
              reader.close();
            }
            assert.equal(count, ref.numel, `${what} ${ref.key}: ${count} of ${ref.numel} elements`);
            outcome.tensorsRead++;
          } catch (err) {
            readerErrorOnly(err, `${what} tensor ${ref.key}`);
            outcome.tensorsRefused++;
          }
        }
        for (const issue of run.issues) assert.ok(issue.message.length < 800, `${what}: issue of ${issue.message.length} characters`);
      } catch (err) {
        readerErrorOnly(err, `${what} readNpz`);
        outcome.refused++;
      }
      budget.done(what, t0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [k, v] of Object.entries(outcome)) assert.ok(v > 0, `${k}: ${JSON.stringify(outcome)}`);
  t.diagnostic(`${JSON.stringify(outcome)}; ${budget.report()}`);
});
