// Test data built inside the page (bundled by the harness and added as an init script, like the fake
// acquireVsCodeApi): a 291-tensor analysis is 37 MB of packed series, which would take minutes to push
// through the DevTools protocol on a loaded machine; made in the page it is posted as the host posts it —
// wire.ts' packed ArrayBuffers, structured-cloned by postMessage.

import { toWire } from '../../src/extension/wire';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import { MessageType, type ToWebviewMessage } from '../../src/shared/protocol';
import { llamaRunAnalysis } from '../support/llamaRun';

/** The Llama-7B-shaped dashboard message, as posted over the wire. */
export function llamaMessage(title = 'llama-7b/'): ToWebviewMessage {
  const analysis = llamaRunAnalysis();
  return toWire({
    type: MessageType.ShowAnalysis,
    title,
    analysis,
    settings: { thresholds: { ...DEFAULT_THRESHOLDS }, targetRelativeStep: 1e-3, defaultEps: 1e-8 },
    totalSteps: analysis.result.steps.length,
  });
}
