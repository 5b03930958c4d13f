// A test-only way to make the analysis process cross its limits whatever the readers' own budgets are, so
// the containment (client.ts) is tested end to end: OPTIMIZER_LENS_TEST_EXHAUST="memory:NAME,hang:NAME"
// makes the analysis of an input whose file name is NAME fill the heap until V8 aborts at the ceiling, or
// block its event loop forever (a synchronous hang, as a runaway parse would). Unset, nothing happens.

import { basename } from 'node:path';

export const EXHAUST_ENV = 'OPTIMIZER_LENS_TEST_EXHAUST';

export async function exhaustIfAsked(paths: string[], progress: (fraction: number, message: string) => void): Promise<void> {
  const spec = process.env[EXHAUST_ENV];
  if (!spec) return;
  for (const item of spec.split(',')) {
    const [what, name] = item.split(':');
    if (!name || !paths.some((p) => basename(p) === name)) continue;
    progress(0.25, `reading ${name}`);
    // let the progress message leave before the event loop stops
    await new Promise((r) => setTimeout(r, 50));
    if (what === 'memory') {
      const hold: number[][] = [];
      for (;;) hold.push(new Array<number>(1 << 20).fill(hold.length));
    }
    if (what === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
}
