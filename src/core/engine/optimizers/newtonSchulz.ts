// Newton–Schulz orthogonalization as Muon runs it (Keller Jordan's quintic iteration): X = G/‖G‖_F (transposed to
// the wide orientation), then `steps` times A = XXᵀ, B = b·A + c·A², X ← a·X + B·X; transposed back. Each step
// maps every singular value s to a·s + b·s³ + c·s⁵. Computed in float64 (implementations run it in bfloat16 on the
// accelerator; the difference is bfloat16's precision, not a different rule).

/** Floating-point operations of one orthogonalization of a rows × cols matrix (multiply-adds counted as 2). */
export function newtonSchulzFlops(rows: number, cols: number, steps: number): number {
  const m = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return steps * (2 * m * m * n + 2 * m * m * m);
}

export function newtonSchulz(
  g: Float64Array,
  rows: number,
  cols: number,
  steps: number,
  coefficients: [number, number, number],
  eps: number,
  epsMode: 'add' | 'clamp',
): Float64Array {
  const [a, b, c] = coefficients;
  const tall = rows > cols;
  const m = tall ? cols : rows;
  const n = tall ? rows : cols;
  let x = new Float64Array(m * n);
  if (tall) {
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) x[k * n + r] = g[r * cols + k];
  } else x.set(g);
  let norm = 0;
  for (let i = 0; i < x.length; i++) norm += x[i] * x[i];
  norm = Math.sqrt(norm);
  const div = epsMode === 'add' ? norm + eps : Math.max(norm, eps);
  for (let i = 0; i < x.length; i++) x[i] /= div;
  const A = new Float64Array(m * m);
  const B = new Float64Array(m * m);
  let next = new Float64Array(m * n);
  for (let s = 0; s < steps; s++) {
    // A = X·Xᵀ (symmetric: upper triangle, mirrored).
    for (let i = 0; i < m; i++) {
      const xi = i * n;
      for (let j = i; j < m; j++) {
        const xj = j * n;
        let d = 0;
        for (let k = 0; k < n; k++) d += x[xi + k] * x[xj + k];
        A[i * m + j] = d;
        A[j * m + i] = d;
      }
    }
    // B = b·A + c·A·A (A·A symmetric too).
    for (let i = 0; i < m; i++) {
      for (let j = i; j < m; j++) {
        let d = 0;
        for (let k = 0; k < m; k++) d += A[i * m + k] * A[k * m + j];
        const v = b * A[i * m + j] + c * d;
        B[i * m + j] = v;
        B[j * m + i] = v;
      }
    }
    // X ← a·X + B·X (row i of the product accumulated from rows k of X).
    for (let i = 0; i < m; i++) {
      const oi = i * n;
      for (let k = 0; k < n; k++) next[oi + k] = a * x[oi + k];
      for (let k = 0; k < m; k++) {
        const bik = B[i * m + k];
        if (bik === 0) continue;
        const xk = k * n;
        for (let j = 0; j < n; j++) next[oi + j] += bik * x[xk + j];
      }
    }
    const tmp = x;
    x = next;
    next = tmp;
  }
  if (!tall) return x;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[r * cols + k] = x[k * n + r];
  return out;
}
