import { SNAPSHOT_SCALAR_KEYS, classifyTensorKey } from '../run/tensorKeys';
import { ReaderError, echo } from '../errors';
import { emptyRunData, type ReadIssue, type RunData, type TensorRef, type TensorSnapshot } from '../run/types';
import type { ReadOptions, Reader } from './reader';
import { FileBytes, withFile } from '../io/fileBytes';
import { MAX_NPY_HEADER, decodeNpyScalar, fortranStrides, npyHeaderLength, parseNpyHeader, type NpyHeader } from './npy';
import { stepFromFilePath } from '../run/stepNames';
import { fillLayers } from '../run/tensorLayers';
import { inflatePrefix, openZipFile, type ZipEntry } from '../io/zip';

// NumPy .npz: a zip of `<key>.npy` members, stored (numpy.savez, zip64 extras) or deflated
// (numpy.savez_compressed). Stored members become TensorRefs at the member's absolute data offset;
// for deflated members only the start of the stream is inflated (to read the npy header) and the
// tensor is described as a deflate source that skips the header's decompressed bytes.
// 0-d members (step, lr, …) are read (a few bytes) into the snapshot's scalars.

export const NPZ_FORMAT = 'npz';

export async function readNpz(path: string, options: ReadOptions = {}): Promise<RunData> {
  options.signal?.throwIfAborted();
  return withFile(path, (file) => readNpzFile(file, options));
}

async function readNpzFile(file: FileBytes, options: ReadOptions): Promise<RunData> {
  const path = file.path;
  const zip = await openZipFile(file);
  const run = emptyRunData();
  run.inputs.push({ path, format: NPZ_FORMAT });
  const issues = run.issues;
  if (zip.truncated) {
    const stop = zip.problems[zip.problems.length - 1];
    const cause = zip.problems[0];
    const missing = !cause || /end of central directory record not found/.test(cause.message);
    const head = missing ? 'truncated archive: central directory missing' : `damaged archive: ${cause.message}`;
    issues.push({
      severity: 'error',
      path,
      offset: stop?.offset ?? zip.size,
      message: `${head}; recovered ${zip.entries.length} of ? members${stop && zip.problems.length > 1 ? ` (${stop.message})` : ''}`,
    });
  } else {
    for (const p of zip.problems) issues.push({ severity: 'warning', path, offset: p.offset, message: p.message });
  }

  const tensors: TensorRef[] = [];
  const scalars: Record<string, number> = {};
  const seen = new Map<string, string>(); // "layer\0role" -> key
  const n = zip.entries.length;
  for (let i = 0; i < n; i++) {
    options.signal?.throwIfAborted();
    const entry = zip.entries[i];
    try {
      await readMember(file, entry, tensors, scalars, seen, issues);
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      issues.push({
        severity: 'error',
        path,
        offset: err.offset ?? entry.localHeaderOffset,
        message: `member '${echo(entry.name)}' skipped: ${err.reason}`,
      });
    }
    options.onProgress?.((i + 1) / n);
  }

  if (tensors.length === 0 && Object.keys(scalars).length === 0) {
    const first = issues.find((x) => x.severity === 'error');
    throw new ReaderError(path, `no readable arrays in the archive${first ? ` (${first.message})` : ''}`, {
      offset: first?.offset ?? 0,
    });
  }

  const stepScalar = scalars.step ?? scalars.global_step;
  const step = stepScalar !== undefined && Number.isInteger(stepScalar) && stepScalar >= 0 ? stepScalar : stepFromFilePath(path);
  const snapshot: TensorSnapshot = { step, tensors, path };
  if (Object.keys(scalars).length > 0) snapshot.scalars = scalars;
  run.snapshots.push(snapshot);
  if (scalars.lr !== undefined && Number.isFinite(scalars.lr)) run.hyper.lr = scalars.lr;
  fillLayers(run, tensors);
  return run;
}

async function readMember(
  file: FileBytes,
  entry: ZipEntry,
  tensors: TensorRef[],
  scalars: Record<string, number>,
  seen: Map<string, string>,
  issues: ReadIssue[],
): Promise<void> {
  const path = file.path;
  if (!entry.name.endsWith('.npy')) {
    if (!entry.name.endsWith('/')) {
      issues.push({
        severity: 'warning',
        path,
        offset: entry.localHeaderOffset,
        message: `member '${echo(entry.name)}' is not an .npy array; ignored`,
      });
    }
    return;
  }
  const key = entry.name.slice(0, -4);
  if ((entry.flags & 0x1) !== 0) throw new ReaderError(path, 'member is encrypted', { offset: entry.localHeaderOffset });
  let header: NpyHeader;
  let dataOffset: number; // stored: absolute offset of the first element
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw new ReaderError(path, `stored member sizes disagree (${entry.compressedSize} vs ${entry.uncompressedSize})`, {
        offset: entry.localHeaderOffset,
      });
    }
    header = await storedHeader(file, entry);
    dataOffset = entry.dataOffset + header.headerLength;
  } else if (entry.method === 8) {
    header = await deflatedHeader(file, entry);
    dataOffset = -1;
  } else {
    throw new ReaderError(path, `unsupported compression method ${entry.method}`, { offset: entry.localHeaderOffset });
  }
  const expected = header.headerLength + header.dataBytes;
  if (expected !== entry.uncompressedSize) {
    throw new ReaderError(
      path,
      `array (${echo(header.descr, 40)}, shape (${header.shape.join(', ')})) needs ${expected} bytes with its header, the member holds ${entry.uncompressedSize}`,
      { offset: entry.dataOffset },
    );
  }

  if (header.shape.length === 0) {
    if (header.kind === 'other') {
      issues.push({
        severity: 'warning',
        path,
        offset: entry.dataOffset,
        message: `0-d member '${echo(key)}' of dtype ${echo(header.descr, 40)} ignored`,
      });
      return;
    }
    const bytes =
      entry.method === 0
        ? await file.read(dataOffset, header.itemSize)
        : (await inflatePrefix(file, entry, header.headerLength + header.itemSize)).subarray(header.headerLength);
    const value = decodeNpyScalar(header, bytes);
    if (value === null) {
      issues.push({
        severity: 'warning',
        path,
        offset: entry.dataOffset,
        message: `0-d member '${echo(key)}' has a value beyond 2^53; ignored`,
      });
      return;
    }
    scalars[key] = value;
    return;
  }

  if (!header.dtype) {
    const note = SNAPSHOT_SCALAR_KEYS.has(key) ? '' : ' (only little-endian float arrays <f2, <f4, <f8 are tensors)';
    issues.push({
      severity: 'warning',
      path,
      offset: entry.dataOffset,
      message: `member '${echo(key)}' of dtype ${echo(header.descr, 40)} skipped${note}`,
    });
    return;
  }
  const { layer, role } = classifyTensorKey(key);
  const dupKey = `${layer}\0${role}`;
  const prev = seen.get(dupKey);
  if (prev !== undefined) {
    issues.push({
      severity: 'warning',
      path,
      offset: entry.localHeaderOffset,
      message: `member '${echo(key)}' is a second ${role} of layer '${echo(layer)}' (first: '${echo(prev)}'); ignored`,
    });
    return;
  }
  seen.set(dupKey, key);
  const ref: TensorRef = {
    layer,
    role,
    key,
    dtype: header.dtype,
    shape: header.shape,
    numel: header.numel,
    source:
      entry.method === 0
        ? { path, offset: dataOffset, storedLength: header.dataBytes, compression: 'none' }
        : {
            path,
            offset: entry.dataOffset,
            storedLength: entry.compressedSize,
            compression: 'deflate',
            skipInflated: header.headerLength,
            inflatedLength: entry.uncompressedSize,
          },
  };
  if (header.fortranOrder) {
    const strides = fortranStrides(header.shape);
    if (strides) ref.strides = strides;
  }
  tensors.push(ref);
}

async function storedHeader(file: FileBytes, entry: ZipEntry): Promise<NpyHeader> {
  const path = file.path;
  let head = await file.read(entry.dataOffset, Math.min(entry.compressedSize, 4096));
  const len = npyHeaderLength(head, path, entry.dataOffset);
  if (len === null) throw new ReaderError(path, `npy header cut short (${head.length} bytes)`, { offset: entry.dataOffset });
  if (len > entry.compressedSize) {
    throw new ReaderError(path, `npy header of ${len} bytes is longer than the member (${entry.compressedSize} bytes)`, {
      offset: entry.dataOffset + 8,
    });
  }
  if (len > head.length) head = await file.read(entry.dataOffset, len);
  return parseNpyHeader(head, path, entry.dataOffset);
}

async function deflatedHeader(file: FileBytes, entry: ZipEntry): Promise<NpyHeader> {
  const path = file.path;
  // Offsets in messages are those of the compressed member data (the header is inside the stream).
  let head = await inflatePrefix(file, entry, Math.min(entry.uncompressedSize, 4096));
  const len = npyHeaderLength(head, path, entry.dataOffset);
  if (len === null) throw new ReaderError(path, `npy header cut short (${head.length} bytes inflated)`, { offset: entry.dataOffset });
  if (len > entry.uncompressedSize || len > MAX_NPY_HEADER + 12) {
    throw new ReaderError(path, `npy header of ${len} bytes is longer than the member (${entry.uncompressedSize} bytes)`, {
      offset: entry.dataOffset,
    });
  }
  if (len > head.length) head = await inflatePrefix(file, entry, len);
  if (head.length < len) throw new ReaderError(path, `deflate stream ends inside the npy header`, { offset: entry.dataOffset });
  try {
    return parseNpyHeader(head, path, 0);
  } catch (err) {
    if (err instanceof ReaderError) {
      // Positions inside the inflated header are not file offsets; point at the member instead.
      throw new ReaderError(path, `${err.reason} (in the inflated header${err.offset !== undefined ? ` at byte ${err.offset}` : ''})`, {
        offset: entry.dataOffset,
      });
    }
    throw err;
  }
}

export const npzReader: Reader = {
  format: NPZ_FORMAT,
  // By name: an .npz whose first bytes are wrong is read, and the zip reader names the byte offset.
  detect(path: string): boolean {
    return /\.npz$/i.test(path);
  },
  read: readNpz,
};
