// One section of the dashboard (header, table, charts, heatmap, findings, …): its part of the page's HTML,
// then events and charts once mounted, and updates when the data, the selected step or the selected layer
// change. Sections talk to each other only through the dashboard (select a step, select a layer).

import type { ShowAnalysisMessage } from '../../src/shared/protocol';
import type { ViewHost } from '../host';
import type { DashboardModel } from './model';

export interface DashboardContext {
  readonly root: HTMLElement;
  readonly host: ViewHost;
  readonly model: DashboardModel;
  readonly message: ShowAnalysisMessage;
  /** The selected step (null: the run has no step with figures). */
  readonly step: number | null;
  /** The selected layer (highlighted in the table and charts, its series in the tensor card). */
  readonly layer: string | null;
  /** Select a step now (a select, a finding, a heatmap click); optionally a layer with it. */
  selectStep(step: number, layer?: string | null): void;
  /** Select a step at the next frame (a slider being dragged: one render per frame). */
  requestStep(step: number): void;
  /** Select a layer (null: none); `scroll` brings its table row into view. */
  selectLayer(layer: string | null, options?: { scroll?: boolean; reveal?: 'table' | 'tensor' }): void;
}

export abstract class Section {
  constructor(protected readonly ctx: DashboardContext) {}

  /** The section's HTML in the page skeleton ('' when it has nothing to show for this run). */
  abstract html(): string;
  /** Bind events and create charts (the skeleton is in the DOM). */
  mount(): void {}
  /** The analysis changed (first render, or a live-tail update). */
  onData(): void {}
  /** A live update only appended steps (the run's findings and earlier steps are as before): by default, onData. */
  onAppend(): void {
    this.onData();
  }
  onStep(): void {}
  onLayer(): void {}
  applyTheme(): void {}
  destroy(): void {}

  protected $<T extends Element = HTMLElement>(selector: string): T | null {
    return this.ctx.root.querySelector<T>(selector);
  }

  protected $$<T extends Element = HTMLElement>(selector: string): T[] {
    return [...this.ctx.root.querySelectorAll<T>(selector)];
  }
}

export function cssEscape(text: string): string {
  return typeof CSS !== 'undefined' && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, '\\$&');
}

export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/**
 * Run a redraw at most once per `ms`, and only after the frame that shows the rest of an update. For a
 * followed log's appended steps: the charts over every step are the slowest part of a dashboard update
 * (0.5–1.1 s per update at 291 tensors × 2,000 steps in headless Chromium on a loaded 2-core machine, most
 * of it the per-kind bands), and the step list, table and heatmap show the new step without waiting for them.
 */
export class Throttle {
  private frame = 0;
  private timer = 0;
  private last = 0;

  constructor(
    private readonly ms: number,
    private readonly run: () => void,
  ) {}

  request(): void {
    if (this.frame || this.timer) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.timer = window.setTimeout(
        () => {
          this.timer = 0;
          this.run();
        },
        Math.max(0, this.last + this.ms - Date.now()),
      );
    });
  }

  /** Redrawn now by other means (a whole update): nothing waits, and the next request waits `ms` from now. */
  done(): void {
    this.cancel();
    this.last = Date.now();
  }

  cancel(): void {
    cancelAnimationFrame(this.frame);
    window.clearTimeout(this.timer);
    this.frame = this.timer = 0;
  }
}
