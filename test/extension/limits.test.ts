// What the user reads when an analysis process crosses a limit (src/extension/analysis/limits.ts), from the
// ends V8 and the host produce, and the settings' defaults as package.json declares them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyEnd,
  crashLine,
  DEFAULT_LIMITS,
  limitReport,
  MIN_MEMORY_LIMIT_MB,
  MIN_TIMEOUT_SECONDS,
  type ProcessEnd,
} from '../../src/extension/analysis/limits';
import { ROOT } from '../support/fixtures';

const end = (e: Partial<ProcessEnd>): ProcessEnd => ({ timedOut: false, code: null, signal: null, stderr: '', ...e });

// V8's own words (node 20): the heap ceiling, and a size limit that aborts instead of throwing.
const HEAP_OOM = `<--- Last few GCs --->\n[123:0x5]  2034 ms: Mark-Compact 61.9 (66.4) -> 61.7 (66.6) MB\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: 0xb8a2c0 node::Abort() [node]`;
const INVALID_SIZE = '\n\n#\n# Fatal error in , line 0\n# Fatal JavaScript invalid size error 169220804 (see crbug.com/1201626)\n#\n';

test('a process end is classified: the host timed it out, V8 hit the heap ceiling or a size limit, else a crash', () => {
  assert.equal(classifyEnd(end({ timedOut: true, signal: 'SIGKILL' })), 'timeout');
  assert.equal(classifyEnd(end({ signal: 'SIGABRT', stderr: HEAP_OOM })), 'memory');
  assert.equal(classifyEnd(end({ signal: 'SIGTRAP', stderr: INVALID_SIZE })), 'memory');
  assert.equal(classifyEnd(end({ signal: 'SIGSEGV', stderr: '' })), 'crash');
  assert.equal(classifyEnd(end({ code: 1, stderr: 'TypeError: x is not a function\n    at f (analysis.js:1:2)' })), 'crash');
});

test("the crash line quoted is V8's fatal line, else the last line, cut at 300 characters", () => {
  assert.equal(crashLine(INVALID_SIZE), '# Fatal JavaScript invalid size error 169220804 (see crbug.com/1201626)');
  assert.equal(crashLine(HEAP_OOM), 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory');
  assert.equal(crashLine('warming up\nsomething odd\n'), 'something odd');
  assert.equal(crashLine(''), null);
  assert.equal(crashLine('x'.repeat(400))!.length, 301);
});

test('the report names the file, how far the analysis got, the limit and its setting', () => {
  const limits = { memoryLimitMb: 512, timeoutSeconds: 30 };
  const at = { fraction: 0.374, message: 'reading optimizer.pt' };
  const m = limitReport('memory', 'optimizer.pt', limits, at, 4210, end({ signal: 'SIGABRT', stderr: HEAP_OOM }));
  assert.equal(m.title, 'optimizer.pt exhausted the analysis limits');
  assert.equal(
    m.message,
    'optimizer.pt exhausted the analysis limits at 37% (reading optimizer.pt) after 4.21 s: the analysis needed more than its 512 MB memory ceiling (setting optimizerLens.analysis.memoryLimitMb). Nothing from it is shown; other files open normally.',
  );
  const t = limitReport('timeout', 'run/', limits, null, 30_000, end({ timedOut: true }));
  assert.equal(
    t.message,
    'run/ exhausted the analysis limits before it reported any progress: the analysis ran longer than 30 s (setting optimizerLens.analysis.timeoutSeconds) and was stopped. Nothing from it is shown; other files open normally.',
  );
  const c = limitReport('crash', 'x.npz', limits, at, 1000, end({ signal: 'SIGSEGV' }));
  assert.equal(c.title, 'The analysis of x.npz crashed');
  assert.match(c.message, /^The analysis process of x\.npz stopped at 37% \(reading optimizer\.pt\) after 1 s \(signal SIGSEGV\)\. /);
});

test("package.json declares the limits' settings with the defaults and minima the code uses", () => {
  const props = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).contributes.configuration.properties;
  assert.equal(props['optimizerLens.analysis.memoryLimitMb'].default, DEFAULT_LIMITS.memoryLimitMb);
  assert.equal(props['optimizerLens.analysis.memoryLimitMb'].minimum, MIN_MEMORY_LIMIT_MB);
  assert.equal(props['optimizerLens.analysis.timeoutSeconds'].default, DEFAULT_LIMITS.timeoutSeconds);
  assert.equal(props['optimizerLens.analysis.timeoutSeconds'].minimum, MIN_TIMEOUT_SECONDS);
});
