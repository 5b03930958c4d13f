// A minimal protobuf wire-format decoder: varint, 64-bit, length-delimited and 32-bit fields,
// packed or unpacked repeated numbers. It decodes nothing by itself: callers walk a message's
// fields with `next()` and read or `skip()` each one, so unknown fields (a TensorBoard graph_def,
// say) are stepped over without being decoded. One instance is reused for every message of a
// file (no per-record allocation); nested messages are read by narrowing `end` and restoring it.
//
// Malformed input (a varint longer than 10 bytes, a length past the end of the message, wire
// types 3/4/6/7) throws ProtobufError with the absolute byte offset; it never reads out of
// bounds and never allocates from a length field (lengths are checked against the buffer first).

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export class ProtobufError extends Error {
  /** Offset of the problem inside the decoded buffer. */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.name = 'ProtobufError';
    this.at = at;
  }
}

const TWO_32 = 4294967296;

export class ProtoReader {
  buf: Uint8Array;
  pos = 0;
  end = 0;
  /** Field number and wire type of the field header last read by `next()`. */
  field = 0;
  wireType = 0;
  private view: DataView;

  constructor(buf: Uint8Array = new Uint8Array(0), start = 0, end = buf.length) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** Point the reader at bytes[start, end) of `buf` (reuses the DataView when `buf` is unchanged). */
  reset(buf: Uint8Array, start: number, end: number): void {
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    if (start < 0 || end > buf.length || start > end) throw new ProtobufError('message range out of bounds', start);
    this.pos = start;
    this.end = end;
  }

  /** Read the next field header; false at the end of the current message. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const at = this.pos;
    const key = this.varint32();
    const wt = key & 7;
    const field = key >>> 3;
    if (field === 0) throw new ProtobufError('field number 0', at);
    if (wt === 3 || wt === 4 || wt > 5) throw new ProtobufError(`unsupported wire type ${wt} (field ${field})`, at);
    this.field = field;
    this.wireType = wt;
    return true;
  }

  /** A varint that fits in 32 bits (field keys, lengths); longer varints are read fully, upper bits dropped. */
  varint32(): number {
    const b = this.buf;
    let p = this.pos;
    const end = this.end;
    if (p >= end) throw new ProtobufError('varint past end of message', p);
    let x = b[p++]!;
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
    x &= 0x7f;
    let shift = 7;
    for (let i = 1; i < 10; i++) {
      if (p >= end) throw new ProtobufError('varint past end of message', p);
      const c = b[p++]!;
      if (shift < 32) x |= (c & 0x7f) << shift;
      shift += 7;
      if (c < 0x80) {
        this.pos = p;
        return x >>> 0;
      }
    }
    throw new ProtobufError('varint longer than 10 bytes', this.pos);
  }

  /** A varint as a JS number: exact up to 2^53, int64 negatives (10-byte two's complement) as negatives. */
  varint(): number {
    const b = this.buf;
    let p = this.pos;
    const end = this.end;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new ProtobufError('varint past end of message', p);
      const c = b[p++]!;
      const bits = c & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      shift += 7;
      if (c < 0x80) {
        this.pos = p;
        return hi === 0 ? lo >>> 0 : (hi | 0) * TWO_32 + (lo >>> 0);
      }
    }
    throw new ProtobufError('varint longer than 10 bytes', this.pos);
  }

  double(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw new ProtobufError('64-bit field past end of message', p);
    this.pos = p + 8;
    return this.view.getFloat64(p, true);
  }

  float(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw new ProtobufError('32-bit field past end of message', p);
    this.pos = p + 4;
    return this.view.getFloat32(p, true);
  }

  /** Read a length prefix and return the end offset of the payload; `pos` is then its start. */
  lengthDelimited(): number {
    const at = this.pos;
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) throw new ProtobufError(`length ${n} past end of message`, at);
    return this.pos + n;
  }

  /** Skip the value of the field whose header `next()` just read. */
  skip(): void {
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varint32();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) throw new ProtobufError('64-bit field past end of message', this.pos);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) throw new ProtobufError('32-bit field past end of message', this.pos);
        this.pos += 4;
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${this.wireType}`, this.pos);
    }
  }

  /** Enter a nested message: returns the outer end to pass to `leave()`. */
  enter(): number {
    const inner = this.lengthDelimited();
    const outer = this.end;
    this.end = inner;
    return outer;
  }

  leave(outerEnd: number): void {
    this.pos = this.end;
    this.end = outerEnd;
  }

  /** A length-delimited string field as UTF-8. */
  string(): string {
    const e = this.lengthDelimited();
    const s = utf8Decode(this.buf, this.pos, e);
    this.pos = e;
    return s;
  }

  /** Append a repeated double field (packed or one element) to `out`. */
  repeatedDouble(out: number[]): void {
    if (this.wireType === WIRE_FIXED64) {
      out.push(this.double());
      return;
    }
    if (this.wireType !== WIRE_LEN) throw new ProtobufError(`double field with wire type ${this.wireType}`, this.pos);
    const e = this.lengthDelimited();
    if ((e - this.pos) % 8 !== 0) throw new ProtobufError('packed doubles not a multiple of 8 bytes', this.pos);
    const v = this.view;
    for (let p = this.pos; p < e; p += 8) out.push(v.getFloat64(p, true));
    this.pos = e;
  }

  /** Append a repeated float field (packed or one element) to `out`. */
  repeatedFloat(out: number[]): void {
    if (this.wireType === WIRE_FIXED32) {
      out.push(this.float());
      return;
    }
    if (this.wireType !== WIRE_LEN) throw new ProtobufError(`float field with wire type ${this.wireType}`, this.pos);
    const e = this.lengthDelimited();
    if ((e - this.pos) % 4 !== 0) throw new ProtobufError('packed floats not a multiple of 4 bytes', this.pos);
    const v = this.view;
    for (let p = this.pos; p < e; p += 4) out.push(v.getFloat32(p, true));
    this.pos = e;
  }

  /** Append a repeated varint field (packed or one element) to `out`. */
  repeatedVarint(out: number[]): void {
    if (this.wireType === WIRE_VARINT) {
      out.push(this.varint());
      return;
    }
    if (this.wireType !== WIRE_LEN) throw new ProtobufError(`varint field with wire type ${this.wireType}`, this.pos);
    const outer = this.enter();
    while (this.pos < this.end) out.push(this.varint());
    this.leave(outer);
  }

  /** True when the field header last read is (field, wireType). */
  is(field: number, wireType: number): boolean {
    return this.field === field && this.wireType === wireType;
  }

  /** Check that a field has the expected wire type. */
  expect(wireType: number): void {
    if (this.wireType !== wireType) {
      throw new ProtobufError(`field ${this.field}: wire type ${this.wireType}, expected ${wireType}`, this.pos);
    }
  }

  /** Little-endian reads of raw bytes (tensor_content). */
  get dataView(): DataView {
    return this.view;
  }
}

const decoder = new TextDecoder('utf-8');

/** UTF-8 decode bytes[start, end); ASCII fast path without a TextDecoder call for short strings. */
export function utf8Decode(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
      return s;
    }
  }
  return decoder.decode(b.subarray(start, end));
}
