// The runs of the workspace to pick for Compare Runs…: a quick pick of run folders and logs (the web's
// file dialog picks one item at a time), plus "Browse…" which asks again until two or more are chosen.

import * as vscode from 'vscode';
import { basename, dirname, join } from 'node:path';
import { CANDIDATE_EXCLUDE, CANDIDATE_GLOB, runCandidatesFromPaths } from '../runFiles';

export interface RunCandidate {
  kind: 'folder' | 'file';
  uri: vscode.Uri;
  /** Workspace-relative path (prefixed by the folder's name in a multi-root workspace). */
  label: string;
  description: string;
}

/** Candidate runs of the workspace (runFiles.runCandidatesFromPaths over a bounded findFiles). Names only. */
export async function findRunCandidates(maxFiles = 5000, maxItems = 300): Promise<RunCandidate[]> {
  const found = await vscode.workspace.findFiles(CANDIDATE_GLOB, CANDIDATE_EXCLUDE, maxFiles);
  const roots = vscode.workspace.workspaceFolders ?? [];
  const out: RunCandidate[] = [];
  for (const root of roots) {
    const base = root.uri.path.replace(/\/$/, '') + '/';
    const rels = found.filter((u) => u.scheme === root.uri.scheme && u.path.startsWith(base)).map((u) => u.path.slice(base.length));
    const prefix = roots.length > 1 ? `${root.name}/` : '';
    for (const c of runCandidatesFromPaths(rels, maxItems)) {
      out.push({
        kind: c.kind,
        uri: vscode.Uri.joinPath(root.uri, ...c.rel.split('/')),
        label: prefix + c.rel,
        description: c.description,
      });
    }
  }
  // folders (all roots) before files, as in each root's list
  return [...out.filter((c) => c.kind === 'folder'), ...out.filter((c) => c.kind === 'file')].slice(0, maxItems);
}

/** Runs to compare: checked in a quick pick of the workspace's run folders and logs, or browsed for. */
export async function pickRuns(already: vscode.Uri[]): Promise<vscode.Uri[] | undefined> {
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri; browse?: boolean };
  const candidates = await findRunCandidates();
  const alreadySet = new Set(already.map((u) => u.toString()));
  const items: Item[] = [];
  const folders = candidates.filter((c) => c.kind === 'folder');
  const files = candidates.filter((c) => c.kind === 'file');
  if (folders.length) items.push({ label: 'Run folders', kind: vscode.QuickPickItemKind.Separator });
  for (const c of folders)
    items.push({ label: `$(folder) ${c.label}`, description: c.description, uri: c.uri, picked: alreadySet.has(c.uri.toString()) });
  if (files.length) items.push({ label: 'Logs', kind: vscode.QuickPickItemKind.Separator });
  for (const c of files)
    items.push({ label: `$(file) ${c.label}`, description: c.description, uri: c.uri, picked: alreadySet.has(c.uri.toString()) });
  items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push({
    label: '$(folder-opened) Browse…',
    description: 'pick runs (files or folders) with the file dialog',
    browse: true,
    alwaysShow: true,
  });
  const chosen = await vscode.window.showQuickPick(items, {
    canPickMany: true,
    title: 'Optimizer Lens: Compare Runs — check two or more runs',
    placeHolder: candidates.length
      ? 'Run folders and logs in the workspace (type to filter)'
      : 'No run folders or logs found in the workspace: Browse…',
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
  if (!chosen) return undefined;
  const uris = [...already.filter((u) => !chosen.some((c) => c.uri?.toString() === u.toString()))];
  for (const c of chosen) if (c.uri) uris.push(c.uri);
  if (uris.length >= 2 && !chosen.some((c) => c.browse)) return uris;
  // Browse: the file dialog (one pick per dialog in the browser) until two or more runs are chosen.
  for (let round = 0; round < 16; round++) {
    const need = Math.max(0, 2 - uris.length);
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: true,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      title: need
        ? `Optimizer Lens: pick a run to compare (${uris.length} chosen, ${need} more needed)`
        : `Optimizer Lens: pick another run to compare (${uris.length} chosen; cancel to compare them)`,
      openLabel: 'Add to Comparison',
    });
    if (!picked?.length) break;
    for (const p of picked) if (!uris.some((u) => u.toString() === p.toString())) uris.push(p);
    // one more "add another?" round only while fewer than two are chosen
    if (uris.length >= 2) break;
  }
  return uris;
}

/** Short distinct labels for runs: the last path component, with the parent folder when names collide. */
export function runLabels(paths: string[]): string[] {
  const names = paths.map((p) => basename(p));
  return names.map((n, i) => (names.indexOf(n) !== names.lastIndexOf(n) ? join(basename(dirname(paths[i])), n) : n));
}
