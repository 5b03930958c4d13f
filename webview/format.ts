// Number formatting for the dashboard: figures span many decades, so 3 significant digits,
// exponent notation outside [1e-3, 1e4). null (the input does not say) shows as an em dash.

export const ABSENT = '—';

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined) return ABSENT;
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e4) return stripZeros(value.toPrecision(digits));
  const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
  return `${stripZeros(mantissa)}e${exponent.replace('+', '')}`;
}

/** A fraction in [0, 1] as a percentage ("20%", "6.25%"). */
export function formatFraction(value: number | null | undefined): string {
  if (value === null || value === undefined) return ABSENT;
  if (!Number.isFinite(value)) return formatNumber(value);
  return `${stripZeros((value * 100).toPrecision(3))}%`;
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** Raw number for a data-value attribute: exact round-trip text, '' for null. */
export function rawValue(value: number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A small, safe Markdown subset for explanation texts: paragraphs, `- ` lists, **bold**, *italic*,
 * `code`. Everything is escaped first; no links, no raw HTML.
 */
export function renderMarkdown(markdown: string): string {
  const blocks = markdown.replace(/\r\n/g, '\n').split(/\n{2,}/);
  return blocks
    .map((block) => {
      const lines = block.split('\n').filter((l) => l.trim() !== '');
      if (lines.length && lines.every((l) => /^\s*[-*] /.test(l))) {
        return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*[-*] /, ''))}</li>`).join('')}</ul>`;
      }
      const heading = /^(#{1,4}) (.*)$/.exec(lines[0] ?? '');
      if (heading && lines.length === 1) return `<h4>${inline(heading[2])}</h4>`;
      return lines.length ? `<p>${lines.map(inline).join('<br>')}</p>` : '';
    })
    .join('');
}

function inline(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
}
