// Public API of the training-config scanner.
export * from './types';
export {
  scanConfigText,
  scanConfigState,
  type ScanState,
  scanConfigFile,
  siblingScales,
  SIBLING_SCALE_FILE,
  MAX_CONFIG_BYTES,
  LOG_HISTORY_KEY,
} from './scan';
export { configLanguageOf, configLanguageOfId, notAConfigByName, TRAINING_LOG_NAMES } from './languages';
export {
  lintConfig,
  scaleFor,
  optimizerFamilyOf,
  toFloat16,
  FP16_MIN_SUBNORMAL,
  stepVerdicts,
  stepEstimates,
  type ConfigLintOptions,
  type ScaleChoice,
} from './rules';
export { readingFor, readingOf, type LrReading, type StepModel } from './reading';
export { CONFIG_BUDGETS } from './bounds';
export { lrKey, keyWords, NOT_LR_KEYS } from './lrKeys';
export {
  explainLearningRate,
  explainCommandArgs,
  LATE_UPDATE_RMS,
  DEFAULT_TARGET_RELATIVE_STEP,
  type ExplainInput,
  type Explanation,
  type EquivalentPair,
  type ExplainCommandArgs,
} from './explain';
export { quickFixesFor, applyEdits, numberLiteral, FP16_SAFE_EPS, PLACEHOLDER_SCALE, type FixContext } from './fixes';
export { configHover, findAt, type ConfigHover } from './hover';
export { LineIndex } from './positions';
export { ANNOTATION_RE, SCALE_KEYS } from './classify';
export { rescanAfterEdit, diffRegion } from './incremental';
export { EXPLAIN_COMMAND } from './hover';
