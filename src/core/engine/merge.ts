import { emptyRunData, type OptimizerHyper, type RunData } from '../types';

/** Merge the RunData of several inputs into one. */
export function mergeRunData(parts: RunData[]): RunData {
  const out = emptyRunData();
  const seen = new Set<string>();
  const groups: NonNullable<RunData['paramGroups']> = [];
  for (const p of parts) {
    out.inputs.push(...p.inputs);
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
    if (p.paramGroups && groups.length === 0) groups.push(...p.paramGroups);
    out.snapshots.push(...p.snapshots);
    out.observations.push(...p.observations);
    out.globals.push(...p.globals);
    out.histograms.push(...p.histograms);
    out.nonFinite.push(...p.nonFinite);
    out.issues.push(...p.issues);
  }
  if (groups.length) out.paramGroups = groups;
  return out;
}

