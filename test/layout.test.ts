// The layout's import rules (ARCHITECTURE.md), checked on every source file's imports: data flows one way,
// file → io → reader → run → engine → rules → surface, and host, webview and shared code stay apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { VERSION } from '../src/core/version';

const ROOT = resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface ImportEdge {
  from: string;
  /** Repository-relative target file, or the bare module name ('vscode', 'node:fs'). */
  to: string;
  typeOnly: boolean;
}

function resolveSpecifier(fromFile: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const base = resolve(dirname(fromFile), spec);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(ROOT, candidate);
  }
  return relative(ROOT, base);
}

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const from = relative(ROOT, file);
  const add = (spec: string, typeOnly: boolean): void => {
    edges.push({ from, to: resolveSpecifier(file, spec), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

const ALL = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'webview'))].flatMap(importsOf);

/** Imports of files under `area` that land under one of `targets` (a target ending in '/' is a folder). */
function violations(area: string, forbidden: string[], opts: { allowTypeOnly?: boolean } = {}): string[] {
  return ALL.filter(
    (e) =>
      e.from.startsWith(area) &&
      !(opts.allowTypeOnly && e.typeOnly) &&
      forbidden.some((t) => (t.endsWith('/') ? e.to.startsWith(t) : e.to === t || e.to.startsWith(`${t}/`))),
  ).map((e) => `${e.from} → ${e.to}${e.typeOnly ? ' (type)' : ''}`);
}

test('the import scan sees the project (a rule over no edges would pass vacuously)', () => {
  assert.ok(ALL.length > 300, `${ALL.length} imports`);
  assert.ok(ALL.some((e) => e.from === 'src/core/pipeline.ts' && e.to === 'src/core/engine/runFigures.ts'));
  assert.ok(ALL.some((e) => e.from.startsWith('webview/') && e.to === 'src/shared/protocol.ts'));
});

test('src/core, src/shared and src/cli import neither vscode nor the webview (they run in the CLI and workers)', () => {
  assert.deepEqual(violations('src/core/', ['vscode', 'webview/']), []);
  assert.deepEqual(violations('src/shared/', ['vscode', 'webview/']), []);
  assert.deepEqual(violations('src/cli/', ['vscode', 'webview/', 'src/extension/']), []);
  const core = JSON.parse(readFileSync(join(ROOT, 'tsconfig.core.json'), 'utf8'));
  assert.ok(!core.compilerOptions.lib.some((l: string) => /dom/i.test(l)), 'no DOM lib for core');
  assert.equal(core.compilerOptions.paths.vscode[0], './build/no-vscode-in-core.d.ts');
});

test('host and webview meet only in src/shared: the host never imports webview/, the webview never imports host code', () => {
  assert.deepEqual(violations('src/', ['webview/']), []);
  assert.deepEqual(violations('webview/', ['src/extension/', 'src/cli/']), []);
  // The webview takes core's types (the run analysis it draws) but no core code.
  assert.deepEqual(violations('webview/', ['src/core/'], { allowTypeOnly: true }), []);
});

test('src/shared is a leaf: environment-free code that imports only itself (and core types)', () => {
  const out = ALL.filter(
    (e) => e.from.startsWith('src/shared/') && !e.to.startsWith('src/shared/') && !(e.typeOnly && e.to.startsWith('src/core/')),
  );
  assert.deepEqual(
    out.map((e) => `${e.from} → ${e.to}`),
    [],
  );
});

test('data flows one way through core: io → readers → run → engine → rules, the pipeline on top', () => {
  const later = {
    readers: 'src/core/readers/',
    engine: 'src/core/engine/',
    rules: 'src/core/rules/',
    config: 'src/core/config/',
    pipeline: 'src/core/pipeline.ts',
  };
  // io knows bytes: no reader, engine, rule or config scanner.
  assert.deepEqual(
    violations('src/core/io/', [later.readers, later.engine, later.rules, later.config, later.pipeline, 'src/core/run/']),
    [],
  );
  // The run model and its naming rules are below the readers and the engine.
  assert.deepEqual(violations('src/core/run/', [later.readers, later.engine, later.rules, later.config, later.pipeline]), []);
  // (A TensorRef is io's TensorBytes plus a layer and a role: the run model takes io's types, not its code.)
  assert.deepEqual(violations('src/core/run/', ['src/core/io/'], { allowTypeOnly: true }), []);
  // Readers know formats, not statistics.
  assert.deepEqual(violations('src/core/readers/', [later.engine, later.rules, later.config, later.pipeline]), []);
  // The engine analyzes the data it is given: it reads tensor bytes through io, never through a reader.
  assert.deepEqual(violations('src/core/engine/', [later.readers, later.rules, later.config]), []);
  assert.deepEqual(violations('src/core/engine/', [later.pipeline], { allowTypeOnly: true }), []);
  // Rules know neither formats nor bytes.
  assert.deepEqual(violations('src/core/rules/', [later.readers, 'src/core/io/', later.config, later.pipeline]), []);
  // Config scanners read config text only.
  assert.deepEqual(violations('src/core/config/', [later.readers, 'src/core/io/', later.engine, later.pipeline]), []);
});

test('the extension host runs core only through the analysis worker and lazy imports', () => {
  // Static imports of core code from the extension's entry would evaluate readers and the engine at activation.
  const entry = ALL.filter(
    (e) =>
      e.from === 'src/extension/extension.ts' &&
      !e.typeOnly &&
      (e.to.startsWith('src/core/readers/') || e.to.startsWith('src/core/engine/')),
  );
  assert.deepEqual(entry, []);
});

test('the CLI reports the version in package.json', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});
