// Hover text for a position in a scanned config: on an lr, an lr the file computes from unknown names, a scale,
// or an eps. Pure (no vscode). The relative-step verdicts are the lint's own (rules.stepVerdicts): hover and
// Problems say the same thing.
import { DEFAULT_THRESHOLDS, type Thresholds } from '../rules/types';
import { explainCommandArgs, explainLearningRate, muonSteps, type ExplainCommandArgs } from './explain';
import { formatNumber, formatPercent } from '../../shared/format';
import { FP16_MIN_SUBNORMAL, isStepLr, LOADER_NAMES, scaleFor, stepEstimates, stepVerdicts, toFloat16, type ScaleChoice } from './rules';
import { autoOptimizerReading, readingFor, type LrReading } from './reading';
import type { ConfigLearningRate, ConfigNumber, ConfigScale, ConfigScan, ConfigUnresolvedLr, LinkedScale, SourceRange } from './types';

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
  | { kind: 'unresolved'; item: ConfigUnresolvedLr; range: SourceRange }
  | { kind: 'scale'; item: ConfigScale; range: SourceRange }
  | { kind: 'eps'; item: ConfigNumber; range: SourceRange };

/** What is at an offset: an lr (its value, key or a use of it), an lr computed from unknown names, a scale, an eps. */
export function findAt(scan: ConfigScan, offset: number): Hit | null {
  for (const item of scan.learningRates) {
    if (inside(item.range, offset) || inside(item.keyRange, offset)) return { kind: 'lr', item, range: cover(item.keyRange, item.range) };
    const use = item.useRanges?.find((u) => inside(u, offset));
    if (use) return { kind: 'lr', item, range: use };
  }
  for (const item of scan.unresolved)
    if (inside(item.range, offset) || inside(item.keyRange, offset))
      return { kind: 'unresolved', item, range: cover(item.keyRange, item.range) };
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

/** Kind of scale a stated init std is when the run starts from loaded weights. */
function loadedWeightsNote(scan: ConfigScan, choice: ScaleChoice | null): string | null {
  const lw = scan.loadedWeights;
  const src = choice?.scale?.source;
  if (!lw || !choice || choice.layers || (src !== 'stated' && src !== 'sibling' && src !== 'init-call')) return null;
  return `ℹ \`${lw.key}\` (line ${lw.range.line}) loads weights to train from: ${choice.scale!.key} = ${formatNumber(choice.value)} is the scale they were *initialized* with, not their scale now — link the checkpoint for the measured one.`;
}

function scheduleText(lr: ConfigLearningRate, scan: ConfigScan): string[] {
  const out: string[] = [];
  if (lr.schedule) {
    const b = lr.schedule.boundaries;
    out.push(
      `Schedule: peak ${formatNumber(lr.value)}, then ${lr.schedule.values.map((v) => formatNumber(v)).join(', ') || '—'}${b ? ` (boundaries ${b.map((x) => formatNumber(x, 8)).join(', ')})` : ''}; the findings are about the peak.`,
    );
  }
  if (lr.role === 'main')
    for (const s of scan.schedules.slice(0, 2)) {
      const vals = s.milestones.map((_, i) => formatNumber(lr.value * s.gamma ** (i + 1)));
      out.push(
        `\`${s.key}\` (line ${s.range.line}): × ${formatNumber(s.gamma)} at ${s.milestones.map((m) => formatNumber(m)).join(', ')} → ${vals.join(', ')}.`,
      );
    }
  return out;
}

/** One line per lr of another optimizer in the file (Muon beside AdamW): their steps are not comparable by lr. */
function otherOptimizerLines(lr: ConfigLearningRate, reading: LrReading, scan: ConfigScan, options: HoverOptions): string[] {
  const others = scan.learningRates.filter((x) => x !== lr && isStepLr(x)).map((x) => ({ x, r: readingFor(x, scan) }));
  const differ = others.filter(({ r }) => r.family !== reading.family).slice(0, 3);
  if (!differ.length) return [];
  const width = scan.widths[0];
  const lines = differ.map(({ x, r }) => {
    const choice = scaleFor(x, scan, options.linked);
    const est = stepEstimates(x.value, r, choice)?.[0];
    let rel: string;
    if (est)
      rel = est.later
        ? `relative step ${formatNumber(est.first)} at step 1, ≈ ${formatNumber(est.later[0])}–${formatNumber(est.later[1])} later`
        : `relative step ${formatNumber(est.first)}`;
    else if (r.step.kind === 'muon' && width) {
      const m = muonSteps(x.value, width.value);
      const of = (v: number) => `${formatNumber(v)}${choice ? ` (relative ${formatNumber(v / choice.value)})` : ''}`;
      rel = `per-weight step for a ${width.value}×${width.value} weight ≈ ${of(m.kellerJordan)} with max(1, rows/cols)^0.5, ${of(m.matchedAdamW)} with 0.2·√max(rows, cols)`;
    } else if (r.needsScale && !choice)
      rel = `relative step needs the parameter scale (at scale 0.02: ${formatNumber(x.value / 0.02)}${r.step.kind === 'adam-band' ? ' at step 1' : ''})`;
    else rel = r.step.kind === 'muon' ? 'relative step lr·c(shape)/scale' : 'relative step not computable';
    return `\`${x.key}\` = ${formatNumber(x.value)} (${r.label ?? 'optimizer not named'}, line ${x.range.line}): ${rel}`;
  });
  return [`Other optimizers here — their lrs are not comparable by value: ${lines.join('; ')}.`];
}

export function configHover(scan: ConfigScan, offset: number, options: HoverOptions = {}): ConfigHover | null {
  const hit = findAt(scan, offset);
  if (!hit) return null;
  const th = { ...DEFAULT_THRESHOLDS, ...(options.thresholds ?? {}) };
  const eps = scan.eps[0]?.value ?? null;
  if (hit.kind === 'lr') {
    const lr = hit.item;
    const reading = readingFor(lr, scan);
    const choice = scaleFor(lr, scan, options.linked);
    const o = lr.optimizer !== undefined ? scan.optimizers[lr.optimizer] : null;
    const width = scan.widths[0];
    const head = `**Optimizer Lens** · \`${lr.key}\` — ${lr.label}${o ? ` (${reading.label}, \`${o.key}\` line ${o.range.line})` : ''}`;
    const parts = [head];
    if (lr.note) parts.push(`_${lr.note}._`);
    const fs = scan.yamlFloatStrings.find((f) => f.range.start === lr.range.start);
    if (fs) {
      parts.push(
        scan.yamlLoader
          ? `\`${fs.raw}\` is read as ${formatNumber(lr.value)} here (${LOADER_NAMES[scan.yamlLoader.hint]}), but PyYAML's safe_load would return the string '${fs.raw}' (yaml-float-string).`
          : `⚠ \`${fs.raw}\` is read as ${formatNumber(lr.value)} by YAML 1.2 parsers but as the string '${fs.raw}' by PyYAML's safe_load (yaml-float-string).`,
      );
    }
    const auto = autoOptimizerReading(lr, scan);
    if (auto) {
      // The trainer replaces this lr: what it would mean as a step size is beside the point.
      parts.push(`⚠ lr-ignored (warning): ${auto.message}`);
      return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: null };
    }
    const args: ExplainCommandArgs = {
      lr: lr.value,
      scale: choice?.value ?? null,
      optimizer: reading.family,
      eps,
      scaleSource: choice?.source,
      source: `${lr.key} (line ${lr.range.line})`,
    };
    if (!isStepLr(lr)) {
      // A floor, a warmup start, or an input another lr is computed from: no verdicts about its step size.
      // A group's floor or warmup start (Megatron's --decoupled-min-lr) goes with that group's lr.
      const peak = lr.feeds
        ? scan.learningRates.find((x) => x.key === lr.feeds)
        : ((lr.group !== undefined ? scan.learningRates.find((x) => x.role === 'group' && x.group === lr.group) : undefined) ??
          scan.learningRates.find((x) => x.role === 'main'));
      if (lr.feeds && peak)
        parts.push(
          `\`${peak.key}\` (line ${peak.range.line}) is computed from it: ${formatNumber(peak.value)} is the lr the optimizer uses.`,
        );
      else if (lr.value === 0)
        parts.push(
          `A ${lr.role === 'floor' ? 'floor' : 'warmup start'} of 0: the schedule ${lr.role === 'floor' ? 'decays to' : 'starts from'} zero — not a step size to judge.`,
        );
      else if (peak && peak.value > 0)
        parts.push(
          `The ${lr.group !== undefined ? `${lr.group} group's ` : ''}${lr.role === 'floor' ? 'schedule decays to' : 'warmup starts from'} this; the ${peak.label} ${formatNumber(peak.value)} (\`${peak.key}\`, line ${peak.range.line}) is its peak, and this is ${lr.value <= peak.value ? `${formatNumber(lr.value / peak.value)} of it` : `${formatNumber(lr.value / peak.value)}× it`}.`,
        );
      if (lr.value > 0) {
        const est = stepEstimates(lr.value, reading, choice)?.[0];
        if (est)
          parts.push(
            `Relative step at this lr: ${formatNumber(est.first)}${est.later ? ` at step 1, ≈ ${formatNumber(est.later[0])}–${formatNumber(est.later[1])} later` : ''}.`,
          );
      }
      parts.push(explainLink(args));
      return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: args };
    }
    const ex = explainLearningRate({
      lr: lr.value,
      scale: choice?.value ?? null,
      reading,
      target: options.targetRelativeStep,
      layers: choice?.layers,
      scaleSource: choice?.source,
      eps,
      width: width ? { value: width.value, key: width.key, line: width.range.line } : null,
    });
    parts.push(ex.markdown);
    for (const v of stepVerdicts(lr, reading, choice, th, options.linked, options.targetRelativeStep))
      parts.push(`${v.severity === 'warning' ? '⚠' : 'ℹ'} ${v.rule} (${v.severity}): ${v.message}`);
    const lw = loadedWeightsNote(scan, choice);
    if (lw) parts.push(lw);
    parts.push(...scheduleText(lr, scan));
    parts.push(...otherOptimizerLines(lr, reading, scan, options));
    parts.push(explainLink(args));
    return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: args };
  }
  if (hit.kind === 'unresolved') {
    const u = hit.item;
    const parts = [
      `**Optimizer Lens** · \`${u.key}\` — ${u.label}`,
      `\`${u.raw.replace(/\s+/g, ' ').slice(0, 80)}\` depends on ${u.dependsOn
        .slice(0, 4)
        .map((d) => `\`${d}\``)
        .join(
          ', ',
        )}, which this file does not state as a constant: its value is known only when the config runs (nothing is executed here).`,
    ];
    return { markdown: parts.join('\n\n'), range: hit.range, explainArgs: null };
  }
  if (hit.kind === 'scale') {
    const s = hit.item;
    const parts = [
      `**Optimizer Lens** · parameter scale \`${s.key}\` = ${formatNumber(s.value)}${s.source === 'annotation' ? ' (annotation)' : ''}`,
    ];
    const allPeaks = scan.learningRates.filter(isStepLr);
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
      const reading = readingFor(lr, scan);
      const choice = scaleFor(lr, scan, options.linked);
      const est = stepEstimates(lr.value, reading, choice)?.[0];
      const line = `\`${lr.key}\` = ${formatNumber(lr.value)} (line ${lr.range.line}${reading.label && !reading.assumed ? `, ${reading.label}` : ''})`;
      if (!est) parts.push(`${line}: ${reading.meaning}`);
      else {
        const ex = explainLearningRate({ lr: lr.value, scale: s.value, reading, target: options.targetRelativeStep });
        parts.push(
          `${line} → relative step ${est.later ? 'lr/scale = ' : ''}**${formatNumber(est.first)}** (${formatPercent(est.first)} per step${est.later ? ` at the start; ≈ ${formatNumber(est.later[0])}–${formatNumber(est.later[1])} later` : ''}).${ex.lrForTargetRange ? ` For ${formatNumber(ex.target)} later in training: lr ≈ ${formatNumber(ex.lrForTargetRange[0])}–${formatNumber(ex.lrForTargetRange[1])}.` : ex.lrForTarget !== null ? ` For ${formatNumber(ex.target)}: lr ≈ ${formatNumber(ex.lrForTarget)}.` : ''}`,
        );
      }
    }
    const lw =
      scan.loadedWeights && s.source !== 'annotation' ? loadedWeightsNote(scan, { value: s.value, source: s.key, scale: s }) : null;
    if (lw) parts.push(lw);
    const first = peaks[0];
    const args: ExplainCommandArgs | null = first
      ? {
          lr: first.value,
          scale: s.value,
          optimizer: readingFor(first, scan).family,
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
