// Hover, Problems and quick fixes on training configs. The work is in src/core/config; this file
// adapts it to VS Code. Diagnostics lifecycle as in vscode-markdownlint: one DiagnosticCollection, lint open
// documents on activation and open, debounce on change (one timer per document), clear on close, re-lint on
// configuration change.
import * as vscode from 'vscode';
import { isAbsolute, dirname } from 'node:path';
// Light at activation: file-name/language checks only. The scanners (yaml, @lezer/python, toml-eslint-parser,
// jsonc-parser) are loaded by `core()` on the first document that is a config.
import { configLanguageOfId, notAConfigByName } from '../core/config/languages';
import type { ConfigFinding, ConfigRuleId, ConfigScan, LinkedScale } from '../core/config/types';
import type { ScanState } from '../core/config/scan';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../core/rules/types';

type ConfigCore = typeof import('../core/config');
let coreModule: ConfigCore | undefined;
/** The config scanner, loaded on first use (a synchronous require: esbuild bundles it as a lazily run module). */
function core(): ConfigCore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (coreModule ??= require('../core/config') as ConfigCore);
}
/** Whether the scanner modules have been loaded (tests: activation must not load them). */
export function configCoreLoaded(): boolean {
  return coreModule !== undefined;
}
/** Same id as src/core/config/hover.ts EXPLAIN_COMMAND (kept literal so activation does not load the scanner). */
const EXPLAIN_COMMAND = 'optimizerLens.explainLearningRate';

export const CONFIG_DIAGNOSTIC_SOURCE = 'Optimizer Lens';
export const LINK_RUN_COMMAND = 'optimizerLens.linkRunToConfig';
export const CONFIG_RULES: ConfigRuleId[] = [
  'lr-without-scale',
  'relative-step-high',
  'relative-step-low',
  'yaml-float-string',
  'eps-underflow-fp16',
  'not-adam',
  'lr-ignored',
];
const DEBOUNCE_MS = 300;

/** Documents the features apply to (TOML has no built-in language id: matched by pattern). */
export const CONFIG_SELECTOR: vscode.DocumentSelector = [
  { language: 'yaml' },
  { language: 'json' },
  { language: 'jsonc' },
  { language: 'python' },
  { language: 'shellscript' },
  { language: 'toml' },
  { pattern: '**/*.toml' },
];

interface Cached {
  version: number;
  /** The scan of this version's text without sibling scales (the base for the next edit, see rescanAfterEdit). */
  state: ScanState;
  /** Scales from files next to the document (config.json, optimizer-lens.json), read on a full scan. */
  siblings: ConfigScan['scales'];
  /** state.scan plus the sibling scales: what lint and hover use. */
  scan: ConfigScan;
  readonly findings: ConfigFinding[];
  linked: LinkedScale | null;
}

interface Settings {
  enabled: boolean;
  languages: Set<string>;
  target: number;
  thresholds: Thresholds;
  linkedRuns: Record<string, string>;
}

function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('optimizerLens');
  const num = (key: string, d: number) => {
    const v = c.get<number>(key);
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d;
  };
  return {
    enabled: c.get<boolean>('config.enabled', true),
    languages: new Set(c.get<string[]>('config.languages', ['yaml', 'json', 'jsonc', 'toml', 'python', 'shell'])),
    target: num('targetRelativeStep', 1e-3),
    thresholds: {
      ...DEFAULT_THRESHOLDS,
      relativeStepHigh: num('thresholds.relativeStepHigh', DEFAULT_THRESHOLDS.relativeStepHigh),
      relativeStepLow: num('thresholds.relativeStepLow', DEFAULT_THRESHOLDS.relativeStepLow),
    },
    linkedRuns: c.get<Record<string, string>>('config.linkedRuns', {}) ?? {},
  };
}

function severityOf(s: ConfigFinding['severity']): vscode.DiagnosticSeverity {
  return s === 'error'
    ? vscode.DiagnosticSeverity.Error
    : s === 'warning'
      ? vscode.DiagnosticSeverity.Warning
      : vscode.DiagnosticSeverity.Information;
}

function toRange(doc: vscode.TextDocument, r: { start: number; end: number }): vscode.Range {
  return new vscode.Range(doc.positionAt(r.start), doc.positionAt(r.end));
}

/** Does a linkedRuns key (glob or path, workspace-relative or absolute) name this document? */
function linkKeyMatches(key: string, doc: vscode.TextDocument): boolean {
  if (doc.uri.scheme !== 'file') return false;
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  if (isAbsolute(key)) return vscode.Uri.file(key).fsPath === doc.uri.fsPath || vscode.languages.match({ pattern: key }, doc) > 0;
  if (folder) return vscode.languages.match({ pattern: new vscode.RelativePattern(folder, key) }, doc) > 0;
  return vscode.languages.match({ pattern: `**/${key}` }, doc) > 0;
}

function resolveRunPath(run: string, doc: vscode.TextDocument): string {
  if (isAbsolute(run)) return run;
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, run).fsPath : vscode.Uri.joinPath(vscode.Uri.file(dirname(doc.uri.fsPath)), run).fsPath;
}

class ConfigFeatures implements vscode.HoverProvider, vscode.CodeActionProvider {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('optimizer-lens-config');
  private readonly cache = new Map<string, Cached>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Linked run path → its per-layer scales (or the error), analyzed once per session (and on settings change). */
  private readonly runs = new Map<
    string,
    { state: 'pending' } | { state: 'done'; linked: LinkedScale } | { state: 'failed'; message: string }
  >();
  private settings = readSettings();

  constructor(private readonly context: vscode.ExtensionContext) {}

  private ruleTarget(rule: string): vscode.Uri {
    return vscode.Uri.joinPath(this.context.extensionUri, 'README.md').with({ fragment: rule });
  }

  private languageOf(doc: vscode.TextDocument) {
    if (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'untitled' && doc.uri.scheme !== 'vscode-remote') return null;
    const lang = configLanguageOfId(doc.languageId, doc.fileName);
    if (!lang) return null;
    return this.settings.languages.has(lang === 'jsonc' ? 'json' : lang) ? lang : null;
  }

  private linkedFor(doc: vscode.TextDocument): LinkedScale | null {
    for (const [key, run] of Object.entries(this.settings.linkedRuns)) {
      if (typeof run !== 'string' || !linkKeyMatches(key, doc)) continue;
      const path = resolveRunPath(run, doc);
      const entry = this.runs.get(path);
      if (!entry) {
        this.runs.set(path, { state: 'pending' });
        void this.analyzeRun(path);
        return null;
      }
      return entry.state === 'done' ? entry.linked : null;
    }
    return null;
  }

  private async analyzeRun(path: string): Promise<void> {
    try {
      const { analyzePaths } = await import('../core/pipeline');
      const a = await analyzePaths([path]);
      this.runs.set(path, {
        state: 'done',
        linked: { path, step: a.result.step, layers: a.result.layers.map((l) => ({ name: l.name, paramRms: l.paramRms })) },
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.runs.set(path, { state: 'failed', message });
      void vscode.window.showWarningMessage(`Optimizer Lens: cannot read the linked run ${path}: ${message}`);
    }
    this.cache.clear();
    this.lintAll();
  }

  /**
   * Scan and lint a document (cached per version). Null when the document is not a config we read. An edit of
   * one YAML scalar since the cached version is applied to the cached scan (rescanAfterEdit: no re-parse);
   * anything else is scanned in full.
   */
  analyze(doc: vscode.TextDocument): Cached | null {
    if (!this.settings.enabled) return null;
    const lang = this.languageOf(doc);
    if (!lang) return null;
    const path = doc.uri.fsPath || doc.fileName;
    if (notAConfigByName(path)) return null; // trainer_state.json: a training log (not even parsed)
    const key = doc.uri.toString();
    const linked = this.linkedFor(doc);
    const hit = this.cache.get(key);
    if (hit && hit.version === doc.version && hit.linked === linked) return hit.scan.skipped ? null : hit;
    const c = core();
    const text = doc.getText();
    let state: ScanState | null = null;
    let siblings: ConfigScan['scales'] | null = null;
    if (hit && hit.state.scan.language === lang) {
      state = hit.version === doc.version ? hit.state : c.rescanAfterEdit(hit.state, text);
      if (state) siblings = hit.siblings;
    }
    if (!state) state = c.scanConfigState(text, path, lang);
    if (!siblings) siblings = doc.uri.scheme === 'file' && !state.scan.skipped ? c.siblingScales(doc.uri.fsPath) : [];
    const scan: ConfigScan = siblings.length ? { ...state.scan, scales: [...state.scan.scales, ...siblings] } : state.scan;
    // Findings on first use: a hover needs only the scan (the debounced lint asks for them).
    const thresholds = this.settings.thresholds;
    let findings: ConfigFinding[] | undefined;
    const entry: Cached = {
      version: doc.version,
      state,
      siblings,
      scan,
      linked,
      get findings() {
        return (findings ??= c.lintConfig(scan, { thresholds, linked }));
      },
    };
    this.cache.set(key, entry);
    return scan.skipped ? null : entry;
  }

  lint(doc: vscode.TextDocument): void {
    const c = this.analyze(doc);
    if (!c) {
      this.diagnostics.delete(doc.uri);
      return;
    }
    this.diagnostics.set(
      doc.uri,
      c.findings.map((f) => {
        const d = new vscode.Diagnostic(toRange(doc, f.range), f.message, severityOf(f.severity));
        d.source = CONFIG_DIAGNOSTIC_SOURCE;
        d.code = { value: f.rule, target: this.ruleTarget(f.rule) };
        return d;
      }),
    );
  }

  lintAll(): void {
    for (const doc of vscode.workspace.textDocuments) this.lint(doc);
  }

  lintLater(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.lint(doc);
      }, DEBOUNCE_MS),
    );
  }

  forget(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    this.cache.delete(key);
    this.diagnostics.delete(doc.uri);
  }

  settingsChanged(): void {
    this.settings = readSettings();
    this.runs.clear();
    this.cache.clear();
    this.lintAll();
  }

  /** A sibling (config.json, optimizer-lens.json) changed: re-lint open documents in that folder. */
  siblingChanged(uri: vscode.Uri): void {
    const dir = dirname(uri.fsPath);
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme === 'file' && dirname(doc.uri.fsPath) === dir) {
        this.cache.delete(doc.uri.toString());
        this.lint(doc);
      }
    }
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | null {
    // A hover before the debounced lint ran scans this version (an edit of one YAML value: applied to the cached
    // scan, no re-parse); the lint timer then reuses that scan.
    const c = this.analyze(doc);
    if (!c) return null;
    const h = core().configHover(c.scan, doc.offsetAt(pos), {
      linked: c.linked,
      targetRelativeStep: this.settings.target,
      thresholds: this.settings.thresholds,
    });
    if (!h) return null;
    const md = new vscode.MarkdownString(h.markdown);
    md.isTrusted = { enabledCommands: [EXPLAIN_COMMAND] };
    return new vscode.Hover(md, toRange(doc, h.range));
  }

  provideCodeActions(
    doc: vscode.TextDocument,
    _range: vscode.Range | vscode.Selection,
    ctx: vscode.CodeActionContext,
  ): vscode.CodeAction[] {
    const c = this.analyze(doc);
    if (!c) return [];
    const text = doc.getText();
    const actions: vscode.CodeAction[] = [];
    for (const d of ctx.diagnostics) {
      if (d.source !== CONFIG_DIAGNOSTIC_SOURCE) continue;
      const rule = typeof d.code === 'object' ? String(d.code.value) : String(d.code);
      const start = doc.offsetAt(d.range.start);
      const finding = c.findings.find((f) => f.rule === rule && f.range.start === start);
      if (!finding) continue;
      const linkedScale = c.linked ? medianRms(c.linked) : null;
      for (const fix of core().quickFixesFor(text, c.scan, finding, {
        linkedScale,
        targetRelativeStep: this.settings.target,
        eol: doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n',
      })) {
        const a = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        a.diagnostics = [d];
        a.isPreferred = fix.isPreferred;
        if (fix.command === 'linkRun') {
          a.command = { command: LINK_RUN_COMMAND, title: fix.title, arguments: [doc.uri] };
        } else if (fix.createFile) {
          const edit = new vscode.WorkspaceEdit();
          edit.createFile(vscode.Uri.file(fix.createFile.path), {
            ignoreIfExists: true,
            contents: new TextEncoder().encode(fix.createFile.content),
          });
          a.edit = edit;
        } else {
          const edit = new vscode.WorkspaceEdit();
          if (fix.snippet) {
            const at = doc.positionAt(fix.snippet.offset);
            edit.set(doc.uri, [new vscode.SnippetTextEdit(new vscode.Range(at, at), new vscode.SnippetString(fix.snippet.text))]);
          } else {
            for (const e of fix.edits) edit.replace(doc.uri, toRange(doc, e), e.newText);
          }
          a.edit = edit;
        }
        actions.push(a);
      }
    }
    return actions;
  }

  /** Command: pick a log or checkpoint and write it to optimizerLens.config.linkedRuns for this config. */
  async linkRun(target?: vscode.Uri): Promise<void> {
    const uri = target ?? vscode.window.activeTextEditor?.document.uri;
    if (!uri || uri.scheme !== 'file') {
      void vscode.window.showInformationMessage('Optimizer Lens: open a training config first.');
      return;
    }
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: vscode.Uri.file(dirname(uri.fsPath)),
      openLabel: 'Link',
      title: 'Link a training log or checkpoint: its per-layer parameter scale is used for this config',
    });
    if (!picked?.length) return;
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const key = folder ? vscode.workspace.asRelativePath(uri, false) : uri.fsPath;
    const runFolder = vscode.workspace.getWorkspaceFolder(picked[0]);
    const run =
      folder && runFolder && runFolder.uri.toString() === folder.uri.toString()
        ? vscode.workspace.asRelativePath(picked[0], false)
        : picked[0].fsPath;
    const conf = vscode.workspace.getConfiguration('optimizerLens', uri);
    const current = { ...(conf.get<Record<string, string>>('config.linkedRuns') ?? {}) };
    current[key] = run;
    await conf.update(
      'config.linkedRuns',
      current,
      folder ? vscode.ConfigurationTarget.WorkspaceFolder : vscode.ConfigurationTarget.Global,
    );
    // onDidChangeConfiguration re-lints; the run is analyzed in the background.
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.diagnostics.dispose();
  }
}

function medianRms(l: LinkedScale): number | null {
  const v = l.layers
    .map((x) => x.paramRms)
    .filter((x): x is number => typeof x === 'number' && x > 0)
    .sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
}

/** Called by the extension's activate(): hover, Problems, quick fixes and the link command for training configs. */
export function registerConfigFeatures(context: vscode.ExtensionContext): void {
  const features = new ConfigFeatures(context);
  const watcher = vscode.workspace.createFileSystemWatcher('**/{config.json,optimizer-lens.json}');
  context.subscriptions.push(
    features,
    vscode.languages.registerHoverProvider(CONFIG_SELECTOR, features),
    vscode.languages.registerCodeActionsProvider(CONFIG_SELECTOR, features, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
    vscode.commands.registerCommand(LINK_RUN_COMMAND, (uri?: vscode.Uri) => features.linkRun(uri)),
    vscode.workspace.onDidOpenTextDocument((d) => features.lint(d)),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length) features.lintLater(e.document);
    }),
    vscode.workspace.onDidCloseTextDocument((d) => features.forget(d)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('optimizerLens')) features.settingsChanged();
    }),
    watcher,
    watcher.onDidChange((u) => features.siblingChanged(u)),
    watcher.onDidCreate((u) => features.siblingChanged(u)),
    watcher.onDidDelete((u) => features.siblingChanged(u)),
  );
  features.lintAll();
}
