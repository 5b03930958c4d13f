import { emptyRunData, type OptimizerHyper, type RunData } from './types';
import { appendAll } from '../arrays';

/** Merge the RunData of several inputs into one. */
export function mergeRunData(parts: RunData[]): RunData {
  const out = emptyRunData();
  const seen = new Set<string>();
  const groups: NonNullable<RunData['paramGroups']> = [];
  for (const p of parts) {
    appendAll(out.inputs, p.inputs);
    for (const l of p.layerOrder) {
      if (!seen.has(l)) {
        seen.add(l);
        out.layerOrder.push(l);
      }
    }
    for (const [k, v] of Object.entries(p.layerShapes)) if (!out.layerShapes[k]) out.layerShapes[k] = v;
    for (const [k, v] of Object.entries(p.hyper) as [keyof OptimizerHyper, unknown][]) {
      if (v !== null && v !== undefined && (out.hyper as Record<string, unknown>)[k] === undefined) {
        (out.hyper as Record<string, unknown>)[k] = v;
      }
    }
    if (p.paramGroups && groups.length === 0) appendAll(groups, p.paramGroups);
    appendAll(out.snapshots, p.snapshots);
    out.scalars.append(p.scalars);
    appendAll(out.histograms, p.histograms);
    appendAll(out.nonFinite, p.nonFinite);
    appendAll(out.issues, p.issues);
  }
  if (groups.length) out.paramGroups = groups;
  const seenInputs = parts.flatMap((p) => p.seen ?? []);
  if (seenInputs.length) out.seen = seenInputs;
  const skipped = parts.flatMap((p) => p.skipped ?? []);
  if (skipped.length) out.skipped = skipped;
  const frozen = new Set(parts.flatMap((p) => p.frozenLayers ?? []));
  if (frozen.size) out.frozenLayers = [...frozen];
  return out;
}
