// The bounds of an analysis process (settings optimizerLens.analysis.*) and what the user reads when one is
// crossed. No vscode import: unit-tested in plain Node.

import { formatNumber } from '../../shared/format';

export interface AnalysisLimits {
  /** V8 heap ceiling of the analysis process (--max-old-space-size), MB. */
  memoryLimitMb: number;
  /** Wall-clock limit of one request (an analysis, or one refresh of a followed log), seconds. */
  timeoutSeconds: number;
}

/**
 * Defaults: the heap of a whole-run analysis of a 291-tensor × 2,000-step log peaks near 700 MB with the
 * object-per-record run model, and a streamed multi-GB checkpoint needs far less; five minutes is ~30× the
 * slowest large input we measured (a 1 GiB snapshot in 0.7 s, a 254 MB log in 13 s on a loaded 2-core box).
 */
export const DEFAULT_LIMITS: AnalysisLimits = { memoryLimitMb: 2048, timeoutSeconds: 300 };
export const MIN_MEMORY_LIMIT_MB = 64;
export const MIN_TIMEOUT_SECONDS = 1;

export type LimitKind = 'memory' | 'timeout' | 'crash';

/** How the process ended, as the host saw it. */
export interface ProcessEnd {
  /** The host stopped it because the request ran past timeoutSeconds. */
  timedOut: boolean;
  code: number | null;
  signal: string | null;
  /** The last bytes the process wrote to stderr (V8 prints its fatal errors there). */
  stderr: string;
}

// V8's fatal errors when the heap ceiling or one of its size limits is reached (an array or string longer
// than V8 allows aborts the process rather than throwing in some paths: "Fatal JavaScript invalid size error").
const MEMORY_PATTERNS =
  /heap out of memory|Reached heap limit|Allocation failed|invalid size error|invalid array length|Array buffer allocation failed/i;

export function classifyEnd(end: ProcessEnd): LimitKind {
  if (end.timedOut) return 'timeout';
  if (MEMORY_PATTERNS.test(end.stderr)) return 'memory';
  return 'crash';
}

/** The line of stderr worth quoting for a crash (V8's last fatal/error line, else the last non-empty line). */
export function crashLine(stderr: string): string | null {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const fatal = [...lines].reverse().find((l) => /fatal|error/i.test(l));
  const line = fatal ?? lines[lines.length - 1];
  return line ? (line.length > 300 ? `${line.slice(0, 300)}…` : line) : null;
}

export interface LimitReport {
  title: string;
  message: string;
}

/**
 * "x.pt exhausted the analysis limits at 37% (reading x.pt) after 4.2 s: …". `target` names the input the
 * user opened; `progress` is the last progress the process reported (how far it got), null if none.
 */
export function limitReport(
  kind: LimitKind,
  target: string,
  limits: AnalysisLimits,
  progress: { fraction: number; message: string } | null,
  elapsedMs: number,
  end: ProcessEnd,
): LimitReport {
  const where = progress ? `at ${Math.floor(progress.fraction * 100)}% (${progress.message})` : 'before it reported any progress';
  const when = `after ${formatNumber(elapsedMs / 1000)} s`;
  const tail = 'Nothing from it is shown; other files open normally.';
  if (kind === 'memory') {
    return {
      title: `${target} exhausted the analysis limits`,
      message: `${target} exhausted the analysis limits ${where} ${when}: the analysis needed more than its ${limits.memoryLimitMb} MB memory ceiling (setting optimizerLens.analysis.memoryLimitMb). ${tail}`,
    };
  }
  if (kind === 'timeout') {
    return {
      title: `${target} exhausted the analysis limits`,
      message: `${target} exhausted the analysis limits ${where}: the analysis ran longer than ${limits.timeoutSeconds} s (setting optimizerLens.analysis.timeoutSeconds) and was stopped. ${tail}`,
    };
  }
  const how = end.signal ? `signal ${end.signal}` : `exit code ${end.code}`;
  const line = crashLine(end.stderr);
  return {
    title: `The analysis of ${target} crashed`,
    message: `The analysis process of ${target} stopped ${where} ${when} (${how})${line ? `: ${line}` : ''}. ${tail}`,
  };
}
