import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { INFLATE_WHOLE_MAX, TensorChunkReader, readTensorValues } from '../../../src/core/io/tensorData';
import { readNpz } from '../../../src/core/readers/npz';
import { ReaderError } from '../../../src/core/errors';
import { npyZeros, npzBomb, zipArchive } from '../../support/hostileBinary';

// Deflated members are inflated in bounded memory whatever their ratio: one synchronous inflate only for
// a member that declares at most INFLATE_WHOLE_MAX bytes, else a stream of 1 MiB chunks; output beyond
// the declared size, or short of it, is an error at the member.

/** Largest output of any synchronous raw inflate while `fn` runs (the zlib module is shared with the reader). */
async function largestWholeInflate<T>(fn: () => Promise<T>): Promise<{ result: T; largest: number }> {
  const z = zlib as unknown as { inflateRawSync: typeof zlib.inflateRawSync };
  const original = z.inflateRawSync;
  let largest = 0;
  z.inflateRawSync = ((buf: zlib.InputType, opts?: zlib.ZlibOptions) => {
    const out = original(buf, opts);
    largest = Math.max(largest, out.length);
    return out;
  }) as typeof zlib.inflateRawSync;
  try {
    return { result: await fn(), largest };
  } finally {
    z.inflateRawSync = original;
  }
}

test('an npz of deflated zero arrays that inflate 1000:1 is streamed: no single inflate holds a member, every element is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-bomb-'));
  try {
    const elements = 16 * 1024 * 1024; // 64 MiB per member from ~64 KB of deflate
    const path = join(dir, 'bomb.npz');
    const bytes = npzBomb(2, elements);
    assert.ok(bytes.length < 200_000, `${bytes.length} bytes on disk`);
    writeFileSync(path, bytes);
    const { result, largest } = await largestWholeInflate(async () => {
      const run = await readNpz(path);
      let count = 0;
      let sumSq = 0;
      for (const ref of run.snapshots[0].tensors) {
        assert.equal(ref.source.compression, 'deflate');
        assert.equal(ref.source.inflatedLength, 128 + elements * 4);
        const reader = new TensorChunkReader(ref);
        for (let c = await reader.next(); c; c = await reader.next()) {
          count += c.length;
          for (let i = 0; i < c.length; i += 4096) sumSq += c[i] * c[i];
        }
      }
      return { count, sumSq, tensors: run.snapshots[0].tensors.length };
    });
    assert.deepEqual(result, { count: 2 * elements, sumSq: 0, tensors: 2 });
    assert.ok(largest <= INFLATE_WHOLE_MAX, `a synchronous inflate of ${largest} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a small member still inflates in one call; one that inflates past its declared size, or short of it, is an error at the member', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-lie-'));
  try {
    const small = npyZeros(1000);
    const ok = join(dir, 'ok.npz');
    writeFileSync(ok, zipArchive([{ name: 'w.npy', data: small, deflate: true }]));
    const { result, largest } = await largestWholeInflate(async () => [
      ...(await readTensorValues((await readNpz(ok)).snapshots[0].tensors[0])),
    ]);
    assert.equal(result.length, 1000);
    assert.equal(largest, small.length);

    // The npy header says 1000 elements and the directory agrees; the deflate stream holds 1000 more.
    const long = new Uint8Array(small.length + 4000);
    long.set(small);
    const over = join(dir, 'over.npz');
    writeFileSync(over, zipArchive([{ name: 'w.npy', data: long, deflate: true, declaredSize: small.length }]));
    const ref = (await readNpz(over)).snapshots[0].tensors[0];
    await assert.rejects(readTensorValues(ref), (e: unknown) => {
      assert.ok(e instanceof ReaderError);
      assert.match(e.reason, new RegExp(`inflates to more than the ${small.length} bytes it declares`));
      assert.equal(e.offset, ref.source.offset);
      return true;
    });

    // A large member (streamed) whose stream ends before its declared size.
    const big = npyZeros(1 << 20);
    const cut = big.subarray(0, big.length - 4096);
    const under = join(dir, 'under.npz');
    writeFileSync(under, zipArchive([{ name: 'w.npy', data: cut, deflate: true, declaredSize: big.length }]));
    const ref2 = (await readNpz(under)).snapshots[0].tensors[0];
    await assert.rejects(readTensorValues(ref2), (e: unknown) => {
      assert.ok(e instanceof ReaderError);
      assert.match(e.reason, /deflate stream of 'w' ended early/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
