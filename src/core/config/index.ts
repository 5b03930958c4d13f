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
export { lintConfig, scaleFor, optimizerFamilyOf, toFloat16, FP16_MIN_SUBNORMAL, type ConfigLintOptions, type ScaleChoice } from './rules';
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
export { ANNOTATION_RE, LR_PEAK_KEYS, LR_FLOOR_KEYS, SCALE_KEYS } from './classify';
export { rescanAfterEdit, diffRegion } from './incremental';
export { EXPLAIN_COMMAND } from './hover';
