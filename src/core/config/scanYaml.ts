// YAML front end: the `yaml` package's document AST (node ranges) and its lexer (comment positions).
import { Lexer, isMap, isScalar, isSeq, parseAllDocuments, isPair, type Node as YamlNode } from 'yaml';
import { isScalar as isScalarNode, parseDocument } from 'yaml';

/** The parts of the yaml package the edit path (incremental.ts) uses, loaded with this module. */
export const yaml = { isScalar: isScalarNode, parseDocument };
import { boundYamlNesting, capIssues, CONFIG_BUDGETS } from './bounds';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry, ScanIssue, YamlFloatString, YamlLoaderHint } from './types';

export interface YamlFrontEnd {
  entries: RawEntry[];
  comments: ConfigComment[];
  floatStrings: YamlFloatString[];
  loader: { hint: YamlLoaderHint; evidence: string } | null;
  issues: ScanIssue[];
}

// yacs / detectron2 YAML: upper-case sections merged into a CfgNode (merge_from_file literal_evals each string).
const YACS_SECTIONS = new Set(['MODEL', 'TRAIN', 'SOLVER', 'DATA', 'DATASETS', 'INPUT', 'TEST', 'AUG', 'DATALOADER', 'OUTPUT_DIR']);
// axolotl: its config schema's characteristic top-level keys (pydantic converts '2e-5' to a float).
const AXOLOTL_KEYS = ['micro_batch_size', 'sequence_len', 'adapter', 'lora_r', 'datasets', 'gradient_accumulation_steps'];

// PyYAML's implicit resolvers (YAML 1.1): what yaml.safe_load turns into a float or an int.
const PYYAML_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const PYYAML_INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;

/** True when YAML 1.1 (PyYAML safe_load) reads this plain scalar as a string although YAML 1.2 reads a number. */
export function isYaml11String(source: string): boolean {
  return !PYYAML_FLOAT.test(source) && !PYYAML_INT.test(source);
}

/** A plain scalar YAML 1.2 reads as a float but PyYAML's safe_load as a string ('1e-4'). */
export function isYamlFloatString(value: unknown, type: string | undefined, raw: string): value is number {
  return typeof value === 'number' && type === 'PLAIN' && (!Number.isInteger(value) || /[eE.]/.test(raw)) && isYaml11String(raw.trim());
}

/** Keys and values that are loader evidence (Hydra, Lightning CLI): an edit to them needs a full scan. */
export const YAML_LOADER_KEYS = new Set(['_target_', 'class_path', 'init_args', 'defaults']);

export function scanYaml(original: string, idx: LineIndex): YamlFrontEnd {
  const bounded = boundYamlNesting(original, idx);
  const text = bounded.text;
  const out: YamlFrontEnd = { entries: [], comments: [], floatStrings: [], loader: null, issues: [...bounded.issues] };
  let full = false;
  const push = (e: RawEntry) => {
    if (out.entries.length < CONFIG_BUDGETS.maxEntries) out.entries.push(e);
    else if (!full) {
      full = true;
      out.issues.push({
        severity: 'warning',
        line: e.valueRange.line,
        column: e.valueRange.column,
        message: `more than ${CONFIG_BUDGETS.maxEntries} values: the rest of the file is not read`,
      });
    }
  };
  // Comments: lexer tokens concatenate to the source, except one-character control tokens (doc/scalar markers).
  let off = 0;
  for (const tok of new Lexer().lex(text)) {
    const c = tok.charCodeAt(0);
    if (tok.length === 1 && c < 0x20 && c !== 10 && c !== 9 && c !== 13) continue;
    if (tok.startsWith('#')) out.comments.push({ text: tok, range: idx.range(off, off + tok.length) });
    off += tok.length;
  }
  const parsed = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: false, strict: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  for (const doc of docs) {
    for (const e of doc.errors.slice(0, CONFIG_BUDGETS.maxIssues + 1)) {
      const p = idx.position(e.pos[0]);
      out.issues.push({ severity: 'error', line: p.line, column: p.column, message: `YAML: ${e.message.split('\n')[0]}` });
    }
  }
  let loader: YamlFrontEnd['loader'] = null;
  const setLoader = (hint: YamlLoaderHint, evidence: string) => {
    if (!loader) loader = { hint, evidence };
  };
  for (const c of out.comments) if (/^#\s*@package\b/.test(c.text)) setLoader('hydra', `'${c.text.trim()}' (line ${c.range.line})`);

  const range = (n: YamlNode) => {
    const r = n.range ?? [0, 0, 0];
    return idx.range(r[0], r[1]);
  };
  const rawOf = (n: YamlNode) => {
    const r = n.range ?? [0, 0, 0];
    return text.slice(r[0], r[1]);
  };

  // Nesting is bounded above; the depth guard is a second line of defence.
  const visitValue = (node: unknown, path: string[], keyRange: RawEntry['keyRange'], depth: number): void => {
    if (depth > CONFIG_BUDGETS.maxNesting + 2 || full || node === null || node === undefined) return;
    if (isScalar(node) && node.range && bounded.cutAt.has(node.range[0])) return;
    if (isScalar(node)) {
      const v = node.value;
      const raw = rawOf(node);
      if (typeof v === 'string' && v.includes('${')) setLoader('hydra', `interpolation '${v.slice(0, 40)}' (line ${range(node).line})`);
      let value: RawEntry['value'];
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) value = v;
      else if (typeof v === 'bigint') value = Number(v);
      else return;
      if (isYamlFloatString(value, node.type, raw))
        out.floatStrings.push({ key: path.join('.'), raw: raw.trim(), value, range: range(node) });
      push({ path, value, raw, valueRange: range(node), keyRange, context: 'mapping' });
      return;
    }
    if (isSeq(node)) {
      const items = node.items;
      if (items.length > 0 && items.every((i) => isScalar(i) && typeof i.value === 'number')) {
        for (const i of items) visitValue(i, [...path, '[]'], undefined, depth + 1); // float-string check per item
        push({
          path,
          value: items.map((i) => (isScalar(i) ? Number(i.value) : NaN)),
          raw: rawOf(node),
          valueRange: range(node),
          keyRange,
          context: 'mapping',
          itemRanges: items.length <= CONFIG_BUDGETS.maxListItems ? items.map((i) => range(i as YamlNode)) : undefined,
        });
        return;
      }
      items.forEach((i, k) => visitValue(i, [...path, String(k)], undefined, depth + 1));
      return;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const keyText = isScalar(k) ? String(k.value) : k === null || k === undefined ? '' : String(k);
        if (keyText === '_target_') setLoader('hydra', `'_target_' key (line ${isScalar(k) ? range(k).line : '?'})`);
        if (depth === 0 && keyText === 'defaults' && isSeq(pair.value))
          setLoader('hydra', `top-level 'defaults' list (line ${isScalar(k) ? range(k).line : '?'})`);
        if (keyText === 'class_path' || keyText === 'init_args')
          setLoader('lightning-cli', `'${keyText}' key (line ${isScalar(k) ? range(k).line : '?'})`);
        visitValue(pair.value, [...path, keyText], isScalar(k) ? range(k) : undefined, depth + 1);
      }
    }
  };
  for (const doc of docs) visitValue(doc.contents, [], undefined, 0);
  // Layouts of loaders that convert numeric strings: LightningCLI (top-level trainer: and model:), yacs (upper-case
  // sections), axolotl (base_model with its training keys).
  for (const doc of docs) {
    if (loader || !isMap(doc.contents)) continue;
    const keys = new Set(doc.contents.items.map((p) => (isPair(p) && isScalar(p.key) ? String(p.key.value) : '')));
    if (keys.has('trainer') && keys.has('model'))
      setLoader('lightning-cli', "top-level 'trainer:' and 'model:' sections (LightningCLI layout)");
    const upper = [...keys].filter((k) => k !== '' && k === k.toUpperCase() && /[A-Z]/.test(k));
    const sections = upper.filter((k) => YACS_SECTIONS.has(k));
    if (keys.has('_BASE_') || (sections.length >= 1 && upper.length === keys.size))
      setLoader(
        'yacs',
        `upper-case sections ${(keys.has('_BASE_') ? ['_BASE_', ...sections] : sections).slice(0, 3).join(', ')} (a yacs CfgNode config)`,
      );
    const ax = AXOLOTL_KEYS.filter((k) => keys.has(k));
    if (keys.has('base_model') && ax.length >= 2) setLoader('axolotl', `'base_model' with '${ax[0]}' and '${ax[1]}' (an axolotl config)`);
  }
  out.loader = loader;
  out.issues = capIssues(out.issues);
  // Array items were visited with a '[]' path for the float-string check only: drop those entries.
  out.entries = out.entries.filter((e) => e.path[e.path.length - 1] !== '[]');
  for (const f of out.floatStrings) if (f.key.endsWith('.[]')) f.key = f.key.slice(0, -3);
  return out;
}
