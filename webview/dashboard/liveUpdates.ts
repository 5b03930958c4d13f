// Live refreshes of a followed log, as the dashboard receives them: the whole dashboard again (ShowAnalysis
// with `update`, after a whole-run pass) or only the new steps (AppendSteps, appended here as the host
// appended them: src/shared/appendAnalysis.ts). They are coalesced: whatever arrives while a render waits
// joins the state it will render, so the view renders the newest state once and never works through a
// backlog (a 291-tensor dashboard rendered per message fell a minute behind a log written at 1 MB/s).
// No DOM: the render is scheduled through `schedule` (a frame in the page), unit-tested in Node.

import type { AppendStepsMessage, ShowAnalysisMessage } from '../../src/shared/protocol';
import { appendAnalysis } from '../../src/shared/appendAnalysis';

export interface LiveRender<T> {
  message: ShowAnalysisMessage;
  /** Only steps were appended since the state rendered last (the sections update in place). */
  appendedOnly: boolean;
  /** What the coalesced messages carried along (their trace entries). */
  notes: T[];
}

export interface LiveUpdatesHost<T> {
  /** The message the dashboard renders now (null: none). */
  shown(): ShowAnalysisMessage | null;
  render(update: LiveRender<T>): void;
  /** The view cannot extend what it shows: ask the host for the whole state. */
  resync(): void;
  /** Run `task` soon, once (the page: at the next frame). */
  schedule(task: () => void): void;
}

export class LiveUpdates<T = never> {
  private pending: LiveRender<T> | null = null;
  private scheduled = false;
  /** A resync was asked: appends are dropped until the whole state arrives. */
  private resyncing = false;

  constructor(private readonly host: LiveUpdatesHost<T>) {}

  /** A whole dashboard (live update): it replaces whatever waits. */
  show(message: ShowAnalysisMessage, note?: T): void {
    this.resyncing = false;
    this.pending = { message, appendedOnly: false, notes: [...(this.pending?.notes ?? []), ...(note === undefined ? [] : [note])] };
    this.kick();
  }

  /** New steps: appended to what waits, or to what the dashboard shows; a resync when they do not extend it. */
  append(message: AppendStepsMessage, note?: T): void {
    if (this.resyncing) return;
    const base = this.pending?.message ?? this.host.shown();
    const steps = base?.analysis.result.steps;
    const last = steps?.length ? steps[steps.length - 1] : null;
    if (!base || !steps || steps.length !== message.base.steps || last !== message.base.lastStep) {
      this.pending = null;
      this.resyncing = true;
      this.host.resync();
      return;
    }
    const analysis = appendAnalysis(base.analysis, message.fresh);
    const next: ShowAnalysisMessage = {
      ...base,
      title: message.title,
      analysis,
      totalSteps: message.totalSteps,
      update: true,
      ...(message.facts ? { facts: message.facts } : {}),
      ...(message.trace ? { trace: message.trace } : {}),
    };
    const notes = [...(this.pending?.notes ?? []), ...(note === undefined ? [] : [note])];
    this.pending = { message: next, appendedOnly: this.pending ? this.pending.appendedOnly : true, notes };
    this.kick();
  }

  /** Render what waits now (a message that must render at once, e.g. a first show, clears it first). */
  flush(): void {
    this.scheduled = false;
    const p = this.pending;
    this.pending = null;
    if (p) this.host.render(p);
  }

  /** Forget what waits (a whole new view replaces the dashboard). */
  clear(): void {
    this.pending = null;
    this.resyncing = false;
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.host.schedule(() => {
      if (this.scheduled) this.flush();
    });
  }
}
