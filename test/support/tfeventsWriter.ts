// Event-file writers for tests and fuzz seeds: TFRecord framing and the Event / Summary shapes the
// writers in the wild produce (tensorboardX / TF1 simple_value, HistogramProto, TF2 tensors).

import { crc32c, maskCrc32c } from '../../src/core/io/crc32c';
import { ProtoWriter } from './protoWriter';

// TensorProto dtypes (FORMATS.md).
const DT_FLOAT = 1;
const DT_DOUBLE = 2;

/** Frame a payload as one TFRecord: u64 length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 16);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length >>> 0, true);
  dv.setUint32(4, Math.floor(payload.length / 4294967296), true);
  dv.setUint32(8, maskCrc32c(crc32c(out, 0, 8)), true);
  out.set(payload, 12);
  dv.setUint32(12 + payload.length, maskCrc32c(crc32c(payload)), true);
  return out;
}

/** The first event of every file: file_version "brain.Event:2". */
export function encodeFileVersionEvent(wallTime = 0): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

function pluginMetadata(w: ProtoWriter, plugin: string): void {
  w.message(9, (m) => m.message(1, (pd) => pd.string(1, plugin)));
}

/** A tensorboardX / TF1 scalar: Summary.Value.simple_value (float32). */
export function encodeScalarEvent(step: number, tag: string, value: number, wallTime = 0): Uint8Array {
  return new ProtoWriter()
    .double(1, wallTime)
    .varint(2, step)
    .message(5, (s) => s.message(1, (v) => v.string(1, tag).float(2, value)))
    .finish();
}

/** A HistogramProto (`add_histogram`): exact num, sum, sum_squares. */
export function encodeHistogramEvent(
  step: number,
  tag: string,
  h: { min: number; max: number; num: number; sum: number; sumSquares: number; bucketLimits: number[]; bucketCounts: number[] },
  wallTime = 0,
): Uint8Array {
  return new ProtoWriter()
    .double(1, wallTime)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) =>
        v
          .string(1, tag)
          .message(5, (hp) =>
            hp
              .double(1, h.min)
              .double(2, h.max)
              .double(3, h.num)
              .double(4, h.sum)
              .double(5, h.sumSquares)
              .packedDoubles(6, h.bucketLimits)
              .packedDoubles(7, h.bucketCounts),
          ),
      ),
    )
    .finish();
}

/** A TF2 scalar: rank-0 tensor (DT_FLOAT float_val, or DT_DOUBLE double_val), plugin `scalars` on request. */
export function encodeTensorScalarEvent(
  step: number,
  tag: string,
  value: number,
  opts: { dtype?: 'float' | 'double'; metadata?: boolean; wallTime?: number } = {},
): Uint8Array {
  const dbl = opts.dtype === 'double';
  return new ProtoWriter()
    .double(1, opts.wallTime ?? 0)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) => {
        v.string(1, tag);
        v.message(8, (t) => {
          t.varint(1, dbl ? DT_DOUBLE : DT_FLOAT).message(2, () => undefined);
          if (dbl) t.packedDoubles(6, [value]);
          else t.packedFloats(5, [value]);
        });
        if (opts.metadata) pluginMetadata(v, 'scalars');
      }),
    )
    .finish();
}

/** A TF2 histogram: [k,3] DT_DOUBLE tensor of (left edge, right edge, count) in tensor_content. */
export function encodeTf2HistogramEvent(
  step: number,
  tag: string,
  buckets: [number, number, number][],
  opts: { metadata?: boolean; wallTime?: number } = {},
): Uint8Array {
  const content = new Uint8Array(buckets.length * 24);
  const dv = new DataView(content.buffer);
  buckets.forEach((b, i) => b.forEach((x, j) => dv.setFloat64((i * 3 + j) * 8, x, true)));
  return new ProtoWriter()
    .double(1, opts.wallTime ?? 0)
    .varint(2, step)
    .message(5, (s) =>
      s.message(1, (v) => {
        v.string(1, tag);
        v.message(8, (t) =>
          t
            .varint(1, DT_DOUBLE)
            .message(2, (sh) => sh.message(2, (d) => d.varint(1, buckets.length)).message(2, (d) => d.varint(1, 3)))
            .bytesField(4, content),
        );
        if (opts.metadata) pluginMetadata(v, 'histograms');
      }),
    )
    .finish();
}
