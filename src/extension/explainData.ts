// Numbers and text of the Explain Learning Rate view. The explanation text comes from core
// (src/core/config/explain.ts, shared with the CLI and the config hover); the table of equivalent
// pairs from src/shared/equivalence.ts (the same arithmetic as the dashboard's equivalence view).

import { explainLearningRate } from '../core/config/explain';
import type { ExplainData } from '../shared/protocol';
import { explainNumbers } from '../shared/equivalence';
import type { OptimizerKind } from '../shared/optimizers';

export interface ExplainArgs {
  lr: number;
  scale?: number | null;
  optimizer?: OptimizerKind | 'other' | null;
  eps?: number | null;
  source?: string;
  scaleSource?: string;
}

export function buildExplainData(args: ExplainArgs, targetRelativeStep: number): ExplainData {
  const scale = args.scale !== undefined && args.scale !== null && args.scale > 0 && Number.isFinite(args.scale) ? args.scale : null;
  const optimizer: OptimizerKind | null = args.optimizer === 'other' || args.optimizer === undefined ? null : args.optimizer;
  const family = args.optimizer === undefined || args.optimizer === null ? 'adam' : args.optimizer;
  const eps = args.eps ?? null;
  const numbers = explainNumbers(args.lr, scale, eps, optimizer ?? 'adam', targetRelativeStep);
  const text = explainLearningRate({
    lr: args.lr,
    scale,
    optimizer: family,
    target: targetRelativeStep,
    eps,
    scaleSource: args.scaleSource,
  });
  return {
    lr: args.lr,
    scale,
    optimizer: optimizer,
    eps,
    relativeStep: numbers.relativeStep,
    equivalentPairs: numbers.equivalentPairs,
    targetRelativeStep,
    lrForTarget: numbers.lrForTarget,
    markdown: text.markdown,
    source: args.source ?? 'input',
  };
}
