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
