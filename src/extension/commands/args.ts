// Arguments of the palette commands: each takes optional arguments so tests and other features can run it
// without pickers (a Uri or a path string, numbers as numbers or text).

import * as vscode from 'vscode';

export type UriLike = vscode.Uri | string;

export function toUri(u: UriLike): vscode.Uri {
  if (typeof u !== 'string') return u;
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(u) ? vscode.Uri.parse(u) : vscode.Uri.file(u);
}

/** A finite number from a number or its text, else null. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

export function safeJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
