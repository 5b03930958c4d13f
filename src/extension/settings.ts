// The extension's settings (package.json contributes.configuration, title "Optimizer Lens").

import * as vscode from 'vscode';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../core/rules/types';
import type { DashboardSettings } from '../shared/protocol';
import type { ProcessAnalyzeOptions } from './analysis/protocol';
import { DEFAULT_LIMITS, MIN_MEMORY_LIMIT_MB, MIN_TIMEOUT_SECONDS, type AnalysisLimits } from './analysis/limits';
import { isMuonScaling } from '../shared/optimizers';

export const SECTION = 'optimizerLens';

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export function readThresholds(config = vscode.workspace.getConfiguration(SECTION)): Thresholds {
  return {
    relativeStepHigh: positive(config.get('thresholds.relativeStepHigh'), DEFAULT_THRESHOLDS.relativeStepHigh),
    relativeStepLow: positive(config.get('thresholds.relativeStepLow'), DEFAULT_THRESHOLDS.relativeStepLow),
    epsDominatedFraction: positive(config.get('thresholds.epsDominatedFraction'), DEFAULT_THRESHOLDS.epsDominatedFraction),
    scaleSpread: positive(config.get('thresholds.scaleSpread'), DEFAULT_THRESHOLDS.scaleSpread),
  };
}

export function readDashboardSettings(): DashboardSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return {
    thresholds: readThresholds(config),
    targetRelativeStep: positive(config.get('targetRelativeStep'), 1e-3),
    defaultEps: positive(config.get('defaults.eps'), 1e-8),
  };
}

export function readAnalyzeOptions(): ProcessAnalyzeOptions {
  const config = vscode.workspace.getConfiguration(SECTION);
  const betas = config.get<unknown>('defaults.betas');
  const validBetas =
    Array.isArray(betas) && betas.length === 2 && betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)
      ? (betas as [number, number])
      : ([0.9, 0.999] as [number, number]);
  // `auto` (or anything else): as the checkpoint states it, else assumed with an issue saying so (the engine's rule).
  const muonScaling = config.get<unknown>('muonScaling');
  return {
    thresholds: readThresholds(config),
    defaults: { betas: validBetas, eps: positive(config.get('defaults.eps'), 1e-8) },
    ...(isMuonScaling(muonScaling) ? { muonScaling } : {}),
  };
}

/** optimizerLens.analysis.*: the analysis process's heap ceiling and time limit. */
export function readAnalysisLimits(config = vscode.workspace.getConfiguration(SECTION)): AnalysisLimits {
  const at = (value: unknown, min: number, fallback: number) =>
    typeof value === 'number' && Number.isFinite(value) ? Math.max(min, value) : fallback;
  return {
    memoryLimitMb: at(config.get('analysis.memoryLimitMb'), MIN_MEMORY_LIMIT_MB, DEFAULT_LIMITS.memoryLimitMb),
    timeoutSeconds: at(config.get('analysis.timeoutSeconds'), MIN_TIMEOUT_SECONDS, DEFAULT_LIMITS.timeoutSeconds),
  };
}
