import * as zlib from 'node:zlib';
import { ReaderError, echo } from '../errors';
import { FileBytes, MAX_RANGE_BYTES, dataView, readU64, withFile } from './fileBytes';

// A zip reader that never reads a whole archive: the end record from the file's tail, the central
// directory by offset, each member's local header (30 bytes) for its data offset. zip64 (locator,
// zip64 end record, zip64 extra fields) is handled; torch.save's data descriptors (flag bit 3) and
// "FB" padding extras are handled by taking sizes from the central directory and computing the data
// offset from the local header's own name and extra lengths. An archive without an end record
// (cut short) is recovered by scanning local headers from the start.

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Offset of the member's first data byte, from the local header's own name+extra lengths. */
  dataOffset: number;
  crc32: number;
  /** General-purpose flags (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8 names). */
  flags: number;
}

export interface ZipProblem {
  offset: number;
  message: string;
}

export interface ZipArchive {
  path: string;
  size: number;
  entries: ZipEntry[];
  /** End record missing, entries recovered by scanning local headers. */
  truncated: boolean;
  /** Problems met while reading the directory (entries that were skipped, recovery notes). */
  problems: ZipProblem[];
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const CENTRAL_FIXED = 46;
const LOCAL_FIXED = 30;
/** A member bigger than this is not read whole by readZipEntry (tensors are read by offset instead). */
export const MAX_ENTRY_READ = 256 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Read the directory of a zip archive. ReaderError when it is not a zip or nothing is recoverable. */
export async function openZip(path: string): Promise<ZipArchive> {
  return withFile(path, (file) => openZipFile(file));
}

/** Same as openZip, on an already open file. */
export async function openZipFile(file: FileBytes): Promise<ZipArchive> {
  const path = file.path;
  let directoryError: ReaderError;
  try {
    const entries: ZipEntry[] = [];
    const problems: ZipProblem[] = [];
    await readCentralDirectory(file, entries, problems);
    return { path, size: file.size, entries, truncated: false, problems };
  } catch (err) {
    if (!(err instanceof ReaderError)) throw err;
    directoryError = err;
  }
  // No usable end record / central directory: recover complete members from their local headers.
  const problems: ZipProblem[] = [{ offset: directoryError.offset ?? 0, message: directoryError.reason }];
  const entries = await scanLocalHeaders(file, problems);
  if (entries.length === 0) {
    const head = await file.readUpTo(0, 4);
    if (head.length < 4 || dataView(head).getUint32(0, true) !== SIG_LOCAL) {
      // Not a zip from its first byte: say so there (a damaged start, or another format under a zip name).
      const shown = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new ReaderError(
        path,
        `not a zip archive: it starts with ${shown || 'nothing'} where a zip starts with 50 4b 03 04, and ${directoryError.reason}`,
        { offset: 0 },
      );
    }
    const scanNote = problems.length > 1 ? `; ${problems[problems.length - 1].message}` : '';
    throw new ReaderError(path, `not a readable zip archive: ${directoryError.reason}${scanNote}`, {
      offset: directoryError.offset ?? 0,
    });
  }
  return { path, size: file.size, entries, truncated: true, problems };
}

interface EndRecord {
  eocdOffset: number;
  entryCount: number;
  cdSize: number;
  cdOffset: number;
}

async function findEndRecord(file: FileBytes): Promise<EndRecord> {
  const path = file.path;
  if (file.size < EOCD_SIZE) {
    throw new ReaderError(path, `file of ${file.size} bytes is too short for a zip end record`, { offset: 0 });
  }
  const tailStart = Math.max(0, file.size - (MAX_COMMENT + EOCD_SIZE));
  const tail = await file.read(tailStart, file.size - tailStart);
  const view = dataView(tail);
  let found = -1;
  let fallback = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (view.getUint32(i, true) !== SIG_EOCD) continue;
    const commentLen = view.getUint16(i + 20, true);
    if (i + EOCD_SIZE + commentLen === tail.length) {
      found = i;
      break;
    }
    if (fallback < 0 && i + EOCD_SIZE + commentLen <= tail.length) fallback = i;
  }
  if (found < 0) found = fallback;
  if (found < 0) {
    throw new ReaderError(path, 'end of central directory record not found (truncated or not a zip)', { offset: file.size });
  }
  const eocdOffset = tailStart + found;
  let entryCount = view.getUint16(found + 10, true);
  let cdSize = view.getUint32(found + 12, true);
  let cdOffset = view.getUint32(found + 16, true);
  const disk = view.getUint16(found + 4, true);
  const cdDisk = view.getUint16(found + 6, true);

  // zip64: a locator right before the end record points at the zip64 end record.
  const locAt = eocdOffset - 20;
  let zip64 = false;
  if (locAt >= 0) {
    const loc = dataView(await file.read(locAt, 20));
    if (loc.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      const z64Offset = readU64(loc, 8);
      if (!(z64Offset + 56 <= locAt)) {
        throw new ReaderError(path, `zip64 end record offset ${z64Offset} is outside the file`, { offset: locAt });
      }
      const z = dataView(await file.read(z64Offset, 56));
      if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) {
        throw new ReaderError(path, 'zip64 end record signature not found where the locator points', { offset: z64Offset });
      }
      entryCount = readU64(z, 32);
      cdSize = readU64(z, 40);
      cdOffset = readU64(z, 48);
      zip64 = true;
    }
  }
  if (!zip64 && (disk !== 0 || cdDisk !== 0)) {
    throw new ReaderError(path, 'multi-disk (spanned) zip archives are not supported', { offset: eocdOffset });
  }
  const cdLimit = zip64 ? locAt : eocdOffset;
  if (!Number.isSafeInteger(cdOffset) || !Number.isSafeInteger(cdSize) || cdOffset + cdSize > cdLimit) {
    throw new ReaderError(
      path,
      `central directory (offset ${cdOffset}, ${cdSize} bytes) does not lie before the end record at ${eocdOffset}`,
      { offset: eocdOffset },
    );
  }
  if (!Number.isSafeInteger(entryCount) || entryCount * CENTRAL_FIXED > cdSize) {
    throw new ReaderError(path, `end record claims ${entryCount} entries in a ${cdSize}-byte central directory`, {
      offset: eocdOffset,
    });
  }
  return { eocdOffset, entryCount, cdSize, cdOffset };
}

async function readCentralDirectory(file: FileBytes, entries: ZipEntry[], problems: ZipProblem[]): Promise<void> {
  const path = file.path;
  const end = await findEndRecord(file);
  if (end.cdSize > MAX_RANGE_BYTES) {
    throw new ReaderError(path, `central directory of ${end.cdSize} bytes is too large`, { offset: end.cdOffset });
  }
  const cd = await file.read(end.cdOffset, end.cdSize);
  const view = dataView(cd);
  let p = 0;
  for (let i = 0; i < end.entryCount; i++) {
    const at = end.cdOffset + p;
    if (p + CENTRAL_FIXED > cd.length || view.getUint32(p, true) !== SIG_CENTRAL) {
      throw new ReaderError(path, `central directory entry ${i} of ${end.entryCount}: bad signature`, { offset: at });
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc32 = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let uncompressedSize = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    let diskStart = view.getUint16(p + 34, true);
    let localHeaderOffset = view.getUint32(p + 42, true);
    const varEnd = p + CENTRAL_FIXED + nameLen + extraLen + commentLen;
    if (varEnd > cd.length) {
      throw new ReaderError(path, `central directory entry ${i} runs past the directory's end`, { offset: at });
    }
    const name = utf8.decode(cd.subarray(p + CENTRAL_FIXED, p + CENTRAL_FIXED + nameLen));
    const extra = cd.subarray(p + CENTRAL_FIXED + nameLen, p + CENTRAL_FIXED + nameLen + extraLen);
    const z64 = findExtra(extra, 0x0001);
    if (z64) {
      const zv = dataView(z64);
      let q = 0;
      const take = (): number | null => {
        if (q + 8 > z64.length) return null;
        const v = readU64(zv, q);
        q += 8;
        return v;
      };
      let bad = false;
      if (uncompressedSize === 0xffffffff) uncompressedSize = take() ?? ((bad = true), 0);
      if (compressedSize === 0xffffffff) compressedSize = take() ?? ((bad = true), 0);
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = take() ?? ((bad = true), 0);
      if (diskStart === 0xffff) {
        if (q + 4 <= z64.length) diskStart = zv.getUint32(q, true);
        else bad = true;
      }
      if (bad) {
        problems.push({ offset: at, message: `entry '${echo(name)}': zip64 extra field too short; skipped` });
        p = varEnd;
        continue;
      }
    }
    p = varEnd;
    if (!Number.isSafeInteger(compressedSize) || !Number.isSafeInteger(uncompressedSize) || !Number.isSafeInteger(localHeaderOffset)) {
      problems.push({ offset: at, message: `entry '${echo(name)}': size or offset beyond 2^53; skipped` });
      continue;
    }
    if (localHeaderOffset + LOCAL_FIXED > end.cdOffset) {
      problems.push({
        offset: at,
        message: `entry '${echo(name)}': local header offset ${localHeaderOffset} is outside the member area; skipped`,
      });
      continue;
    }
    const local = dataView(await file.read(localHeaderOffset, LOCAL_FIXED));
    if (local.getUint32(0, true) !== SIG_LOCAL) {
      problems.push({
        offset: localHeaderOffset,
        message: `entry '${echo(name)}': no local file header at offset ${localHeaderOffset}; skipped`,
      });
      continue;
    }
    const dataOffset = localHeaderOffset + LOCAL_FIXED + local.getUint16(26, true) + local.getUint16(28, true);
    if (dataOffset + compressedSize > end.cdOffset) {
      problems.push({
        offset: localHeaderOffset,
        message: `entry '${echo(name)}': ${compressedSize} data bytes at offset ${dataOffset} run past the member area; skipped`,
      });
      continue;
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset, dataOffset, crc32, flags });
  }
}

/** The payload of extra field `id` inside an extra block, or null. */
function findExtra(extra: Uint8Array, id: number): Uint8Array | null {
  const v = dataView(extra);
  let p = 0;
  while (p + 4 <= extra.length) {
    const hid = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (p + 4 + len > extra.length) return null;
    if (hid === id) return extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return null;
}

/**
 * Recover members of an archive whose central directory is missing: walk local headers from offset 0
 * while each header and its data are complete. Sizes come from the local header (or its zip64 extra);
 * with a data descriptor (flag bit 3, sizes 0 in the header) the descriptor is searched for.
 */
async function scanLocalHeaders(file: FileBytes, problems: ZipProblem[]): Promise<ZipEntry[]> {
  const entries: ZipEntry[] = [];
  let pos = 0;
  while (pos + LOCAL_FIXED <= file.size) {
    const h = dataView(await file.read(pos, LOCAL_FIXED));
    const sig = h.getUint32(0, true);
    if (sig !== SIG_LOCAL) {
      if (sig !== SIG_CENTRAL && entries.length > 0) {
        problems.push({ offset: pos, message: `no local file header at offset ${pos}; recovery stopped` });
      } else if (entries.length === 0) {
        problems.push({ offset: pos, message: `no local file header at offset ${pos}` });
      }
      return entries;
    }
    const flags = h.getUint16(6, true);
    const method = h.getUint16(8, true);
    let crc32 = h.getUint32(14, true);
    let compressedSize = h.getUint32(18, true);
    let uncompressedSize = h.getUint32(22, true);
    const nameLen = h.getUint16(26, true);
    const extraLen = h.getUint16(28, true);
    const dataOffset = pos + LOCAL_FIXED + nameLen + extraLen;
    if (dataOffset > file.size) {
      problems.push({ offset: pos, message: `local header at offset ${pos} is cut short; recovery stopped` });
      return entries;
    }
    const varBytes = await file.read(pos + LOCAL_FIXED, nameLen + extraLen);
    const name = utf8.decode(varBytes.subarray(0, nameLen));
    const z64 = findExtra(varBytes.subarray(nameLen), 0x0001);
    if (z64 && (uncompressedSize === 0xffffffff || compressedSize === 0xffffffff)) {
      // In a local header the zip64 extra holds both sizes (uncompressed first).
      if (z64.length >= 16) {
        const zv = dataView(z64);
        uncompressedSize = readU64(zv, 0);
        compressedSize = readU64(zv, 8);
      }
    }
    let next: number;
    if ((flags & 0x8) !== 0 && compressedSize === 0) {
      const d = await findDescriptor(file, dataOffset, z64 !== null);
      if (!d) {
        problems.push({
          offset: pos,
          message: `member '${echo(name)}' at offset ${pos}: data descriptor not found (data cut short); recovery stopped`,
        });
        return entries;
      }
      compressedSize = d.compressedSize;
      uncompressedSize = d.uncompressedSize;
      crc32 = d.crc32;
      next = d.next;
    } else {
      next = dataOffset + compressedSize;
      if ((flags & 0x8) !== 0) next += descriptorLength(file, next, z64 !== null);
    }
    if (!Number.isSafeInteger(compressedSize) || dataOffset + compressedSize > file.size) {
      problems.push({
        offset: pos,
        message: `member '${echo(name)}' at offset ${pos}: ${compressedSize} data bytes at offset ${dataOffset} run past the end of the file (${file.size} bytes); recovery stopped`,
      });
      return entries;
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset: pos, dataOffset, crc32, flags });
    pos = next;
  }
  if (pos < file.size) problems.push({ offset: pos, message: `file ends inside a local header at offset ${pos}` });
  return entries;
}

function descriptorLength(_file: FileBytes, _at: number, zip64: boolean): number {
  // Signature (optional, but every writer we meet writes it) + crc + two sizes.
  return zip64 ? 24 : 16;
}

/** Search forward from `dataStart` for a data descriptor whose compressed size equals its distance. */
async function findDescriptor(
  file: FileBytes,
  dataStart: number,
  zip64: boolean,
): Promise<{ compressedSize: number; uncompressedSize: number; crc32: number; next: number } | null> {
  const CHUNK = 1 << 20;
  let from = dataStart;
  while (from + 16 <= file.size) {
    const buf = await file.readUpTo(from, CHUNK + 24);
    const v = dataView(buf);
    const last = Math.min(buf.length - 16, CHUNK - 1);
    for (let i = 0; i <= last; i++) {
      if (v.getUint32(i, true) !== SIG_DESCRIPTOR) continue;
      const dist = from + i - dataStart;
      const fits64 = i + 24 <= buf.length && readU64(v, i + 8) === dist;
      const fits32 = v.getUint32(i + 8, true) === dist;
      if (fits64 && (zip64 || !fits32)) {
        return { compressedSize: dist, uncompressedSize: readU64(v, i + 16), crc32: v.getUint32(i + 4, true), next: from + i + 24 };
      }
      if (fits32) {
        return { compressedSize: dist, uncompressedSize: v.getUint32(i + 12, true), crc32: v.getUint32(i + 4, true), next: from + i + 16 };
      }
    }
    if (buf.length < CHUNK + 24) break;
    from += CHUNK;
  }
  return null;
}

/** Find an entry by exact name. */
export function findEntry(archive: ZipArchive, name: string): ZipEntry | undefined {
  return archive.entries.find((e) => e.name === name);
}

/**
 * A member's bytes, inflated; for small members (data.pkl, npy headers). With `maxBytes`, at most that
 * many bytes from the start of the member (a deflated member is only inflated that far). The CRC is
 * checked when the whole member is read.
 */
export async function readZipEntry(archive: ZipArchive, entry: ZipEntry, maxBytes?: number): Promise<Uint8Array> {
  return withFile(archive.path, (file) => readZipEntryFrom(file, entry, maxBytes));
}

/** Same as readZipEntry, on an already open file. */
export async function readZipEntryFrom(file: FileBytes, entry: ZipEntry, maxBytes?: number): Promise<Uint8Array> {
  const path = file.path;
  const where = { offset: entry.localHeaderOffset };
  if ((entry.flags & 0x1) !== 0) throw new ReaderError(path, `member '${echo(entry.name)}' is encrypted`, where);
  const want = maxBytes === undefined ? entry.uncompressedSize : Math.min(Math.max(0, Math.floor(maxBytes)), entry.uncompressedSize);
  const whole = want === entry.uncompressedSize;
  if (want > MAX_ENTRY_READ) {
    throw new ReaderError(path, `member '${echo(entry.name)}' (${entry.uncompressedSize} bytes) is too large to read whole`, where);
  }
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw new ReaderError(
        path,
        `stored member '${echo(entry.name)}' has compressed size ${entry.compressedSize} but uncompressed size ${entry.uncompressedSize}`,
        where,
      );
    }
    const bytes = await file.read(entry.dataOffset, want);
    if (whole) checkCrc(path, entry, bytes);
    return bytes;
  }
  if (entry.method === 8) {
    const bytes = await inflatePrefix(file, entry, want);
    if (whole) {
      if (bytes.length !== entry.uncompressedSize) {
        throw new ReaderError(
          path,
          `member '${echo(entry.name)}' inflates to ${bytes.length} bytes, the directory says ${entry.uncompressedSize}`,
          where,
        );
      }
      checkCrc(path, entry, bytes);
    }
    return bytes;
  }
  throw new ReaderError(path, `member '${echo(entry.name)}' uses unsupported compression method ${entry.method}`, where);
}

function checkCrc(path: string, entry: ZipEntry, bytes: Uint8Array): void {
  const crc = zlib.crc32(bytes) >>> 0;
  if (crc !== entry.crc32 >>> 0) {
    throw new ReaderError(path, `member '${echo(entry.name)}': CRC-32 mismatch (stored ${hex(entry.crc32)}, computed ${hex(crc)})`, {
      offset: entry.localHeaderOffset,
    });
  }
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** Deflate cannot expand more than ~1032:1 (258-byte matches in a bit or two): the bound on any prefix's output. */
const MAX_DEFLATE_RATIO = 1100;

/**
 * Inflate the first `want` bytes of a deflated member. Inflates a growing prefix of the compressed stream
 * (doubling), starting from the smallest prefix that could hold `want` bytes at deflate's maximum ratio:
 * output never exceeds ~2× `want` whatever the ratio (a deflate bomb's first megabyte costs a megabyte).
 */
export async function inflatePrefix(file: FileBytes, entry: ZipEntry, want: number): Promise<Uint8Array> {
  const path = file.path;
  const where = { offset: entry.dataOffset };
  if (want === 0) return new Uint8Array(0);
  let take = Math.min(entry.compressedSize, Math.max(1024, Math.ceil(want / MAX_DEFLATE_RATIO)));
  for (;;) {
    const compressed = await file.read(entry.dataOffset, take);
    const complete = take === entry.compressedSize;
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(compressed, {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.min(MAX_ENTRY_READ + 1, Math.max(want, MAX_DEFLATE_RATIO * take + 65536)),
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new ReaderError(path, `member '${echo(entry.name)}': corrupt deflate stream (${msg})`, where);
    }
    if (out.length >= want) return new Uint8Array(out.buffer, out.byteOffset, want);
    if (complete) return new Uint8Array(out.buffer, out.byteOffset, out.length);
    take = Math.min(entry.compressedSize, take * 2);
  }
}
