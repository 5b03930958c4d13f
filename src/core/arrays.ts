/**
 * Append every item of `items` to `target`. `target.push(...items)` passes each item as a call argument
 * and throws RangeError (call stack) beyond ~100k items — a long log has hundreds of thousands.
 */
export function appendAll<T>(target: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) target.push(items[i]);
}

/** The union of two ascending arrays, distinct values, ascending (a view of a new array). */
export function mergeUnique(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (n === 0 || out[n - 1] !== x) out[n++] = x;
  }
  return out.subarray(0, n);
}

/** Every value of ascending `b` (repeats allowed) is in ascending `d`: merging `b` into `d` would give `d`. */
export function within(b: Float64Array, d: Float64Array): boolean {
  let j = 0;
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    while (j < d.length && d[j]! < x) j++;
    if (j === d.length || d[j] !== x) return false;
  }
  return true;
}

/** `n` bytes of `x` at `xAt` equal those of `y` at `yAt`: four at a time (unaligned reads are fine), then the rest. */
export function sameBytes(x: DataView, xAt: number, y: DataView, yAt: number, n: number): boolean {
  let i = 0;
  for (; i + 4 <= n; i += 4) if (x.getInt32(xAt + i) !== y.getInt32(yAt + i)) return false;
  for (; i < n; i++) if (x.getUint8(xAt + i) !== y.getUint8(yAt + i)) return false;
  return true;
}
