// The Python files under snippets/ that the logging snippets are composed of: the core logger and one
// adapter per training loop.

export const CORE_FILE = 'optimizer_lens_core.py';

export const SNIPPET_FILES = [
  CORE_FILE,
  'optimizer_lens_plain_loop.py',
  'optimizer_lens_hf_callback.py',
  'optimizer_lens_lightning_callback.py',
] as const;

export type SnippetFile = (typeof SNIPPET_FILES)[number];
