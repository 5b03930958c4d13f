// Live refreshes of a followed log, as the dashboard receives them: the whole dashboard again (ShowAnalysis
// with `update`), only the new steps (AppendSteps, appended here as the host appended them:
// src/shared/appendAnalysis.ts), or what a whole-run pass changed (ReviseRun, src/shared/reviseAnalysis.ts). They are coalesced: whatever arrives while a render waits
// joins the state it will render, so the view renders the newest state once and never works through a
// backlog (a 291-tensor dashboard rendered per message fell a minute behind a log written at 1 MB/s).
// No DOM: the render is scheduled through `schedule` (a frame in the page), unit-tested in Node.

import type { RunAnalysis } from '../../src/core/analysis';
import { baseOf, type AppendStepsMessage, type ReviseRunMessage, type ShowAnalysisMessage } from '../../src/shared/protocol';
import { appendAnalysis } from '../../src/shared/appendAnalysis';
import { applyRevision } from '../../src/shared/reviseAnalysis';

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

/** What waits for the next render: a state, and the new steps' analyses to append to it then. */
interface Pending<T> {
  base: ShowAnalysisMessage;
  /** Each AppendSteps' analysis, in order: appended to `base` once, at the render. */
  parts: RunAnalysis[];
  /** The last AppendSteps (title, totalSteps, facts and trace of the newest state). */
  last: AppendStepsMessage | null;
  /** The newest state's last step and step count (what the next AppendSteps must extend). */
  lastStep: number | null;
  steps: number;
  appendedOnly: boolean;
  notes: T[];
}

export class LiveUpdates<T = never> {
  private pending: Pending<T> | null = null;
  private scheduled = false;
  /** A resync was asked: appends are dropped until the whole state arrives. */
  private resyncing = false;

  constructor(private readonly host: LiveUpdatesHost<T>) {}

  /** A whole dashboard (live update): it replaces whatever waits. */
  show(message: ShowAnalysisMessage, note?: T): void {
    this.resyncing = false;
    const steps = message.analysis.result.steps;
    this.pending = {
      base: message,
      parts: [],
      last: null,
      ...baseOf(steps),
      appendedOnly: false,
      notes: [...(this.pending?.notes ?? []), ...(note === undefined ? [] : [note])],
    };
    this.kick();
  }

  /**
   * New steps: kept to append to what waits, or to what the dashboard shows, at the next render (one append
   * per render: each one copies every layer's series); a resync when they do not extend it.
   */
  append(message: AppendStepsMessage, note?: T): void {
    if (this.resyncing) return;
    let p = this.pending;
    if (!p) {
      const shown = this.host.shown();
      const steps = shown?.analysis.result.steps;
      if (shown && steps)
        p = {
          base: shown,
          parts: [],
          last: null,
          ...baseOf(steps),
          appendedOnly: true,
          notes: [],
        };
    }
    if (!p || p.steps !== message.base.steps || p.lastStep !== message.base.lastStep) {
      this.pending = null;
      this.resyncing = true;
      this.host.resync();
      return;
    }
    const added = message.fresh.result.steps;
    p.parts.push(message.fresh);
    p.last = message;
    p.steps += added.length;
    if (added.length) p.lastStep = added[added.length - 1];
    if (note !== undefined) p.notes.push(note);
    this.pending = p;
    this.kick();
  }

  /**
   * What a whole-run pass changed (findings, summary, the thinned steps): applied to what waits, or to what the
   * dashboard shows, at once (the sections re-render from it); a resync when it revises another state.
   */
  revise(message: ReviseRunMessage, note?: T): void {
    if (this.resyncing) return;
    const p = this.pending;
    const state = p ? this.stateOf(p) : this.host.shown();
    const now = p ?? (state ? baseOf(state.analysis.result.steps) : null);
    if (!state || !now || now.steps !== message.base.steps || now.lastStep !== message.base.lastStep) {
      this.pending = null;
      this.resyncing = true;
      this.host.resync();
      return;
    }
    const steps = message.analysis.result.steps;
    this.pending = {
      base: {
        ...state,
        title: message.title,
        analysis: applyRevision(state.analysis, message.analysis),
        update: true,
        ...(message.totalSteps !== undefined ? { totalSteps: message.totalSteps } : {}),
        ...(message.live !== undefined ? { live: message.live } : {}),
        ...(message.facts ? { facts: message.facts } : {}),
        ...(message.trace ? { trace: message.trace } : {}),
      },
      parts: [],
      last: null,
      ...baseOf(steps),
      appendedOnly: false,
      notes: [...(p?.notes ?? []), ...(note === undefined ? [] : [note])],
    };
    this.kick();
  }

  /** Render what waits now. */
  flush(): void {
    this.scheduled = false;
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    this.host.render({ message: this.stateOf(p), appendedOnly: p.appendedOnly, notes: p.notes });
  }

  /** Forget what waits (a whole new view replaces the dashboard). */
  clear(): void {
    this.pending = null;
    this.resyncing = false;
  }

  private stateOf(p: Pending<T>): ShowAnalysisMessage {
    const m = p.last;
    if (!m) return p.base;
    // The new parts joined first (small), then appended to the whole state once.
    const fresh = p.parts.reduce((a, b) => appendAnalysis(a, b));
    return {
      ...p.base,
      title: m.title,
      analysis: appendAnalysis(p.base.analysis, fresh),
      totalSteps: m.totalSteps,
      update: true,
      ...(m.facts ? { facts: m.facts } : {}),
      ...(m.trace ? { trace: m.trace } : {}),
    };
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.host.schedule(() => {
      if (this.scheduled) this.flush();
    });
  }
}
