// Hover text for a position in a scanned config: on an lr, a scale, or an eps. Pure (no vscode).
import { DEFAULT_THRESHOLDS, type Thresholds } from '../rules/types';
import { explainCommandArgs, explainLearningRate, type ExplainCommandArgs } from './explain';
import { formatNumber, formatPercent } from '../../shared/format';
import { FP16_MIN_SUBNORMAL, optimizerFamilyOf, scaleFor, toFloat16 } from './rules';
import type { ConfigLearningRate, ConfigNumber, ConfigScale, ConfigScan, LinkedScale, SourceRange } from './types';

export const EXPLAIN_COMMAND = 'optimizerLens.explainLearningRate';

export interface ConfigHover {
  markdown: string;
  range: SourceRange;
  /** Arguments for the Explain Learning Rate command ({lr, scale, optimizer, eps, scaleSource, source}). */
  explainArgs: ExplainCommandArgs | null;
}

const inside = (r: SourceRange | undefined, offset: number) => !!r && offset >= r.start && offset <= r.end;

export type Hit =
  | { kind: 'lr'; item: ConfigLearningRate; range: SourceRange }
  | { kind: 'scale'; item: ConfigScale; range: SourceRange }
  | { kind: 'eps'; item: ConfigNumber; range: SourceRange };

/** What is at an offset: an lr, a scale (stated in this file) or an eps (key or value range). */
export function findAt(scan: ConfigScan, offset: number): Hit | null {
  for (const item of scan.learningRates)
    if (inside(item.range, offset) || inside(item.keyRange, offset)) return { kind: 'lr', item, range: cover(item.keyRange, item.range) };
  for (const item of scan.scales)
    if (!item.path && (inside(item.range, offset) || inside(item.keyRange, offset)))
      return { kind: 'scale', item, range: cover(item.keyRange, item.range) };
  for (const item of scan.eps)
    if (inside(item.range, offset) || inside(item.keyRange, offset)) return { kind: 'eps', item, range: cover(item.keyRange, item.range) };
  return null;
}

function cover(a: SourceRange | undefined, b: SourceRange): SourceRange {
  if (!a || a.start > b.start) return b;
  return { start: a.start, end: b.end, line: a.line, column: a.column, endLine: b.endLine, endColumn: b.endColumn };
}

export interface HoverOptions {
  linked?: LinkedScale | null;
  targetRelativeStep?: number;
  thresholds?: Partial<Thresholds>;
}

function explainLink(args: ExplainCommandArgs): string {
  return `[Explain Learning Rate](command:${EXPLAIN_COMMAND}?${explainCommandArgs(args)})`;
}

export function configHover(scan: ConfigScan, offset: number, options: HoverOptions = {}): ConfigHover | null {
  const hit = findAt(scan, offset);
  if (!hit) return null;
  const th = { ...DEFAULT_THRESHOLDS, ...(options.thresholds ?? {}) };
  const family = optimizerFamilyOf(scan);
  const eps = scan.eps[0]?.value ?? null;
  if (hit.kind === 'lr') {
    const lr = hit.item;
    const choice = scaleFor(lr, scan, options.linked);
    const ex = explainLearningRate({
      lr: lr.value,
      scale: choice?.value ?? null,
      optimizer: family,
      target: options.targetRelativeStep,
      layers: choice?.layers,
      scaleSource: choice?.source,
      eps,
    });
    const head = `**Optimizer Lens** · \`${lr.key}\`${lr.role === 'floor' ? ' (floor of the schedule)' : ''}`;
    const parts = [head];
    if (lr.note) parts.push(`_${lr.note}._`);
    const fs = scan.yamlFloatStrings.find((f) => f.range.start === lr.range.start);
    if (fs) {
      parts.push(
        scan.yamlLoader
          ? `\`${fs.raw}\` is read as ${lr.value} here (${scan.yamlLoader.hint === 'hydra' ? 'Hydra/OmegaConf' : 'Lightning CLI'}), but PyYAML's safe_load would return the string '${fs.raw}' (yaml-float-string).`
          : `⚠ \`${fs.raw}\` is read as ${lr.value} by YAML 1.2 parsers but as the string '${fs.raw}' by PyYAML's safe_load (yaml-float-string).`,
      );
    }
    if (lr.role === 'floor') {
      const peak = scan.learningRates.find((x) => x.role === 'peak');
      if (peak)
        parts.push(
          `The peak lr ${formatNumber(peak.value)} (\`${peak.key}\`, line ${peak.range.line}) sets the step size of interest; this floor is ${formatNumber(lr.value / peak.value)} of it.`,
        );
    }
    parts.push(ex.markdown);
    if (ex.relativeStep !== null && (ex.relativeStep > th.relativeStepHigh || ex.relativeStep < th.relativeStepLow)) {
      parts.push(
        `⚠ outside the band ${formatNumber(th.relativeStepLow)}–${formatNumber(th.relativeStepHigh)} (relative-step-${ex.relativeStep > th.relativeStepHigh ? 'high' : 'low'}).`,
      );
    }
    const args: ExplainCommandArgs = {
      lr: lr.value,
      scale: ex.scale,
      optimizer: family,
      eps,
      scaleSource: choice?.source,
      source: `${lr.key} (line ${lr.range.line})`,
    };
    parts.push(explainLink(args));
    return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: args };
  }
  if (hit.kind === 'scale') {
    const s = hit.item;
    const parts = [
      `**Optimizer Lens** · parameter scale \`${s.key}\` = ${formatNumber(s.value)}${s.source === 'annotation' ? ' (annotation)' : ''}`,
    ];
    const allPeaks = scan.learningRates.filter((x) => x.role === 'peak');
    // The lrs this scale is used for (an annotation on or above an lr's line is that lr's only).
    const peaks = allPeaks.filter((lr) => scaleFor(lr, scan, options.linked)?.scale === s);
    if (!allPeaks.length)
      parts.push(
        'No learning rate in this file; a training-args file next to it (e.g. training_args.json beside config.json) uses this scale.',
      );
    else if (!peaks.length)
      parts.push(
        `Not used for this file's learning rates: each has a nearer or earlier-ranked scale (${allPeaks
          .slice(0, 2)
          .map((lr) => `\`${lr.key}\`: ${scaleFor(lr, scan, options.linked)?.source ?? 'none'}`)
          .join('; ')}).`,
      );
    else if (s.source === 'annotation' && peaks.length < allPeaks.length)
      parts.push(`Applies to the learning rate on its line or the line below only.`);
    for (const lr of peaks.slice(0, 4)) {
      const rel = lr.value / s.value;
      parts.push(
        family === 'sgd'
          ? `\`${lr.key}\` = ${formatNumber(lr.value)} (line ${lr.range.line}): SGD-like, lr is not a step size.`
          : `\`${lr.key}\` = ${formatNumber(lr.value)} (line ${lr.range.line}) → relative step lr/scale = **${formatNumber(rel)}** (${formatPercent(rel)} per step at the start; ≈ ${formatNumber(rel * 0.2)}–${formatNumber(rel * 0.45)} later). For ${formatNumber(options.targetRelativeStep ?? 1e-3)}: lr ≈ ${formatNumber((options.targetRelativeStep ?? 1e-3) * s.value)}.`,
      );
    }
    const first = peaks[0];
    const args: ExplainCommandArgs | null = first
      ? {
          lr: first.value,
          scale: s.value,
          optimizer: family,
          eps,
          scaleSource: `${s.key}, line ${s.range.line}`,
          source: `${first.key} (line ${first.range.line})`,
        }
      : null;
    if (args) parts.push(explainLink(args));
    return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: args };
  }
  // eps
  const e = hit.item;
  const parts = [`**Optimizer Lens** · \`${e.key}\` = ${formatNumber(e.value)}`];
  parts.push(
    `ε is added to √v̂ in u = m̂/(√v̂+ε): it dominates where gradients are below ~${formatNumber(e.value)} and shrinks those updates.`,
  );
  const trueHalf = scan.precision.find((p) => p.mode === 'fp16-true');
  const mixed = scan.precision.find((p) => p.mode === 'fp16-mixed');
  if (trueHalf) {
    const inHalf = toFloat16(e.value);
    parts.push(
      e.value < FP16_MIN_SUBNORMAL
        ? `⚠ True half precision (\`${trueHalf.key}\`, line ${trueHalf.range.line}): float16's smallest subnormal is 2^-24 ≈ 5.96e-8, so this eps becomes ${inHalf === 0 ? '0' : formatNumber(inHalf)} in float16.`
        : `True half precision (\`${trueHalf.key}\`, line ${trueHalf.range.line}): in float16 this eps is ${formatNumber(inHalf)}.`,
    );
  } else if (mixed) {
    parts.push(
      `Mixed precision (\`${mixed.key}\`, line ${mixed.range.line}) keeps fp32 master weights and optimizer state and unscales gradients before the step, so ε acts in float32 — no float16 underflow${e.value < FP16_MIN_SUBNORMAL ? ' although it is below 2^-24 ≈ 5.96e-8' : ''}.`,
    );
  }
  return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: null };
}
