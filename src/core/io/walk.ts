// The one directory walker: the files under a folder, in sorted order (the same order on every machine),
// bounded in depth and count so that a symlink loop or a huge tree cannot hang or exhaust a reader.
// Hidden entries (`.git`, `.ipynb_checkpoints`, …) and the named folders are skipped. Discovery of run
// inputs and `lint DIR` both walk with it.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fsError } from './fileBytes';

export interface WalkOptions {
  /** Deepest folder level listed: 0 lists only `root` itself. */
  maxDepth: number;
  /** Stop after this many files (default 20,000). */
  maxFiles?: number;
  /** Folder names never entered. */
  skipDirs?: ReadonlySet<string>;
  /** Keep only the files this accepts (default: every file). */
  include?: (path: string, name: string) => boolean;
  /** Throw a ReaderError when `root` itself cannot be listed (default: an unreadable folder is empty). */
  strictRoot?: boolean;
}

export interface WalkResult {
  files: string[];
  /** True when `maxFiles` stopped the walk (the caller may say so). */
  truncated: boolean;
}

export const DEFAULT_MAX_FILES = 20_000;

export function walkFiles(root: string, options: WalkOptions): WalkResult {
  const out: string[] = [];
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  let truncated = false;
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      if (depth === 0 && options.strictRoot) throw fsError(dir, err);
      return;
    }
    for (const name of names) {
      if (out.length >= maxFiles) {
        truncated = true;
        return;
      }
      if (name.startsWith('.') || options.skipDirs?.has(name)) continue;
      const p = join(dir, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < options.maxDepth) visit(p, depth + 1);
      } else if (st.isFile() && (!options.include || options.include(p, name))) out.push(p);
    }
  };
  visit(root, 0);
  return { files: out, truncated };
}
