// What io needs to stream a tensor's elements: where its bytes are and how they are laid out. The run
// model's TensorRef adds which layer and role the tensor is.

/** Element types a tensor reader can hand to the stats kernel (U8: bitsandbytes' 8-bit optimizer-state codes). */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'U8';

/** Where a tensor's bytes are: read by offset, never loaded whole. */
export interface ByteSource {
  /** Absolute or CLI-relative file path. */
  path: string;
  /** Byte offset of the first element (of the compressed stream for 'deflate'). */
  offset: number;
  /** Bytes stored at `offset` (compressed size for 'deflate'). */
  storedLength: number;
  /** 'none': raw little-endian elements; 'deflate': a raw deflate stream (zip method 8). */
  compression: 'none' | 'deflate';
  /** 'deflate' only: decompressed bytes to skip before the first element (an npz member's npy header). */
  skipInflated?: number;
  /** 'deflate' only: the stream's declared decompressed size (the zip directory's); output beyond it is an error. */
  inflatedLength?: number;
}

/** A tensor's bytes in a file: dtype, shape and layout, read by offset. */
export interface TensorBytes {
  /** The key exactly as stored in the file (for messages). */
  key: string;
  dtype: Dtype;
  shape: number[];
  numel: number;
  source: ByteSource;
  /**
   * Element strides (in elements) when the tensor is not C-contiguous; absent for contiguous data.
   * The stats kernel refuses non-contiguous refs unless they are a contiguous slice.
   */
  strides?: number[];
  /** Element offset into `source` (torch storages: storage_offset). Default 0. */
  elementOffset?: number;
}
