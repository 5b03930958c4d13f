// Offsets ↔ 1-based line/column for a text, by binary search over line starts.
import type { SourceRange } from './types';

export class LineIndex {
  private readonly starts: number[];
  constructor(readonly text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
    }
    this.starts = starts;
  }
  get lineCount(): number {
    return this.starts.length;
  }
  /** 1-based line and column of a 0-based offset. */
  position(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - this.starts[lo] + 1 };
  }
  /** 0-based offset of a 1-based line and column. */
  offset(line: number, column: number): number {
    const l = Math.max(1, Math.min(line, this.starts.length));
    return Math.min(this.text.length, this.starts[l - 1] + Math.max(0, column - 1));
  }
  lineStart(line: number): number {
    return this.starts[Math.max(1, Math.min(line, this.starts.length)) - 1];
  }
  lineEnd(line: number): number {
    const l = Math.max(1, Math.min(line, this.starts.length));
    let e = l < this.starts.length ? this.starts[l] : this.text.length;
    while (e > this.starts[l - 1] && (this.text.charCodeAt(e - 1) === 10 || this.text.charCodeAt(e - 1) === 13)) e--;
    return e;
  }
  range(start: number, end: number): SourceRange {
    const a = this.position(start);
    const b = this.position(end);
    return { start, end, line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }
}
