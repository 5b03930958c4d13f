// File-name rules of the extension host without the vscode API (unit-tested against package.json's
// customEditors selectors and the fixture runs): which custom editor viewType opens a file, which
// names can be a run's input, and the candidate runs of a workspace for Compare Runs….

import { basename } from 'node:path';

export const DASHBOARD_VIEW_TYPE = 'optimizerLens.dashboard';
/**
 * The same editor for text logs with priority "option" (text stays the default for .jsonl/.csv): VS Code
 * takes one priority per viewType, so binary formats (priority "default") and logs need two viewTypes.
 */
export const LOG_DASHBOARD_VIEW_TYPE = 'optimizerLens.logDashboard';

/** File names the custom editors are registered for (package.json customEditors selectors). */
export function opensInDashboardEditor(path: string): boolean {
  const name = basename(path);
  return (
    /\.(jsonl|csv|safetensors|npz|npy|pt|pth|ckpt|bin)$/i.test(name) ||
    name === 'trainer_state.json' ||
    /^events\.out\.tfevents\./.test(name)
  );
}

/**
 * The viewType whose package.json selector matches the file: VS Code names an editor in the editor picker
 * and breadcrumb by the contribution matching the resource, so `openWith` of the other viewType would show
 * the raw id ("optimizerLens.dashboard") instead of "Optimizer Lens Dashboard".
 */
export function dashboardViewTypeFor(path: string): string {
  const name = basename(path);
  return /\.(jsonl|csv|bin)$/i.test(name) || name === 'trainer_state.json' ? LOG_DASHBOARD_VIEW_TYPE : DASHBOARD_VIEW_TYPE;
}

/** File names a run may consist of (the readers' inputs; by name only, nothing is read). */
export function isRunInputName(name: string): boolean {
  return (
    /\.(jsonl|ndjson|csv|safetensors|npz|npy|pt|pth|ckpt|bin)$/i.test(name) ||
    name === 'trainer_state.json' ||
    /^events\.out\.tfevents\./.test(name)
  );
}

/** Logs that are a run by themselves (tensor files are offered through their folder). */
export function isLogName(name: string): boolean {
  return /\.(jsonl|ndjson|csv)$/i.test(name) || name === 'trainer_state.json' || /^events\.out\.tfevents\./.test(name);
}

/** findFiles glob of the candidate inputs (the same names as isRunInputName). */
export const CANDIDATE_GLOB =
  '**/{*.jsonl,*.ndjson,*.csv,*.safetensors,*.npz,*.npy,*.pt,*.pth,*.ckpt,*.bin,trainer_state.json,events.out.tfevents.*}';
export const CANDIDATE_EXCLUDE = '{**/node_modules/**,**/.git/**,**/.venv/**,**/__pycache__/**,**/.vscode-e2e/**}';

export interface RunCandidatePath {
  kind: 'folder' | 'file';
  /** Path relative to the workspace folder, '/'-separated. */
  rel: string;
  description: string;
}

/**
 * Candidate runs from workspace-relative file paths: every folder holding readable inputs (at any depth
 * below it, so a run folder with tensors/ and tb/ subfolders is offered as a whole) — shallow folders
 * first — then every log file. Bounded to maxItems.
 */
export function runCandidatesFromPaths(relPaths: string[], maxItems = 300): RunCandidatePath[] {
  const folders = new Map<string, { logs: number; tensors: number }>();
  const files: RunCandidatePath[] = [];
  for (const rel of relPaths) {
    const parts = rel.split('/').filter(Boolean);
    const name = parts[parts.length - 1] ?? '';
    if (!isRunInputName(name)) continue;
    const log = isLogName(name);
    if (log) files.push({ kind: 'file', rel: parts.join('/'), description: '' });
    for (let depth = parts.length - 1; depth >= 1; depth--) {
      const key = parts.slice(0, depth).join('/');
      const entry = folders.get(key) ?? { logs: 0, tensors: 0 };
      if (log) entry.logs++;
      else entry.tensors++;
      folders.set(key, entry);
    }
  }
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  const folderItems: RunCandidatePath[] = [...folders.entries()]
    .sort(([a], [b]) => a.split('/').length - b.split('/').length || a.localeCompare(b))
    .map(([rel, c]) => ({
      kind: 'folder' as const,
      rel,
      description: [c.logs ? plural(c.logs, 'log') : '', c.tensors ? plural(c.tensors, 'tensor file') : ''].filter(Boolean).join(', '),
    }));
  files.sort((a, b) => a.rel.localeCompare(b.rel));
  return [...folderItems, ...files].slice(0, maxItems);
}
