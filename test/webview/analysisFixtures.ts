// Analyses of the real fixture runs for the webview tests, made by the real engine (src/core/engine).

import { analyzePaths } from '../../src/core/pipeline';
import { DEFAULT_THRESHOLDS } from '../../src/core/rules/types';
import type { RunAnalysis } from '../../src/core/analysis';
import { MessageType, type DashboardSettings, type ShowAnalysisMessage } from '../../src/shared/protocol';
import { fixturePath } from '../support/fixtures';

export const SETTINGS: DashboardSettings = {
  thresholds: { ...DEFAULT_THRESHOLDS },
  targetRelativeStep: 1e-3,
  defaultEps: 1e-8,
};

const cache = new Map<string, Promise<RunAnalysis>>();

export function analyzeFixture(...parts: string[]): Promise<RunAnalysis> {
  const key = parts.join('/');
  if (!cache.has(key)) cache.set(key, analyzePaths([fixturePath(...parts)]));
  return cache.get(key)!;
}

export function showAnalysis(title: string, analysis: RunAnalysis, extra: Partial<ShowAnalysisMessage> = {}): ShowAnalysisMessage {
  return { type: MessageType.ShowAnalysis, title, analysis, settings: SETTINGS, ...extra };
}

/** expected.json field for each table column. */
export const EXPECTED_FIELD = {
  paramRms: 'param_rms',
  gradRms: 'grad_rms',
  adamUpdateRms: 'adam_u_rms',
  relStep: 'rel_step',
  relStepPredicted: 'pred_rel_step',
  epsDominatedFraction: 'eps_dominated_frac',
} as const;
