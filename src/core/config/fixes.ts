// Quick fixes as pure text edits (unit-testable without VS Code); the extension turns them into CodeActions.
import { basename, dirname, join } from 'node:path';
import { formatNumber } from '../../shared/format';
import { LineIndex } from './positions';
import { SIBLING_SCALE_FILE } from './scan';
import type { ConfigFinding, ConfigLanguage, ConfigScan, QuickFix, TextEdit } from './types';

/** eps written by the "raise eps for fp16" fix: the smallest round value float16 keeps (≈ 1.19e-7 in fp16). */
export const FP16_SAFE_EPS = 1e-7;
/** Placeholder scale for the annotation when no linked run gives one (GPT-2/BERT initializer_range). */
export const PLACEHOLDER_SCALE = 0.02;

/** A number literal valid in the language; YAML gets a dot and a signed exponent (a float under YAML 1.1 and 1.2). */
export function numberLiteral(x: number, language: ConfigLanguage): string {
  const s = formatNumber(x, 3);
  if (language !== 'yaml') return s;
  const m = /^(-?)(\d+)(\.\d+)?(?:e([-+]?)(\d+))?$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac, esign, exp] = m;
  if (exp === undefined) return frac ? s : `${sign}${int}.0`;
  return `${sign}${int}${frac ?? '.0'}e${esign || '+'}${exp}`;
}

function commentPrefix(language: ConfigLanguage): string {
  return language === 'json' || language === 'jsonc' ? '//' : '#';
}

/** Where the annotation goes: the line above the lr (same indentation); shell scripts: after the shebang. */
function annotationInsertPoint(text: string, language: ConfigLanguage, line: number): { offset: number; indent: string } {
  const idx = new LineIndex(text);
  if (language === 'shell') {
    const first = text.startsWith('#!') ? 2 : 1;
    return { offset: idx.lineStart(first), indent: '' };
  }
  const start = idx.lineStart(line);
  const indent = /^[ \t]*/.exec(text.slice(start, idx.lineEnd(line)))?.[0] ?? '';
  return { offset: start, indent };
}

export interface FixContext {
  /** A scale measured from a linked log or checkpoint (prefills the annotation). */
  linkedScale?: number | null;
  /** Target relative step (default 1e-3) for the "set lr" fix. */
  targetRelativeStep?: number;
  /** Line ending of the document. */
  eol?: string;
}

export function quickFixesFor(text: string, scan: ConfigScan, finding: ConfigFinding, ctx: FixContext = {}): QuickFix[] {
  const eol = ctx.eol ?? (text.includes('\r\n') ? '\r\n' : '\n');
  const fixes: QuickFix[] = [];
  switch (finding.rule) {
    case 'lr-without-scale': {
      const scale = ctx.linkedScale && ctx.linkedScale > 0 ? ctx.linkedScale : PLACEHOLDER_SCALE;
      const scaleText = formatNumber(scale, 3);
      if (scan.language === 'json') {
        // Strict JSON has no comments (json.load would fail): state the scale in a sibling file.
        const path = join(dirname(scan.path), SIBLING_SCALE_FILE);
        fixes.push({
          title: `Add parameter scale ${scaleText} in ${SIBLING_SCALE_FILE} next to ${basename(scan.path)}`,
          rule: finding.rule,
          edits: [],
          createFile: { path, content: `{ "paramScale": ${scaleText} }\n` },
          isPreferred: true,
        });
      } else {
        const { offset, indent } = annotationInsertPoint(text, scan.language, finding.range.line);
        const prefix = commentPrefix(scan.language);
        fixes.push({
          title: ctx.linkedScale
            ? `Add annotation: param-scale=${scaleText} (from the linked run)`
            : 'Add annotation: # optimizer-lens: param-scale=…',
          rule: finding.rule,
          edits: [{ start: offset, end: offset, newText: `${indent}${prefix} optimizer-lens: param-scale=${scaleText}${eol}` }],
          snippet: { offset, text: `${indent}${prefix} optimizer-lens: param-scale=\${1:${scaleText}}${eol}` },
          isPreferred: true,
        });
      }
      fixes.push({ title: 'Link a log or checkpoint for the parameter scale…', rule: finding.rule, edits: [], command: 'linkRun' });
      break;
    }
    case 'relative-step-high':
    case 'relative-step-low': {
      // The lr the rule computed under the lr's own optimizer for the default target 1e-3 (Adam family: later steps
      // at most the target); every reading is linear in the target, so another target scales it.
      const target = ctx.targetRelativeStep && ctx.targetRelativeStep > 0 ? ctx.targetRelativeStep : 1e-3;
      const lr = Number(finding.evidence.lrForTarget) * (target / 1e-3);
      const scale = finding.evidence.scale === null ? null : Number(finding.evidence.scale);
      // An info whose own later band is at or below the threshold (a published recipe's step-1 bound) says the run
      // is fine later: a fix cutting its lr would contradict it.
      const later = finding.evidence.relativeStepLater;
      const fineLater =
        finding.rule === 'relative-step-high' &&
        finding.severity === 'info' &&
        Array.isArray(later) &&
        Number(later[1]) <= Number(finding.evidence.threshold);
      if (lr > 0 && Number.isFinite(lr) && !fineLater) {
        const lit = numberLiteral(lr, scan.language);
        const key = typeof finding.evidence.key === 'string' ? finding.evidence.key : 'lr';
        fixes.push({
          title: `Set ${key} to ${lit} (relative step ≤ ${formatNumber(target)}${scale && scale > 0 ? ` at scale ${formatNumber(scale)}` : ''})`,
          rule: finding.rule,
          edits: [{ start: finding.range.start, end: finding.range.end, newText: lit }],
        });
      }
      break;
    }
    case 'yaml-float-string': {
      const replacement = String(finding.evidence.replacement ?? '');
      if (replacement) {
        fixes.push({
          title: `Write ${String(finding.evidence.raw)} as ${replacement}`,
          rule: finding.rule,
          edits: [{ start: finding.range.start, end: finding.range.end, newText: replacement }],
          isPreferred: true,
        });
      }
      break;
    }
    case 'eps-underflow-fp16': {
      const lit = numberLiteral(FP16_SAFE_EPS, scan.language);
      fixes.push({
        title: `Raise eps to ${lit} (float16 keeps it)`,
        rule: finding.rule,
        edits: [{ start: finding.range.start, end: finding.range.end, newText: lit }],
        isPreferred: true,
      });
      break;
    }
    case 'lr-ignored': {
      // Naming the optimizer makes Ultralytics use lr0: the two it picks itself under `auto`, as written (quotes kept).
      const auto = scan.autoOptimizer;
      if (!auto) break;
      const written = text.slice(auto.range.start, auto.range.end);
      if (!/auto/i.test(written)) break;
      for (const name of ['SGD', 'AdamW'])
        fixes.push({
          title: `Set ${auto.key}: ${name} (lr0 = ${String(finding.evidence.lr)} then applies)`,
          rule: finding.rule,
          edits: [{ start: auto.range.start, end: auto.range.end, newText: written.replace(/auto/i, name) }],
        });
      break;
    }
    default:
      break;
  }
  return fixes;
}

/** Apply non-overlapping edits to a text (used by tests and the CLI). */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}
