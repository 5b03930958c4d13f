// The one number formatter of every surface: the CLI table and messages, the config hover and Problems,
// the webview dashboard and the exported report. Figures span many decades: 3 significant digits,
// trailing zeros trimmed, plain notation in [1e-3, 1e4), exponent notation outside (0.005 → "0.005",
// 0.0003 → "3e-4", 1.85e-10 → "1.85e-10", 12345 → "1.23e4"). null (the input does not say) is an em dash.

export const ABSENT = '—';

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined) return ABSENT;
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (value === 0) return '0';
  // Round first, so that 0.009999999999999998 is 0.01 (plain) and 9999.9 is 1e4 (exponent).
  const rounded = Number(value.toPrecision(digits));
  const abs = Math.abs(rounded);
  if (abs >= 1e-3 && abs < 1e4) return trimZeros(rounded.toPrecision(digits));
  const [mantissa, exponent] = rounded.toExponential(digits - 1).split('e');
  return `${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
}

/** A fraction as a percentage with the same rule: 0.2 → "20%", 0.0625 → "6.25%", 0.015 → "1.5%", 3e-6 → "3e-4%". */
export function formatPercent(fraction: number | null | undefined, digits = 3): string {
  if (fraction === null || fraction === undefined) return ABSENT;
  if (!Number.isFinite(fraction)) return formatNumber(fraction);
  return `${formatNumber(fraction * 100, digits)}%`;
}

/** A step number with thousands separators: 19500 → "19,500" (steps are integers; others are formatted as numbers). */
export function formatStep(step: number | null | undefined): string {
  if (step === null || step === undefined) return ABSENT;
  if (!Number.isSafeInteger(step)) return formatNumber(step);
  const sign = step < 0 ? '-' : '';
  return sign + String(Math.abs(step)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
