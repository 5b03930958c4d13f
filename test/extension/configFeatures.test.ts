// The VS Code adapter (src/extension/configFeatures.ts) against a small in-process fake of the `vscode` API:
// diagnostics lifecycle (open, debounced change, close, settings change), hover, quick fixes by diagnostic code.
// The real editor is tested end to end by the e2e suite; this checks the wiring without one.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import Module from 'node:module';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../support/fixtures';
import { LineIndex } from '../../src/core/config';

type Listener<T> = (e: T) => void;
class Emitter<T> {
  private ls: Listener<T>[] = [];
  event = (l: Listener<T>) => {
    this.ls.push(l);
    return { dispose: () => (this.ls = this.ls.filter((x) => x !== l)) };
  };
  fire(e: T) {
    for (const l of this.ls) l(e);
  }
}

class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}
class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
}
class Uri {
  constructor(
    readonly scheme: string,
    readonly fsPath: string,
    readonly fragment = '',
  ) {}
  static file(p: string) {
    return new Uri('file', p);
  }
  static joinPath(u: Uri, ...p: string[]) {
    return new Uri(u.scheme, [u.fsPath, ...p].join('/'));
  }
  with(c: { fragment?: string }) {
    return new Uri(this.scheme, this.fsPath, c.fragment ?? this.fragment);
  }
  toString() {
    return `${this.scheme}://${this.fsPath}${this.fragment ? `#${this.fragment}` : ''}`;
  }
}

class FakeDoc {
  version = 1;
  readonly uri: Uri;
  eol = 1;
  constructor(
    readonly fileName: string,
    public text: string,
    readonly languageId: string,
  ) {
    this.uri = Uri.file(fileName);
  }
  getText() {
    return this.text;
  }
  offsetAt(p: Position) {
    return new LineIndex(this.text).offset(p.line + 1, p.character + 1);
  }
  positionAt(o: number) {
    const p = new LineIndex(this.text).position(o);
    return new Position(p.line - 1, p.column - 1);
  }
}

const diagnostics = new Map<
  string,
  { message: string; code: { value: string; target: Uri }; range: Range; source: string; severity: number }[]
>();
const events = {
  open: new Emitter<FakeDoc>(),
  change: new Emitter<{ document: FakeDoc; contentChanges: unknown[] }>(),
  close: new Emitter<FakeDoc>(),
  config: new Emitter<{ affectsConfiguration: (s: string) => boolean }>(),
};
const settings: Record<string, unknown> = {};
const textDocuments: FakeDoc[] = [];
let hoverProvider: { provideHover: (d: FakeDoc, p: Position) => { contents: { value: string; isTrusted: unknown } } | null } | null = null;
let actionProvider: {
  provideCodeActions: (
    d: FakeDoc,
    r: Range,
    c: { diagnostics: unknown[] },
  ) => { title: string; edit?: { edits: unknown[] }; command?: { command: string } }[];
} | null = null;

class WorkspaceEdit {
  edits: unknown[] = [];
  replace(uri: Uri, range: Range, text: string) {
    this.edits.push({ kind: 'replace', uri, range, text });
  }
  set(uri: Uri, edits: unknown[]) {
    this.edits.push(...edits.map((e) => ({ kind: 'snippet', uri, e })));
  }
  createFile(uri: Uri, o: unknown) {
    this.edits.push({ kind: 'create', uri, o });
  }
}

const fakeVscode = {
  Position,
  Range,
  Uri,
  EndOfLine: { LF: 1, CRLF: 2 },
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  CodeActionKind: { QuickFix: 'quickfix' },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  Diagnostic: class {
    source = '';
    code: unknown;
    constructor(
      readonly range: Range,
      readonly message: string,
      readonly severity: number,
    ) {}
  },
  MarkdownString: class {
    isTrusted: unknown;
    constructor(readonly value: string) {}
  },
  Hover: class {
    constructor(
      readonly contents: unknown,
      readonly range: Range,
    ) {}
  },
  CodeAction: class {
    diagnostics: unknown;
    isPreferred: unknown;
    command: unknown;
    edit: unknown;
    constructor(
      readonly title: string,
      readonly kind: string,
    ) {}
  },
  WorkspaceEdit,
  SnippetTextEdit: class {
    constructor(
      readonly range: Range,
      readonly snippet: { value: string },
    ) {}
  },
  SnippetString: class {
    constructor(readonly value: string) {}
  },
  RelativePattern: class {
    constructor(
      readonly base: unknown,
      readonly pattern: string,
    ) {}
  },
  languages: {
    createDiagnosticCollection: () => ({
      set: (uri: Uri, ds: never[]) => diagnostics.set(uri.toString(), ds),
      delete: (uri: Uri) => diagnostics.delete(uri.toString()),
      dispose: () => diagnostics.clear(),
    }),
    registerHoverProvider: (_s: unknown, p: typeof hoverProvider) => ((hoverProvider = p), { dispose() {} }),
    registerCodeActionsProvider: (_s: unknown, p: typeof actionProvider) => ((actionProvider = p), { dispose() {} }),
    match: () => 1,
  },
  commands: { registerCommand: () => ({ dispose() {} }) },
  window: { showWarningMessage: async () => undefined, showInformationMessage: async () => undefined, activeTextEditor: undefined },
  workspace: {
    textDocuments,
    onDidOpenTextDocument: events.open.event,
    onDidChangeTextDocument: events.change.event,
    onDidCloseTextDocument: events.close.event,
    onDidChangeConfiguration: events.config.event,
    getConfiguration: () => ({ get: (k: string, d?: unknown) => (k in settings ? settings[k] : d), update: async () => undefined }),
    getWorkspaceFolder: () => undefined,
    workspaceFolders: undefined,
    createFileSystemWatcher: () => ({
      onDidChange: () => ({ dispose() {} }),
      onDidCreate: () => ({ dispose() {} }),
      onDidDelete: () => ({ dispose() {} }),
      dispose() {},
    }),
    asRelativePath: (u: Uri) => u.fsPath,
  },
};

// Route `require('vscode')` to the fake before the adapter is loaded.
const M = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = M._load;
M._load = function (request: string, ...rest: unknown[]) {
  if (request === 'vscode') return fakeVscode;
  return load.call(this, request, ...rest);
};

test('config features: activation loads no scanner; logs are skipped unparsed; a hover after a value edit sees the new value before the debounced lint', async () => {
  const { registerConfigFeatures, configCoreLoaded } = await import('../../src/extension/configFeatures');
  const subscriptions: { dispose(): void }[] = [];
  registerConfigFeatures({ subscriptions, extensionUri: Uri.file('/ext') } as never);
  assert.equal(configCoreLoaded(), false, 'no config open: the scanners are not loaded at activation');
  const md = new FakeDoc('/w/notes.md', 'lr: 1e-4\n', 'markdown');
  events.open.fire(md);
  const state = fixturePath('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json');
  const log = new FakeDoc(state, readFileSync(state, 'utf8'), 'json');
  events.open.fire(log);
  assert.equal(diagnostics.get(log.uri.toString()), undefined, 'trainer_state.json: no diagnostics');
  const line = log.text.split('\n').findIndex((l) => l.includes('"learning_rate"'));
  assert.equal(hoverProvider!.provideHover(log, new Position(line, 8)), null);
  assert.equal(configCoreLoaded(), false, 'a markdown file and a training log do not load the scanners');

  const yamlPath = fixturePath('configs', 'finetune.yaml');
  const doc = new FakeDoc(yamlPath, readFileSync(yamlPath, 'utf8'), 'yaml');
  events.open.fire(doc);
  assert.equal(configCoreLoaded(), true);
  assert.deepEqual(
    diagnostics.get(doc.uri.toString())!.map((d) => d.code.value),
    ['lr-without-scale', 'yaml-float-string', 'lr-without-scale'],
  );
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    doc.text = doc.text.replace('  lr: 1e-4', '  lr: 3.0e-4');
    doc.version++;
    events.change.fire({ document: doc, contentChanges: [{}] });
    const h = hoverProvider!.provideHover(doc, new Position(15, 7))!;
    assert.ok(h.contents.value.includes('each weight moves by ≈ **3e-4** per step'), h.contents.value);
    assert.equal(diagnostics.get(doc.uri.toString())!.length, 3, 'diagnostics wait for the debounce');
    mock.timers.tick(300);
    assert.deepEqual(
      diagnostics.get(doc.uri.toString())!.map((d) => [d.code.value, d.range.start.line + 1]),
      [
        ['lr-without-scale', 16],
        ['lr-without-scale', 30],
      ],
    );
  } finally {
    mock.timers.reset();
  }
  events.close.fire(doc);
  for (const x of subscriptions) x.dispose();
});

test('config features: lint on activation and open, debounced on change, cleared on close, re-run on settings change', async () => {
  const { registerConfigFeatures } = await import('../../src/extension/configFeatures');
  const yamlPath = fixturePath('configs', 'finetune.yaml');
  const doc = new FakeDoc(yamlPath, readFileSync(yamlPath, 'utf8'), 'yaml');
  textDocuments.push(doc);
  const subscriptions: { dispose(): void }[] = [];
  registerConfigFeatures({ subscriptions, extensionUri: Uri.file('/ext') } as never);

  // Activation lints the open document.
  let ds = diagnostics.get(doc.uri.toString())!;
  assert.deepEqual(
    ds.map((d) => [d.code.value, d.range.start.line + 1, d.range.start.character + 1, d.severity]),
    [
      ['lr-without-scale', 16, 7, 1],
      ['yaml-float-string', 16, 7, 1],
      ['lr-without-scale', 30, 7, 1],
    ],
  );
  assert.equal(ds[0].source, 'Optimizer Lens');
  assert.equal(ds[0].code.target.toString(), 'file:///ext/README.md#lr-without-scale');

  // Hover on the lr: trusted for the Explain command only.
  const h = hoverProvider!.provideHover(doc, new Position(15, 7))!;
  assert.ok(h.contents.value.includes('each weight moves by ≈ **1e-4** per step'));
  assert.deepEqual(h.contents.isTrusted, { enabledCommands: ['optimizerLens.explainLearningRate'] });

  // Quick fixes filtered by diagnostic code.
  const actions = actionProvider!.provideCodeActions(doc, ds[1].range, { diagnostics: [ds[1]] });
  assert.deepEqual(
    actions.map((a) => a.title),
    ['Write 1e-4 as 1.0e-4'],
  );
  const lrActions = actionProvider!.provideCodeActions(doc, ds[0].range, { diagnostics: [ds[0]] });
  assert.deepEqual(
    lrActions.map((a) => a.title),
    ['Add annotation: # optimizer-lens: param-scale=…', 'Link a log or checkpoint for the parameter scale…'],
  );
  assert.equal(lrActions[1].command?.command, 'optimizerLens.linkRunToConfig');

  // Change: nothing until the debounce timer fires, then the new text is linted.
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    doc.text = doc.text.replace('lr: 1e-4', 'lr: 1.0e-4  # optimizer-lens: param-scale=0.02');
    doc.version++;
    events.change.fire({ document: doc, contentChanges: [{}] });
    events.change.fire({ document: doc, contentChanges: [{}] }); // one timer per document
    ds = diagnostics.get(doc.uri.toString())!;
    assert.equal(ds.length, 3, 'not re-linted before the debounce');
    mock.timers.tick(300);
    ds = diagnostics.get(doc.uri.toString())!;
    assert.deepEqual(
      ds.map((d) => [d.code.value, d.range.start.line + 1]),
      [['lr-without-scale', 30]],
      "the annotation on train.lr's line is that lr's own (1.0e-4 is a float everywhere); lora.lr still has no scale",
    );
    // An annotation on no lr's line (nor the line above one) applies to the whole file.
    doc.text += '# optimizer-lens: param-scale=0.02\n';
    doc.version++;
    events.change.fire({ document: doc, contentChanges: [{}] });
    mock.timers.tick(300);
    ds = diagnostics.get(doc.uri.toString())!;
    assert.deepEqual(
      ds.map((d) => d.code.value),
      [],
      'file-wide annotation states the scale for lora.lr',
    );
  } finally {
    mock.timers.reset();
  }

  // Settings change re-lints: a lower relative-step-high threshold flags lora.lr (2e-4 / 0.02 = 0.01).
  settings['thresholds.relativeStepHigh'] = 0.005;
  events.config.fire({ affectsConfiguration: (s) => 'optimizerLens.thresholds.relativeStepHigh'.startsWith(s) });
  assert.deepEqual(
    diagnostics.get(doc.uri.toString())!.map((d) => [d.code.value, d.range.start.line + 1]),
    [['relative-step-high', 30]],
  );
  settings['config.enabled'] = false;
  events.config.fire({ affectsConfiguration: (s) => 'optimizerLens.thresholds.relativeStepHigh'.startsWith(s) });
  assert.equal(diagnostics.get(doc.uri.toString()), undefined, 'disabled → no diagnostics');
  delete settings['config.enabled'];
  delete settings['thresholds.relativeStepHigh'];
  events.config.fire({ affectsConfiguration: (s) => 'optimizerLens.config.enabled'.startsWith(s) });
  assert.deepEqual(diagnostics.get(doc.uri.toString()), [], 're-enabled → linted again');

  // Open another config; close clears its diagnostics.
  const tomlPath = fixturePath('configs', 'train.toml');
  const toml = new FakeDoc(tomlPath, readFileSync(tomlPath, 'utf8'), 'plaintext');
  textDocuments.push(toml);
  events.open.fire(toml);
  assert.deepEqual(
    diagnostics.get(toml.uri.toString())!.map((d) => [d.code.value, d.range.start.line + 1, d.range.start.character + 1]),
    [['lr-without-scale', 18, 6]],
  );
  events.close.fire(toml);
  assert.equal(diagnostics.get(toml.uri.toString()), undefined);

  // Not a config: a markdown file gets nothing.
  const md = new FakeDoc(fixturePath('configs', 'README.md'), 'lr: 1e-4\n', 'markdown');
  events.open.fire(md);
  assert.equal(diagnostics.get(md.uri.toString()), undefined);
  for (const s of subscriptions) s.dispose();
});
