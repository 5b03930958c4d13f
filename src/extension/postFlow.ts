// Flow control of the messages one webview is sent: one message in flight at a time. The next is posted when
// the webview says it took the last one off its queue (Received), and whatever arrives meanwhile waits here,
// merged — new steps appended to the new steps waiting (one AppendSteps), a whole-run pass's revision joined with
// the appends before or after it (one ReviseRun), anything else replaced by the whole current state. Without it a
// followed log refreshed 1.6 times a second queued its messages in the transport (extension host → workbench →
// webview frame, a websocket under code-server): in the e2e run each one took longer than the one before to
// arrive, 6 s behind the log after 45 s while the webview rendered each in 0.4 s. No vscode import: unit-tested in Node (test/extension/postFlow.test.ts).

import { appendAnalysis } from '../shared/appendAnalysis';
import { MessageType, stateAfter, type DashboardDelta, type PostReason, type ToWebviewMessage } from '../shared/protocol';
import { appendThenRevise, reviseThenAppend } from '../shared/reviseAnalysis';

const isDelta = (m: ToWebviewMessage): m is DashboardDelta => m.type === MessageType.AppendSteps || m.type === MessageType.ReviseRun;

/** A webview that never says Received (closed, reloading, hidden and discarded) holds the queue this long at most. */
export const RECEIVED_TIMEOUT_MS = 10_000;

export interface PostFlowTimers {
  set(task: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: PostFlowTimers = {
  set: (task, ms) => setTimeout(task, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class PostFlow {
  private inFlight = false;
  private timer: unknown = null;
  private waiting: ToWebviewMessage | null = null;
  private waitingVia: PostReason = 'posted';

  constructor(
    private readonly send: (message: ToWebviewMessage, via: PostReason) => void,
    private readonly timers: PostFlowTimers = realTimers,
    private readonly timeoutMs = RECEIVED_TIMEOUT_MS,
  ) {}

  /** Messages posted and not yet received, plus the one waiting (0–2). */
  get queued(): number {
    return (this.inFlight ? 1 : 0) + (this.waiting ? 1 : 0);
  }

  /**
   * Post `message` now, or after the one in flight. `whole`: the complete state the view shows once it has
   * `message` (the same message unless it is a delta: AppendSteps, ReviseRun), which replaces a wait that cannot
   * be merged.
   */
  post(message: ToWebviewMessage, whole: ToWebviewMessage, via: PostReason = 'posted'): void {
    if (!this.inFlight) {
      this.transmit(message, via);
      return;
    }
    const w = this.waiting;
    if (w === null) {
      this.waiting = message;
      this.waitingVia = via;
      return;
    }
    const merged = isDelta(w) && isDelta(message) && chains(w, message) ? mergeDeltas(w, message) : null;
    this.waiting = merged ?? whole;
    this.waitingVia = merged ? 'merged' : via === 'ready' ? via : 'replaced';
  }

  /** The webview took the message in flight: post what waits. */
  received(): void {
    this.settle();
    const w = this.waiting;
    this.waiting = null;
    if (w) this.transmit(w, this.waitingVia);
  }

  /** The webview starts over (Ready): nothing is in flight and nothing waits (the caller sends the whole state). */
  reset(): void {
    this.settle();
    this.waiting = null;
  }

  dispose(): void {
    this.reset();
  }

  private settle(): void {
    this.inFlight = false;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
  }

  private transmit(message: ToWebviewMessage, via: PostReason): void {
    this.inFlight = true;
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.received();
    }, this.timeoutMs);
    this.send(message, via);
  }
}

/** `b` changes the state `a` leads to (its base is the last step and step count after `a`). */
function chains(a: DashboardDelta, b: DashboardDelta): boolean {
  const after = stateAfter(a);
  return b.base.steps === after.steps && b.base.lastStep === after.lastStep;
}

/**
 * One delta for `a` then `b` (b chains to a), from a's base: appends joined; a revision and the appends after
 * it one revision; appends and the revision after them one revision. Two revisions do not join (the first
 * drops points of the base the second no longer lists): null, and the whole state is sent.
 */
export function mergeDeltas(a: DashboardDelta, b: DashboardDelta): DashboardDelta | null {
  if (a.type === MessageType.AppendSteps && b.type === MessageType.AppendSteps)
    return { ...b, base: a.base, fresh: appendAnalysis(a.fresh, b.fresh) };
  if (a.type === MessageType.ReviseRun && b.type === MessageType.AppendSteps) {
    const { base, live } = a;
    return {
      type: MessageType.ReviseRun,
      base,
      analysis: reviseThenAppend(a.analysis, b.fresh),
      title: b.title,
      totalSteps: b.totalSteps,
      ...(live !== undefined ? { live } : {}),
      ...(b.facts ? { facts: b.facts } : {}),
      ...(b.trace ? { trace: b.trace } : {}),
    };
  }
  if (a.type === MessageType.AppendSteps && b.type === MessageType.ReviseRun)
    return { ...b, base: a.base, analysis: appendThenRevise(a.fresh, b.analysis) };
  return null;
}
