// Work for a part of the page that is off screen waits until it scrolls into view (or the page is printed):
// a 291-row table at the bottom of the dashboard need not be rebuilt on every step of a dragged slider.

export class WhenVisible {
  // Until the observer's first report, on screen (the first render is never held back).
  private visible = true;
  private pending: (() => void) | null = null;
  private readonly observer: IntersectionObserver | null;
  private readonly flush = () => this.runPending();

  constructor(element: Element | null) {
    this.observer =
      element && typeof IntersectionObserver !== 'undefined'
        ? new IntersectionObserver(
            (entries) => {
              this.visible = entries.some((e) => e.isIntersecting);
              if (this.visible) this.runPending();
            },
            { rootMargin: '300px 0px' },
          )
        : null;
    if (element) this.observer?.observe(element);
    window.addEventListener('beforeprint', this.flush);
  }

  /** Run now when on screen; else the latest such work runs when it comes into view. */
  run(work: () => void): void {
    if (this.visible || !this.observer) {
      this.pending = null;
      work();
    } else this.pending = work;
  }

  dispose(): void {
    this.observer?.disconnect();
    window.removeEventListener('beforeprint', this.flush);
    this.pending = null;
  }

  private runPending(): void {
    const work = this.pending;
    this.pending = null;
    work?.();
  }
}
