// One self-contained paste from the core logger and a framework adapter. An adapter imports the core
// (`from optimizer_lens_core import ...`), which keeps snippets/*.py runnable as modules side by side; the
// paste puts the core's text in place of that import, between markers, so it needs nothing of ours.

export const CORE_BEGIN = '# ---- optimizer-lens core begin ----';
export const CORE_END = '# ---- optimizer-lens core end ----';

const CORE_IMPORT = /^from optimizer_lens_core import [^\n]*\n/gm;

/** The adapter with its one core import replaced by the core's text (throws when it has none or several). */
export function composeSnippet(adapter: string, core: string, adapterName = 'the adapter'): string {
  const imports = [...adapter.matchAll(CORE_IMPORT)];
  if (imports.length !== 1) throw new Error(`${adapterName} has ${imports.length} core imports, expected one`);
  const at = imports[0].index;
  const eol = adapter.includes('\r\n') ? '\r\n' : '\n';
  const body = core.endsWith('\n') ? core : core + eol;
  return adapter.slice(0, at) + CORE_BEGIN + eol + body + CORE_END + eol + adapter.slice(at + imports[0][0].length);
}
