// Config hover latency on a generated 2,000-line YAML (target: hover p95 under 10 ms).
// Measures what the VS Code hover provider does: (a) hover on a cached scan (the provider caches the scan per
// document version), (b) the first hover after an edit as the provider does it: the previous version's scan is
// cached, a one-value edit is applied to it (rescanAfterEdit, no re-parse), then the hover (the provider leaves the
// lint to its debounce timer, which reuses the same scan); (c) the first
// hover after an edit the shortcut declines (a new line: full scan + lint + hover), and the full scan alone.
// Run alone: node --import tsx bench/configHover.ts
import { performance } from 'node:perf_hooks';
import { configHover, lintConfig, rescanAfterEdit, scanConfigState, scanConfigText } from '../src/core/config';

export interface ConfigHoverBench {
  lines: number;
  hoverCachedP50Ms: number;
  hoverCachedP95Ms: number;
  /** Value edit (the seed, an lr): the provider's path, shortcut over the cached scan. */
  hoverAfterEditP50Ms: number;
  hoverAfterEditP95Ms: number;
  /** How many of those edits the shortcut answered (the rest were scanned in full). */
  afterEditShortcut: number;
  afterEditCount: number;
  /** A structural edit (a line added): full scan + lint + hover. */
  hoverAfterLineEditP50Ms: number;
  hoverAfterLineEditP95Ms: number;
  scanAndLintP95Ms: number;
  learningRates: number;
}

/** A Hydra/Lightning-like YAML of `lines` lines with nested sections, lrs, eps, betas, lists and comments. */
export function generateYaml(lines: number): string {
  const out: string[] = ['# generated training config', 'seed: 1234', 'trainer:', '  precision: bf16-mixed', '  max_steps: 100000'];
  let i = 0;
  while (out.length + 18 <= lines) {
    out.push(`stage_${i}:`);
    out.push(`  name: stage-${i}`);
    out.push('  model:');
    out.push(`    d_model: ${256 + (i % 8) * 64}`);
    out.push(`    init_std: ${(0.02 / (1 + (i % 3))).toFixed(4)}`);
    out.push('  optimizer:');
    out.push(`    type: AdamW`);
    out.push(`    lr: ${(1 + (i % 9)) * 1e-4 < 1e-3 ? `${1 + (i % 9)}.0e-4` : '1.0e-3'}  # stage ${i}`);
    out.push('    betas: [0.9, 0.95]');
    out.push('    eps: 1.0e-8');
    out.push(`    weight_decay: 0.${i % 10}`);
    out.push('  scheduler:');
    out.push(`    min_lr: ${i % 2 ? '1e-5' : '1.0e-5'}`);
    out.push(`    warmup_steps: ${100 * (1 + (i % 5))}`);
    out.push('  data:');
    out.push(`    paths: [shard_${i}_a, shard_${i}_b, shard_${i}_c]`);
    out.push(`    weights: {a: 0.5, b: 0.3, c: 0.2}`);
    out.push('');
    i++;
  }
  while (out.length < lines) out.push(`tail_${out.length}: ${out.length}`);
  return out.slice(0, lines).join('\n') + '\n';
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function benchConfigHover(): Promise<ConfigHoverBench> {
  const text = generateYaml(2000);
  const lines = text.split('\n').length - 1; // 2,000
  // Warm up the parsers (JIT).
  for (let k = 0; k < 5; k++) lintConfig(scanConfigText(text, 'bench.yaml', 'yaml'));
  const scan = scanConfigText(text, 'bench.yaml', 'yaml');
  const positions = scan.learningRates.map((l) => l.range.start + 1);
  const cached: number[] = [];
  for (let k = 0; k < 2000; k++) {
    const t0 = performance.now();
    const h = configHover(scan, positions[k % positions.length]);
    cached.push(performance.now() - t0);
    if (!h) throw new Error('bench: no hover on an lr');
  }
  const afterEdit: number[] = [];
  const afterLineEdit: number[] = [];
  const scanOnly: number[] = [];
  let state = scanConfigState(text, 'bench.yaml', 'yaml');
  let shortcut = 0;
  for (let k = 0; k < 200; k++) {
    // Alternate an edit of the seed and of one stage's lr (the edit a user makes before hovering the lr).
    const edited =
      k % 2
        ? state.text.replace(/^seed: \d+/m, `seed: ${1000 + k}`)
        : state.text.replace(/^( {4}lr: )[^ \n]+/m, `$1${(1 + (k % 9)).toFixed(1)}e-4`);
    const t0 = performance.now();
    const fast = rescanAfterEdit(state, edited);
    const next = fast ?? scanConfigState(edited, 'bench.yaml', 'yaml');
    // The provider lints later (debounced, on the same cached scan): the hover needs the scan only.
    const h = configHover(next.scan, positions[k % positions.length]);
    afterEdit.push(performance.now() - t0);
    if (!h) throw new Error('bench: no hover on an lr after the edit');
    if (fast) shortcut++;
    state = next;
  }
  for (let k = 0; k < 60; k++) {
    const edited = text.replace('seed: 1234', `seed: ${1000 + k}\nextra_${k}: ${k}`);
    const t0 = performance.now();
    const s = scanConfigText(edited, 'bench.yaml', 'yaml');
    lintConfig(s);
    const t1 = performance.now();
    configHover(s, positions[k % positions.length] + `\nextra_${k}: ${k}`.length);
    const t2 = performance.now();
    scanOnly.push(t1 - t0);
    afterLineEdit.push(t2 - t0);
  }
  return {
    lines,
    hoverCachedP50Ms: pct(cached, 50),
    hoverCachedP95Ms: pct(cached, 95),
    hoverAfterEditP50Ms: pct(afterEdit, 50),
    hoverAfterEditP95Ms: pct(afterEdit, 95),
    afterEditShortcut: shortcut,
    afterEditCount: afterEdit.length,
    hoverAfterLineEditP50Ms: pct(afterLineEdit, 50),
    hoverAfterLineEditP95Ms: pct(afterLineEdit, 95),
    scanAndLintP95Ms: pct(scanOnly, 95),
    learningRates: scan.learningRates.length,
  };
}

if (require.main === module) {
  benchConfigHover().then((r) => {
    console.log(JSON.stringify(r, null, 2));
  });
}
