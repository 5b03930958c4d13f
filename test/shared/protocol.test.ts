// Messages from the webview are checked field by field before the host acts on them (src/shared/protocol.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, parseFromWebview } from '../../src/shared/protocol';

test('every webview → host message type parses to itself, with only its own fields', () => {
  assert.deepEqual(parseFromWebview({ type: MessageType.Ready }), { type: MessageType.Ready });
  assert.deepEqual(parseFromWebview({ type: MessageType.ExportReport, extra: 1 }), { type: MessageType.ExportReport });
  assert.deepEqual(parseFromWebview({ type: MessageType.InsertLoggingSnippet }), { type: MessageType.InsertLoggingSnippet });
  assert.deepEqual(parseFromWebview({ type: MessageType.OpenFile, path: '/runs/a.jsonl', line: 12 }), {
    type: MessageType.OpenFile,
    path: '/runs/a.jsonl',
    line: 12,
  });
  assert.deepEqual(parseFromWebview({ type: MessageType.OpenFile, path: '/runs/a.jsonl', line: 'x' }), {
    type: MessageType.OpenFile,
    path: '/runs/a.jsonl',
  });
  assert.deepEqual(parseFromWebview({ type: MessageType.ExplainRequest, lr: 3e-4, scale: null }), {
    type: MessageType.ExplainRequest,
    lr: 3e-4,
    scale: null,
  });
});

test('anything else is refused: unknown types, host → webview types, missing or ill-typed fields', () => {
  for (const m of [
    null,
    'ready',
    42,
    {},
    { type: 'selectStep', step: 3 },
    { type: MessageType.ShowAnalysis },
    { type: MessageType.OpenFile },
    { type: MessageType.OpenFile, path: '' },
    { type: MessageType.ExplainRequest, lr: '3e-4', scale: null },
    { type: MessageType.ExplainRequest, lr: NaN, scale: 0.02 },
    { type: MessageType.ExplainRequest, lr: 3e-4 },
  ]) {
    assert.equal(parseFromWebview(m), null, JSON.stringify(m));
  }
});
