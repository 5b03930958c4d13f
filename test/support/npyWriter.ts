import { writeFileSync } from 'node:fs';
import type { TensorRef } from '../../src/core/run/types';

/** Write a float32 .npy (v1.0) and describe it as a TensorRef: for tests that need tensors on disk. */
export function writeNpyF32(path: string, values: ArrayLike<number>, shape: number[], layer: string, role: TensorRef['role']): TensorRef {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  const data = Buffer.from(new Float32Array(Array.from(values)).buffer);
  writeFileSync(path, Buffer.concat([head, data]));
  return {
    layer,
    role,
    key: `${role}/${layer}`,
    dtype: 'F32',
    shape,
    numel: values.length,
    source: { path, offset: head.length, storedLength: data.length, compression: 'none' },
  };
}
