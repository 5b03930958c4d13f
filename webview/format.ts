// Text helpers of the webview: raw values for data attributes, HTML escaping, a safe Markdown subset.
// Numbers are formatted by src/shared/format.ts (one formatter for every surface).

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
