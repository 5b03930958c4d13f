// Colors for canvas drawing come from VS Code's `--vscode-*` CSS variables (the DOM uses them
// directly in media/dashboard.css). Canvas cannot use var(), so they are read with getComputedStyle
// and re-read when VS Code switches theme (it changes the body's class: vscode-light/dark/high-contrast).

export interface ThemeColors {
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  error: string;
  warning: string;
  info: string;
  selection: string;
  /** Distinct series colors (VS Code's chart palette first). */
  series: string[];
  fontFamily: string;
  fontSize: number;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const value = style.getPropertyValue(name).trim();
  return value || fallback;
}

export function readThemeColors(element: Element = document.body): ThemeColors {
  const style = getComputedStyle(element);
  const dark = !document.body.classList.contains('vscode-light');
  const foreground = cssVar(style, '--vscode-foreground', dark ? '#cccccc' : '#3b3b3b');
  return {
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground', dark ? '#9d9d9d' : '#717171'),
    grid: withAlpha(cssVar(style, '--vscode-editorWidget-border', dark ? '#454545' : '#c8c8c8'), 0.5),
    background: cssVar(style, '--vscode-editor-background', dark ? '#1f1f1f' : '#ffffff'),
    error: cssVar(style, '--vscode-charts-red', cssVar(style, '--vscode-errorForeground', '#f14c4c')),
    warning: cssVar(style, '--vscode-charts-yellow', cssVar(style, '--vscode-editorWarning-foreground', '#cca700')),
    info: cssVar(style, '--vscode-charts-blue', '#3794ff'),
    selection: cssVar(style, '--vscode-focusBorder', '#0078d4'),
    series: [
      cssVar(style, '--vscode-charts-blue', '#3794ff'),
      cssVar(style, '--vscode-charts-orange', '#d18616'),
      cssVar(style, '--vscode-charts-green', '#89d185'),
      cssVar(style, '--vscode-charts-purple', '#b180d7'),
      cssVar(style, '--vscode-charts-red', '#f14c4c'),
      cssVar(style, '--vscode-charts-yellow', '#cca700'),
      cssVar(style, '--vscode-terminal-ansiCyan', dark ? '#29b8db' : '#0598bc'),
      cssVar(style, '--vscode-terminal-ansiMagenta', dark ? '#d670d6' : '#bc05bc'),
    ],
    fontFamily: cssVar(style, '--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: parseFloat(cssVar(style, '--vscode-font-size', '13px')) || 13,
  };
}

/** `color` with an alpha, for hex (#rgb, #rrggbb, #rrggbbaa) and rgb()/rgba() colors; others unchanged. */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(c);
  if (m) {
    const [r, g, b] = m[1].split('').map((h) => parseInt(h + h, 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(c);
  if (m) {
    const n = parseInt(m[1], 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/i.exec(c);
  if (m) return `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})`;
  return c;
}

/** Calls `onChange` when VS Code changes the theme (body class) or the inline theme variables (html style). */
export function watchTheme(onChange: () => void): MutationObserver {
  const observer = new MutationObserver(() => onChange());
  observer.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return observer;
}

/** [r, g, b] of a hex or rgb()/rgba() colour, or null for another notation. */
export function parseColor(color: string): [number, number, number] | null {
  const c = color.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(c);
  if (m) return m[1].split('').map((h) => parseInt(h + h, 16)) as [number, number, number];
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(c);
  if (m) {
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/i.exec(c);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** The colour a fraction t of the way from a to b (both parsed), as rgb(). */
export function mixColors(a: [number, number, number], b: [number, number, number], t: number): string {
  const u = Math.max(0, Math.min(1, t));
  const ch = (i: number) => Math.round(a[i] + (b[i] - a[i]) * u);
  return `rgb(${ch(0)}, ${ch(1)}, ${ch(2)})`;
}
