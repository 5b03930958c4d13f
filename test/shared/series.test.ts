// Series columns appended in place (src/shared/series.ts, concatColumns): a followed log's refresh extends each
// column into its buffer's spare room instead of copying the whole run, and no column ever sees another's values.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { concatColumns } from '../../src/shared/series';

const f64 = (...xs: number[]) => Float64Array.from(xs);

describe('concatColumns', () => {
  it('extends the newest column of a buffer it made in place; older and branching columns keep their values', () => {
    const first = concatColumns(f64(1, 2), f64(3));
    assert.deepEqual([...first], [1, 2, 3]);
    const second = concatColumns(first, f64(4, 5));
    assert.equal(second.buffer, first.buffer, 'in place');
    assert.deepEqual([...second], [1, 2, 3, 4, 5]);
    assert.deepEqual([...first], [1, 2, 3], 'the shorter column is unchanged');
    // another append to the older column (a state extended twice) copies: the newer column keeps 4, 5
    const branch = concatColumns(first, f64(9));
    assert.notEqual(branch.buffer, first.buffer);
    assert.deepEqual([...branch], [1, 2, 3, 9]);
    assert.deepEqual([...second], [1, 2, 3, 4, 5]);
    // appends past the spare room move to a larger buffer
    let c = second;
    for (let i = 0; i < 100; i++) c = concatColumns(c, f64(i));
    assert.equal(c.length, 105);
    assert.deepEqual([...c.subarray(0, 6)], [1, 2, 3, 4, 5, 0]);
    assert.equal(c[104], 99);
  });

  it('never writes into a buffer it did not make (packed views, shared engine columns); float32 stays float32 only when both are', () => {
    const packed = f64(1, 2, 3, 4, 5, 6);
    const view = packed.subarray(0, 3); // one layer's column in the wire buffer, the next layer's after it
    const out = concatColumns(view, f64(7));
    assert.notEqual(out.buffer, packed.buffer);
    assert.deepEqual([...packed], [1, 2, 3, 4, 5, 6]);
    const a = concatColumns(Float32Array.from([1]), Float32Array.from([2]));
    assert.ok(a instanceof Float32Array);
    const b = concatColumns(a, f64(0.1));
    assert.ok(b instanceof Float64Array);
    assert.deepEqual([...b], [1, 2, 0.1]);
    assert.ok(concatColumns(a, Float32Array.from([3])) instanceof Float32Array);
  });
});
