// Compact number formatting for messages and hovers.

/** 3 significant digits, trailing zeros trimmed: 0.0003 → '3e-4', 0.015 → '0.015', 1234 → '1234'. */
export function fmtNum(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  x = Number(x.toPrecision(digits)); // 0.009999999999999998 → 0.01 before choosing the notation
  const a = Math.abs(x);
  if (a >= 1e-2 && a < 1e5) {
    const s = x.toPrecision(digits);
    return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  }
  const [m, e] = x.toExponential(digits - 1).split('e');
  const mant = m.includes('.') ? m.replace(/\.?0+$/, '') : m;
  return `${mant}e${e.replace('+', '')}`;
}

/** A relative step as a percentage: 0.015 → '1.5%', 3e-6 → '0.0003%'. */
export function fmtPct(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  const p = x * 100;
  if (p >= 0.01) return `${fmtNum(p)}%`;
  return `${fmtNum(p, 2)}%`;
}
