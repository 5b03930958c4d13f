// esbuild plugin: the bundles embed the logging snippets' Python files as text. src/core/snippets/index.ts
// imports './sources' (which reads snippets/*.py from disk, as the tests under tsx need); in a bundle that
// import resolves to sources.bundle.ts, whose .py imports the text loader turns into strings.
import { join } from 'node:path';

export const embedSnippets = {
  name: 'embed-snippets',
  setup(build) {
    build.initialOptions.loader = { ...build.initialOptions.loader, '.py': 'text' };
    build.onResolve({ filter: /^\.\/sources$/ }, (args) =>
      args.importer.endsWith(join('src', 'core', 'snippets', 'index.ts'))
        ? { path: join(args.resolveDir, 'sources.bundle.ts') }
        : undefined,
    );
  },
};
