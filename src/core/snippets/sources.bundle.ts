// The snippets' Python files as text, embedded at build time by esbuild's text loader: the bundles'
// replacement of sources.ts (build/embedSnippets.mjs). The Record type makes both list the same files.
import core from '../../../snippets/optimizer_lens_core.py';
import plainLoop from '../../../snippets/optimizer_lens_plain_loop.py';
import hfCallback from '../../../snippets/optimizer_lens_hf_callback.py';
import lightningCallback from '../../../snippets/optimizer_lens_lightning_callback.py';
import type { SnippetFile } from './files';

export const SNIPPET_SOURCES: Readonly<Record<SnippetFile, string>> = Object.freeze({
  'optimizer_lens_core.py': core,
  'optimizer_lens_plain_loop.py': plainLoop,
  'optimizer_lens_hf_callback.py': hfCallback,
  'optimizer_lens_lightning_callback.py': lightningCallback,
});
