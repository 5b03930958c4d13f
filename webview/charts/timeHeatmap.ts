// The heatmap over time: one row per tensor kind or block, steps along x, each cell coloured by the
// row's relative step at that step (the colour scale of the block × kind heatmap). Drawn on a canvas:
// 33 rows × 2,000 steps are too many cells for the DOM. Where one pixel column covers several steps it
// shows the one furthest from the target (a spike is not averaged away), as the dashboard's thinning does.

import { formatNumber, formatStep } from '../../src/shared/format';
import { withAlpha, type ThemeColors } from '../theme';
import { StepMarker } from './setup';

export interface TimeHeatmapData {
  rows: { key: string; label: string }[];
  steps: number[];
  /** rows × steps, row-major; NaN where the row has no figure at that step. */
  values: Float64Array;
}

const ROW_HEIGHT = 14;
const AXIS_HEIGHT = 22;
const GAP = 8;

export class TimeHeatmap {
  private data: TimeHeatmapData = { rows: [], steps: [], values: new Float64Array(0) };
  private step: number | null = null;
  private labelWidth = 0;
  /** The drawn width in CSS pixels (kept, so moving the marker reads no layout). */
  private width = 0;
  private readonly marker: StepMarker;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly colors: () => ThemeColors,
    /** Colour of a value (null: no colour, the cell stays empty). */
    private readonly colorOf: (value: number) => string | null,
    /** Distance of a value from the target, to pick one value per pixel column. */
    private readonly distance: (value: number) => number,
    private readonly onPick: (rowKey: string, step: number) => void,
  ) {
    this.marker = new StepMarker(canvas.parentElement);
    canvas.addEventListener('click', (e) => {
      const hit = this.hit(e.offsetX, e.offsetY);
      if (hit) this.onPick(hit.row, hit.step);
    });
    canvas.addEventListener('mousemove', (e) => {
      const hit = this.hit(e.offsetX, e.offsetY);
      canvas.title = hit
        ? `${this.data.rows.find((r) => r.key === hit.row)?.label ?? hit.row} · step ${formatStep(hit.step)}: ${formatNumber(hit.value)}`
        : '';
    });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(canvas.parentElement ?? canvas);
  }

  setData(data: TimeHeatmapData): void {
    this.data = data;
    this.canvas.dataset.rows = String(data.rows.length);
    this.canvas.dataset.steps = String(data.steps.length);
    this.draw();
  }

  setStep(step: number | null): void {
    this.step = step;
    this.placeMarker();
  }

  destroy(): void {
    this.resize.disconnect();
    this.marker.remove();
  }

  draw(): void {
    const { rows, steps, values } = this.data;
    const theme = this.colors();
    const width = Math.max(200, this.canvas.parentElement?.clientWidth ?? 600);
    this.width = width;
    const height = rows.length * ROW_HEIGHT + AXIS_HEIGHT;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `${Math.max(10, theme.fontSize - 2)}px ${theme.fontFamily}`;
    this.labelWidth = Math.min(180, Math.max(40, ...rows.map((r) => ctx.measureText(r.label).width))) + GAP;
    const plotW = width - this.labelWidth;
    const n = steps.length;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    rows.forEach((row, r) => {
      const y = r * ROW_HEIGHT;
      ctx.fillStyle = theme.muted;
      ctx.fillText(row.label, this.labelWidth - GAP, y + ROW_HEIGHT / 2, this.labelWidth - GAP);
      if (!n) return;
      const base = r * n;
      const columns = Math.min(n, Math.floor(plotW));
      for (let c = 0; c < columns; c++) {
        const from = Math.floor((c * n) / columns);
        const to = Math.max(from + 1, Math.floor(((c + 1) * n) / columns));
        let pick = NaN;
        let far = -1;
        for (let i = from; i < to; i++) {
          const v = values[base + i];
          if (Number.isNaN(v)) continue;
          const d = this.distance(v);
          if (d > far) {
            far = d;
            pick = v;
          }
        }
        if (Number.isNaN(pick)) continue;
        const color = this.colorOf(pick);
        if (!color) continue;
        ctx.fillStyle = color;
        const x0 = this.labelWidth + (c * plotW) / columns;
        const x1 = this.labelWidth + ((c + 1) * plotW) / columns;
        ctx.fillRect(x0, y + 1, Math.max(1, x1 - x0 + 0.5), ROW_HEIGHT - 2);
      }
    });
    // step axis: first, last and a few between
    const axisY = rows.length * ROW_HEIGHT + 4;
    ctx.strokeStyle = withAlpha(theme.muted, 0.5);
    ctx.beginPath();
    ctx.moveTo(this.labelWidth, axisY);
    ctx.lineTo(width, axisY);
    ctx.stroke();
    ctx.fillStyle = theme.muted;
    ctx.textBaseline = 'top';
    // Round steps (0, 5,000, 10,000, …) at the index of the nearest step shown (steps need not be evenly spaced).
    for (const value of niceTicks(steps[0], steps[n - 1], 6)) {
      const i = nearestIndex(steps, value);
      const x = this.xOfIndex(i, plotW);
      ctx.textAlign = x < this.labelWidth + 20 ? 'left' : x > width - 20 ? 'right' : 'center';
      ctx.fillText(formatStep(value), x, axisY + 3);
    }
    this.placeMarker();
  }

  private xOfIndex(i: number, plotW: number): number {
    const n = this.data.steps.length;
    return this.labelWidth + ((i + 0.5) * plotW) / Math.max(1, n);
  }

  private hit(x: number, y: number): { row: string; step: number; value: number } | null {
    const { rows, steps, values } = this.data;
    const r = Math.floor(y / ROW_HEIGHT);
    const plotW = this.width - this.labelWidth;
    if (r < 0 || r >= rows.length || x < this.labelWidth || !steps.length || plotW <= 0) return null;
    const i = Math.min(steps.length - 1, Math.max(0, Math.floor(((x - this.labelWidth) / plotW) * steps.length)));
    return { row: rows[r].key, step: steps[i], value: values[r * steps.length + i] };
  }

  private placeMarker(): void {
    const steps = this.data.steps;
    const i = this.step === null ? -1 : steps.indexOf(this.step);
    if (i < 0 || !this.data.rows.length) this.marker.place(null);
    else
      this.marker.place(
        this.xOfIndex(i, this.width - this.labelWidth),
        0,
        this.data.rows.length * ROW_HEIGHT,
        withAlpha(this.colors().selection, 0.95),
      );
  }
}

/** Round values from a to b, about `count` of them (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(a: number, b: number, count: number): number[] {
  if (!(b > a)) return Number.isFinite(a) ? [a] : [];
  const raw = (b - a) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let v = Math.ceil(a / step) * step; v <= b; v += step) out.push(v);
  return out;
}

function nearestIndex(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && Math.abs(sorted[lo - 1] - value) < Math.abs(sorted[lo] - value) ? lo - 1 : lo;
}
