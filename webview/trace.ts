// Where a live refresh's time goes on its way to the screen: the host stamps when it asked the analysis
// process, got the answer and posted the message (MessageTrace); this adds when the webview received it,
// finished rendering it and painted the frame after. The last entries are kept on <body data-trace> as
// JSON, where the end-to-end test reads them (nothing else does; a few hundred bytes per refresh).

import type { MessageTrace } from '../src/shared/protocol';

export interface TraceEntry extends MessageTrace {
  /** The newest step the message carried. */
  step: number | null;
  /** 'show' (a whole dashboard), 'append' (new steps) or 'revise' (what a whole-run pass changed). */
  kind: string;
  received: number;
  rendered?: number;
  painted?: number;
  /** The first entry of a page: when the page started loading, its script had arrived, and it posted Ready. */
  page?: PageTimes;
}

export interface PageTimes {
  navigated: number;
  scriptLoaded: number | null;
  ready: number;
}

let page: PageTimes | null = null;

/** The page posts Ready now: note when it started loading and when its script arrived (the first entry carries them). */
export function tracePageReady(): void {
  const navigated = Math.round(performance.timeOrigin);
  const script = performance.getEntriesByType('resource').find((e) => /webview\.js(\?|$)/.test(e.name)) as
    PerformanceResourceTiming | undefined;
  page = { navigated, scriptLoaded: script ? Math.round(navigated + script.responseEnd) : null, ready: Date.now() };
}

const KEEP = 400;
const entries: TraceEntry[] = [];

/** Note a traced message as it arrives; returns the entry to complete (or null for an untraced message). */
export function traceReceived(trace: MessageTrace | undefined, kind: string, step: number | null): TraceEntry | null {
  if (!trace) return null;
  const entry: TraceEntry = { ...trace, kind, step, received: Date.now(), ...(page ? { page } : {}) };
  page = null;
  entries.push(entry);
  if (entries.length > KEEP) entries.splice(0, entries.length - KEEP);
  return entry;
}

/** The entries' message was rendered now; `painted` follows two frames later. */
export function traceRendered(done: TraceEntry[]): void {
  if (!done.length) return;
  const rendered = Date.now();
  for (const e of done) e.rendered = rendered;
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      const painted = Date.now();
      for (const e of done) e.painted = painted;
      document.body.dataset.trace = JSON.stringify(entries);
    }),
  );
}
