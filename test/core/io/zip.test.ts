import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { openZip, readZipEntry, findEntry } from '../../../src/core/io/zip';
import { ReaderError } from '../../../src/core/errors';
import { fixturePath } from '../../support/fixtures';

const paramOrder: string[] = JSON.parse(readFileSync(fixturePath('adam_base', 'config.json'), 'utf8')).param_order;

test('zip: numpy.savez archive (zip64 extras in local headers) lists every member at its data offset', async () => {
  const path = fixturePath('adam_base', 'tensors', 'step_000001.npz');
  const zip = await openZip(path);
  assert.equal(zip.truncated, false);
  assert.deepEqual(zip.problems, []);
  const names = new Set(zip.entries.map((e) => e.name));
  assert.ok(names.has('step.npy') && names.has('lr.npy'));
  for (const prefix of ['param_before', 'grad', 'param_after', 'exp_avg', 'exp_avg_sq']) {
    for (const layer of paramOrder) assert.ok(names.has(`${prefix}/${layer}.npy`), `${prefix}/${layer}.npy`);
  }
  assert.equal(zip.entries.length, 2 + 5 * paramOrder.length);
  const file = readFileSync(path);
  for (const e of zip.entries) {
    assert.equal(e.method, 0);
    // The data offset is where the npy magic is.
    assert.equal(file.subarray(e.dataOffset, e.dataOffset + 6).toString('latin1'), '\x93NUMPY', e.name);
    // readZipEntry checks the CRC-32 against the central directory.
    const bytes = await readZipEntry(zip, e);
    assert.equal(bytes.length, e.uncompressedSize);
    assert.deepEqual(Buffer.from(bytes), file.subarray(e.dataOffset, e.dataOffset + e.uncompressedSize));
  }
});

test('zip: savez_compressed members inflate to npy bytes; a prefix read inflates only the start', async () => {
  const zip = await openZip(fixturePath('adam_base', 'dump', 'step_000001.npz'));
  assert.equal(zip.entries.length, 2 * paramOrder.length);
  for (const e of zip.entries) {
    assert.equal(e.method, 8);
    const whole = await readZipEntry(zip, e);
    assert.equal(whole.length, e.uncompressedSize);
    const head = await readZipEntry(zip, e, 10);
    assert.equal(head.length, 10);
    assert.deepEqual(head, whole.subarray(0, 10));
    assert.equal(Buffer.from(head.subarray(0, 6)).toString('latin1'), '\x93NUMPY');
  }
});

test('zip: torch.save archive (data descriptors, FB padding, zip64 end record)', async () => {
  const path = fixturePath('adam_base', 'ckpt', 'model_step000060.pt');
  const zip = await openZip(path);
  assert.equal(zip.truncated, false);
  const pkl = findEntry(zip, 'model_step000060/data.pkl');
  assert.ok(pkl);
  assert.ok((pkl.flags & 0x8) !== 0, 'torch writes data descriptors');
  const bytes = await readZipEntry(zip, pkl);
  assert.equal(bytes[0], 0x80); // pickle PROTO
  assert.equal(bytes[bytes.length - 1], 0x2e); // STOP
  const storages = zip.entries.filter((e) => e.name.startsWith('model_step000060/data/'));
  assert.equal(storages.length, paramOrder.length);
  for (const e of storages) {
    assert.equal(e.dataOffset % 64, 0, `${e.name} is 64-byte aligned by the FB extra`);
    await readZipEntry(zip, e); // CRC check
  }
});

test('zip: truncated.npz (central directory missing) recovers the complete first member', async () => {
  const path = fixturePath('bad', 'truncated.npz');
  const zip = await openZip(path);
  assert.equal(zip.truncated, true);
  assert.deepEqual(
    zip.entries.map((e) => e.name),
    ['param_before/embed.weight.npy'],
  );
  const e = zip.entries[0];
  assert.ok(e.dataOffset + e.compressedSize <= zip.size);
  await readZipEntry(zip, e); // CRC from the local header matches
  assert.ok(zip.problems.some((p) => /end of central directory/.test(p.message)));
  assert.ok(zip.problems.some((p) => /grad\/embed\.weight\.npy/.test(p.message) && p.offset > 0));
});

test('zip: a truncated torch archive is recovered through its data descriptors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-zip-'));
  try {
    const full = readFileSync(fixturePath('adam_base', 'ckpt', 'model_step000060.pt'));
    const whole = await openZip(fixturePath('adam_base', 'ckpt', 'model_step000060.pt'));
    const third = [...whole.entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)[2];
    const cut = join(dir, 'cut.pt');
    writeFileSync(cut, full.subarray(0, third.dataOffset + 10));
    const zip = await openZip(cut);
    assert.equal(zip.truncated, true);
    assert.equal(zip.entries.length, 2);
    for (const e of zip.entries) {
      const ref = whole.entries.find((w) => w.name === e.name)!;
      assert.equal(e.dataOffset, ref.dataOffset);
      assert.equal(e.compressedSize, ref.compressedSize);
      assert.equal(e.crc32, ref.crc32);
      await readZipEntry(zip, e);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Build a small zip by hand; `zip64` forces 0xFFFFFFFF sizes/offsets with zip64 extras everywhere. */
function buildZip(members: { name: string; data: Uint8Array; deflate?: boolean }[], zip64: boolean): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const stored = m.deflate ? zlib.deflateRawSync(m.data) : Buffer.from(m.data);
    const crc = zlib.crc32(m.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(m.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(zip64 ? 0xffffffff : stored.length, 18);
    local.writeUInt32LE(zip64 ? 0xffffffff : m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const lextra = Buffer.alloc(zip64 ? 20 : 0);
    if (zip64) {
      lextra.writeUInt16LE(1, 0);
      lextra.writeUInt16LE(16, 2);
      lextra.writeBigUInt64LE(BigInt(m.data.length), 4);
      lextra.writeBigUInt64LE(BigInt(stored.length), 12);
    }
    local.writeUInt16LE(lextra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(45, 6);
    cd.writeUInt16LE(m.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(zip64 ? 0xffffffff : stored.length, 20);
    cd.writeUInt32LE(zip64 ? 0xffffffff : m.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    const cextra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      cextra.writeUInt16LE(1, 0);
      cextra.writeUInt16LE(24, 2);
      cextra.writeBigUInt64LE(BigInt(m.data.length), 4);
      cextra.writeBigUInt64LE(BigInt(stored.length), 12);
      cextra.writeBigUInt64LE(BigInt(offset), 20);
    }
    cd.writeUInt16LE(cextra.length, 30);
    cd.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    central.push(cd, name, cextra);
    parts.push(local, name, lextra, stored);
    offset += local.length + name.length + lextra.length + stored.length;
  }
  const cdBuf = Buffer.concat(central);
  const cdOffset = offset;
  const tail: Buffer[] = [];
  if (zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(members.length), 24);
    z.writeBigUInt64LE(BigInt(members.length), 32);
    z.writeBigUInt64LE(BigInt(cdBuf.length), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdBuf.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(z, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : members.length, 8);
  eocd.writeUInt16LE(zip64 ? 0xffff : members.length, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cdBuf.length, 12);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cdOffset, 16);
  tail.push(eocd);
  return Buffer.concat([...parts, cdBuf, ...tail]);
}

test('zip: zip64 sizes and offsets (0xFFFFFFFF placeholders) come from the zip64 extras and end record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-zip-'));
  try {
    const a = new Uint8Array(1000).map((_, i) => i % 251);
    const b = new Uint8Array(3000).map((_, i) => (i * 7) % 13);
    for (const zip64 of [false, true]) {
      const path = join(dir, `t${zip64 ? 64 : 32}.zip`);
      writeFileSync(
        path,
        buildZip(
          [
            { name: 'a.bin', data: a },
            { name: 'b.bin', data: b, deflate: true },
          ],
          zip64,
        ),
      );
      const zip = await openZip(path);
      assert.deepEqual(zip.problems, []);
      assert.deepEqual(
        zip.entries.map((e) => [e.name, e.method, e.uncompressedSize]),
        [
          ['a.bin', 0, 1000],
          ['b.bin', 8, 3000],
        ],
      );
      assert.deepEqual(await readZipEntry(zip, zip.entries[0]), a);
      assert.deepEqual(await readZipEntry(zip, zip.entries[1]), b);
      // Recovery without the directory reads the same members from the local headers (zip64 extra too).
      const cutPath = join(dir, 'cut.zip');
      const full = readFileSync(path);
      writeFileSync(cutPath, full.subarray(0, zip.entries[1].dataOffset + zip.entries[1].compressedSize + 5));
      const cut = await openZip(cutPath);
      assert.equal(cut.truncated, true);
      assert.deepEqual(
        cut.entries.map((e) => [e.name, e.dataOffset, e.compressedSize]),
        zip.entries.map((e) => [e.name, e.dataOffset, e.compressedSize]),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zip: files that are not zips give a ReaderError naming the file and an offset', async () => {
  for (const p of [fixturePath('bad', 'unsafe_global_os_system.pt'), fixturePath('adam_base', 'config.json')]) {
    await assert.rejects(openZip(p), (err: unknown) => {
      assert.ok(err instanceof ReaderError);
      assert.equal(err.path, p);
      // Neither file starts with PK\x03\x04: the error is at byte 0 and shows what is there.
      assert.equal(err.offset, 0);
      assert.match(
        err.message,
        /not a zip archive: it starts with [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} where a zip starts with 50 4b 03 04/,
      );
      return true;
    });
  }
  await assert.rejects(openZip('/nonexistent/x.npz'), ReaderError);
});
