// Issues a reader reports, bounded: per file, the first MAX_ISSUES_PER_KIND of each kind are listed, the
// rest of that kind only counted and said in one "… and N more" issue at the end. A file of a million bad
// records gives 20 issues and one line, not a million objects (916 MB and 188 MB of JSON, measured).

import type { ReadIssue } from './types';

/** Issues of one kind listed per file before the rest are only counted. */
export const MAX_ISSUES_PER_KIND = 20;
/** Distinct kinds tracked per file; kinds past this share one count (a kind is a fixed label, not a message). */
const MAX_KINDS = 256;

interface KindCount {
  n: number;
  first: ReadIssue;
}

export class IssueLimiter {
  private readonly kinds = new Map<string, KindCount>();

  constructor(
    private readonly out: ReadIssue[],
    private readonly max = MAX_ISSUES_PER_KIND,
  ) {}

  /** Report `issue` under `kind` (a fixed label such as "data CRC mismatch"); listed while under the cap. */
  push(kind: string, issue: ReadIssue): void {
    let k = this.kinds.get(kind);
    if (k === undefined) {
      if (this.kinds.size >= MAX_KINDS) kind = 'other problems';
      k = this.kinds.get(kind);
      if (k === undefined) this.kinds.set(kind, (k = { n: 0, first: issue }));
    }
    if (++k.n <= this.max) this.out.push(issue);
  }

  /** Append one "… and N more" issue per kind past the cap (then counting starts anew). */
  finish(): void {
    for (const [kind, k] of this.kinds) {
      if (k.n <= this.max) continue;
      const more: ReadIssue = { severity: k.first.severity, path: k.first.path, message: `… and ${k.n - this.max} more: ${kind}` };
      this.out.push(more);
    }
    this.kinds.clear();
  }
}
