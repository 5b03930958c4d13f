// The snippets' Python files as text, read from snippets/ on disk: what the tests and the bench (run by
// tsx, which has no .py loader) see. The bundles embed the same files at build time instead: esbuild
// resolves this module to sources.bundle.ts (build/embedSnippets.mjs), so no generated copy lives in git.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SNIPPET_FILES, type SnippetFile } from './files';

const SNIPPETS_DIR = resolve(__dirname, '..', '..', '..', 'snippets');

export const SNIPPET_SOURCES: Readonly<Record<SnippetFile, string>> = Object.freeze(
  Object.fromEntries(SNIPPET_FILES.map((file) => [file, readFileSync(join(SNIPPETS_DIR, file), 'utf8')])) as Record<SnippetFile, string>,
);
