// A minimal protobuf encoder, the counterpart of src/core/readers/protobuf.ts's ProtoReader: builds
// event files byte by byte for tests and fuzz seeds.

import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from '../../src/core/readers/protobuf';

/**
 * A minimal protobuf encoder (the counterpart of ProtoReader) used to build event files for tests,
 * fuzz seeds and the bench. Fields are written in call order; nested messages via `message()`.
 */
export class ProtoWriter {
  private bytes: number[] = [];

  private key(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  private rawVarint(v: number): void {
    if (v < 0) {
      // int64 two's complement: 10 bytes.
      let big = BigInt.asUintN(64, BigInt(Math.trunc(v)));
      for (let i = 0; i < 10; i++) {
        const b = Number(big & 0x7fn);
        big >>= 7n;
        this.bytes.push(big === 0n ? b : b | 0x80);
        if (big === 0n) return;
      }
      return;
    }
    let x = Math.trunc(v);
    while (x >= 0x80) {
      this.bytes.push((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    this.bytes.push(x);
  }

  varint(field: number, v: number): this {
    this.key(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, WIRE_FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  bytesField(field: number, data: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.rawVarint(data.length);
    for (const x of data) this.bytes.push(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    build(w);
    return this.bytesField(field, w.finish());
  }

  packedDoubles(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat64(i * 8, v, true));
    return this.bytesField(field, b);
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytesField(field, b);
  }

  packedVarints(field: number, values: readonly number[]): this {
    const w = new ProtoWriter();
    for (const v of values) w.rawVarint(v);
    return this.bytesField(field, w.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}
