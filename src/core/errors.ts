import type { ReadIssue } from './run/types';

// The errors core throws. A ReaderError carries its location as data ({ path, line?, offset?, reason })
// and formats it once (`message`); callers that need the parts read the fields, never the text.

/** Where in a file: a 1-based line (text formats) or a byte offset (binary formats). */
export interface FileLocation {
  line?: number;
  offset?: number;
}

/** Error type every reader throws for unreadable input: names the file and the position. */
export class ReaderError extends Error {
  readonly path: string;
  readonly line?: number;
  readonly offset?: number;
  /** What is wrong, without the path or position (those are fields). */
  readonly reason: string;
  constructor(path: string, reason: string, where: FileLocation = {}) {
    super(formatLocated(path, reason, where));
    this.name = 'ReaderError';
    this.path = path;
    this.line = where.line;
    this.offset = where.offset;
    this.reason = reason;
  }

  /** The same error at another path (e.g. a zip member's reader error reported against the archive). */
  static from(e: ReaderError, changes: { path?: string; reason?: string; where?: FileLocation } = {}): ReaderError {
    return new ReaderError(changes.path ?? e.path, changes.reason ?? e.reason, changes.where ?? { line: e.line, offset: e.offset });
  }
}

/** The allow-list unpickler refused a global by name (nothing was imported or called). */
export class DisallowedGlobalError extends ReaderError {
  constructor(
    path: string,
    reason: string,
    where: FileLocation,
    /** `module.name` as the pickle stated it. */
    readonly global: string,
  ) {
    super(path, reason, where);
    this.name = 'DisallowedGlobalError';
  }
}

/** Longest text from a file echoed in a message. */
export const MAX_ECHO = 120;

/**
 * A value from a file as a message may show it: at most MAX_ECHO characters (then '…'), control
 * characters escaped (\n, \x1b, …) so a name cannot rewrite the terminal it is printed on.
 */
export function echo(s: string, max = MAX_ECHO): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  // eslint-disable-next-line no-control-regex
  const safe = cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 10 ? '\\n' : code === 9 ? '\\t' : code === 13 ? '\\r' : `\\x${code.toString(16).padStart(2, '0')}`;
  });
  return s.length > max ? `${safe}…` : safe;
}

/** `path:line: reason` or `path (byte offset N): reason` — the one place a location is written into text. */
export function formatLocated(path: string, reason: string, where: FileLocation = {}): string {
  const at = where.line !== undefined ? `:${where.line}` : where.offset !== undefined ? ` (byte offset ${where.offset})` : '';
  return `${path}${at}: ${reason}`;
}

/** A problem met while reading, as the run keeps it: the error's location as fields, its reason as the message. */
export function issueFromError(e: ReaderError, severity: 'error' | 'warning' = 'error'): ReadIssue {
  const issue: ReadIssue = { severity, path: e.path, message: e.reason };
  if (e.line !== undefined) issue.line = e.line;
  if (e.offset !== undefined) issue.offset = e.offset;
  return issue;
}

/** The analysis cannot answer what was asked (e.g. `--step N` names a step without figures). */
export class AnalysisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisError';
  }
}
