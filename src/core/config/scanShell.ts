// Shell launch scripts (Megatron-style `--lr 3.0e-4` flags): a shell word tokenizer with quotes, backslash
// escapes, backslash-newline continuations and array assignments `ARGS=( … )`. Nothing is expanded or executed.
// A quoted variable assignment (GPT_ARGS="…") or an array is split into words the way its unquoted use
// ($GPT_ARGS, ${ARGS[@]}) would split it. Variables are followed, not expanded: `--lr $LR`, `${LR}`,
// `"${LR:-3e-4}"` take their value from the last `LR=…` / `export LR=…` before the use (or the default), and
// the value's position is the assignment's; the flag keeps the use as a second place to hover.
import { CONFIG_BUDGETS, entrySink } from './bounds';
import { lrKey } from './lrKeys';
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry, ScanIssue, SourceRange, UnresolvedEntry } from './types';

interface Word {
  /** The word after quote removal. */
  text: string;
  /**
   * Source offset of each character of `text`; absent for a plain word (no quotes, no escapes), whose characters
   * are the source's from `start` on (most words are: no per-character arrays to allocate).
   */
  at?: number[];
  /** Source offsets of the word as written. */
  start: number;
  end: number;
  /** Per character: was it inside quotes (for splitting assignment values); absent: none was. */
  quoted?: boolean[];
}

const posAt = (w: Word, k: number) => (w.at ? w.at[k] : w.start + k);
const quotedIn = (w: Word, from = 0, to = w.text.length) => !!w.quoted && w.quoted.slice(from, to).some(Boolean);

export function shellWords(
  text: string,
  maxWords: number = CONFIG_BUDGETS.maxShellWords,
): { words: Word[][]; comments: { start: number; end: number }[]; truncatedAt: number | null } {
  const commands: Word[][] = [[]];
  const comments: { start: number; end: number }[] = [];
  let count = 0;
  let truncatedAt: number | null = null;
  let i = 0;
  const n = text.length;
  const isBlank = (c: string) => c === ' ' || c === '\t';
  const isOp = (c: string) => c === ';' || c === '&' || c === '|' || c === '(' || c === ')' || c === '<' || c === '>';
  let inArray = false; // inside NAME=( … ): newlines do not end the command
  while (i < n) {
    const c = text[i];
    if (isBlank(c) || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      continue;
    }
    if (inArray && (c === '\n' || c === ')')) {
      if (c === ')') {
        inArray = false;
        commands.push([]);
      }
      i++;
      continue;
    }
    if (c === '\n' || isOp(c)) {
      if (commands[commands.length - 1].length) commands.push([]);
      i++;
      continue;
    }
    if (c === '#') {
      const e = text.indexOf('\n', i);
      const end = e < 0 ? n : e;
      comments.push({ start: i, end });
      i = end;
      continue;
    }
    if (++count > maxWords) {
      truncatedAt = i;
      break;
    }
    // Plain words (no quote, no backslash) are a slice of the source.
    let plainEnd = i;
    while (plainEnd < n) {
      const d = text[plainEnd];
      if (isBlank(d) || d === '\n' || d === '\r' || isOp(d) || d === '\\' || d === "'" || d === '"') break;
      plainEnd++;
    }
    const w: Word = { text: text.slice(i, plainEnd), start: i, end: plainEnd };
    i = plainEnd;
    const pd = text[i];
    if (i < n && (pd === '\\' || pd === "'" || pd === '"')) {
      // Quotes or escapes: per-character offsets from here on.
      w.at = Array.from({ length: w.text.length }, (_, k) => w.start + k);
      w.quoted = Array.from({ length: w.text.length }, () => false);
      const at = w.at;
      const quoted = w.quoted;
      const chars: string[] = [w.text];
      const push = (ch: string, pos: number, q: boolean) => {
        chars.push(ch);
        at.push(pos);
        quoted.push(q);
      };
      while (i < n) {
        const d = text[i];
        if (isBlank(d) || d === '\n' || d === '\r' || isOp(d)) break;
        if (d === '\\') {
          if (text[i + 1] === '\n') {
            i += 2;
            continue;
          }
          if (i + 1 < n) push(text[i + 1], i + 1, true);
          i += 2;
          continue;
        }
        if (d === "'") {
          const e = text.indexOf("'", i + 1);
          const end = e < 0 ? n : e;
          for (let k = i + 1; k < end; k++) push(text[k], k, true);
          i = end + 1;
          continue;
        }
        if (d === '"') {
          let k = i + 1;
          while (k < n && text[k] !== '"') {
            if (text[k] === '\\' && k + 1 < n && '"\\$`\n'.includes(text[k + 1])) {
              if (text[k + 1] !== '\n') push(text[k + 1], k + 1, true);
              k += 2;
              continue;
            }
            push(text[k], k, true);
            k++;
          }
          i = k + 1;
          continue;
        }
        push(d, i, false);
        i++;
      }
      w.text = chars.join('');
    }
    w.end = Math.min(i, n);
    commands[commands.length - 1].push(w);
    // NAME=( starts an array assignment: its elements are words of this command until ')'.
    if (!inArray && text[i] === '(' && /^[A-Za-z_][A-Za-z0-9_]*\+?=$/.test(w.text) && !quotedIn(w)) {
      inArray = true;
      i++;
    }
  }
  return { words: commands.filter((c) => c.length), comments, truncatedAt };
}

function slice(w: Word, from: number, to = w.text.length): Word {
  if (!w.at) return { text: w.text.slice(from, to), start: w.start + from, end: w.start + Math.max(from, to) };
  const at = w.at.slice(from, to);
  return {
    text: w.text.slice(from, to),
    at,
    quoted: w.quoted!.slice(from, to),
    start: at[0] ?? w.end,
    end: at.length ? at[at.length - 1] + 1 : w.end,
  };
}

/** Split a word's characters at blanks/newlines (IFS), keeping source offsets. */
function splitFields(w: Word, from: number): Word[] {
  const out: Word[] = [];
  let a = -1;
  for (let k = from; k <= w.text.length; k++) {
    const ch = w.text[k];
    const blank = k === w.text.length || ch === ' ' || ch === '\t' || ch === '\n';
    if (!blank && a < 0) a = k;
    else if (blank && a >= 0) {
      out.push(slice(w, a, k));
      a = -1;
    }
  }
  return out;
}

const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/;
/** An override argument `key.path=value` (Hydra's `+` / `++` / `~` prefixes allowed): group 1 is the key path. */
const OVERRIDE = /^(?:\+\+|\+|~)?([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)=/;
/** A yacs option path given as a space-separated pair (detectron2, maskrcnn-benchmark): `SOLVER.BASE_LR 0.0025`. */
const YACS_KEY = /^[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)+$/;
const DECLARE = new Set(['export', 'local', 'declare', 'readonly', 'typeset']);
/** `$LR`, `${LR}`, `${LR:-3e-4}`, `${1:-2e-5}`, `${LR-3e-4}`, `${LR:=3e-4}`. */
const VAR_REF = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*|\d+)(?:(:?[-=])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*|\d))$/;

interface Assignment {
  name: string;
  at: number;
  value: Word;
}

type Resolved = { word: Word; via: string } | { deps: string[] };

export function scanShell(text: string, idx: LineIndex) {
  const entries: RawEntry[] = [];
  const unresolved: UnresolvedEntry[] = [];
  const comments: ConfigComment[] = [];
  const issues: ScanIssue[] = [];
  const { words, comments: cs, truncatedAt } = shellWords(text);
  for (const c of cs) comments.push({ text: text.slice(c.start, c.end), range: idx.range(c.start, c.end) });
  if (truncatedAt !== null) {
    const p = idx.position(truncatedAt);
    issues.push({
      severity: 'warning',
      line: p.line,
      column: p.column,
      message: `more than ${CONFIG_BUDGETS.maxShellWords} words: the rest of the script is not read`,
    });
  }
  const wordRange = (w: Word): SourceRange =>
    w.text.length ? idx.range(posAt(w, 0), posAt(w, w.text.length - 1) + 1) : idx.range(w.start, w.end);
  const { push, full } = entrySink(entries, issues);

  // Variables: every NAME=value at the start of a command (after export/local/declare), in source order.
  // Where each command's name is (after its assignments; the length when it has none: `export LR=…`).
  const assignments = new Map<string, Assignment[]>();
  const commandAt = new Map<Word[], number>();
  for (const cmd of words) {
    let k = 0;
    for (; k < cmd.length; k++) {
      const w = cmd[k];
      if (k === 0 || DECLARE.has(cmd[k - 1].text) || ASSIGN.test(cmd[k - 1].text) || /^-[a-zA-Z]+$/.test(cmd[k - 1].text)) {
        if (DECLARE.has(w.text) || /^-[a-zA-Z]+$/.test(w.text)) continue;
        const m = ASSIGN.exec(w.text);
        if (!m || quotedIn(w, 0, m[0].length)) break;
        const list = assignments.get(m[1]) ?? [];
        list.push({ name: m[1], at: w.start, value: slice(w, m[0].length) });
        assignments.set(m[1], list);
        continue;
      }
      break;
    }
    commandAt.set(cmd, DECLARE.has(cmd[0]?.text ?? '') ? cmd.length : k);
  }
  const lastBefore = (name: string, at: number): Assignment | null => {
    const list = assignments.get(name);
    if (!list) return null;
    let lo = 0;
    let hi = list.length - 1;
    let best: Assignment | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].at < at) {
        best = list[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  };
  const line = (at: number) => idx.position(at).line;
  /** Follow `$X` / `${X:-d}` to a literal word (bounded chain). */
  const resolve = (w: Word, useAt: number, depth: number): Resolved => {
    const m = VAR_REF.exec(w.text);
    if (!m) return { word: w, via: '' };
    if (depth >= CONFIG_BUDGETS.maxVariableDepth) return { deps: [m[1] ?? m[4]] };
    const name = m[1] ?? m[4];
    const op = m[2];
    const def = m[3];
    const a = /^\d+$/.test(name) ? null : lastBefore(name, useAt);
    const useDefault = def !== undefined && (!a || (op?.startsWith(':') && a.value.text === ''));
    if (a && !useDefault) {
      const r = resolve(a.value, a.at, depth + 1);
      if ('deps' in r) return r;
      return { word: r.word, via: `${w.text}: ${name}=${a.value.text} (line ${line(a.at)})${r.via ? `; ${r.via}` : ''}` };
    }
    if (def !== undefined) {
      const from = w.text.indexOf(def, w.text.indexOf(name) + name.length);
      const dw = slice(w, from, from + def.length);
      const r = resolve(dw, useAt, depth + 1);
      if ('deps' in r) return r;
      const why = /^\d+$/.test(name) ? `the script's argument $${name} may override it` : `unless ${name} is set in the environment`;
      return { word: r.word, via: `${w.text}: the default ${def} (${why})` };
    }
    return { deps: [name] };
  };

  // Each assignment is a setting too (INIT_STD=0.02, Actor_Lr=9.65e-6); `LR=${LR:-3e-4}` reads its default.
  for (const a of [...assignments.values()].flat().sort((x, y) => x.at - y.at)) {
    if (!a.value.text || /\s/.test(a.value.text)) continue;
    const r = resolve(a.value, a.at, 0);
    if ('deps' in r) continue;
    const range = wordRange(r.word);
    const e: RawEntry = {
      path: [a.name],
      value: r.word.text,
      raw: text.slice(range.start, range.end),
      valueRange: range,
      keyRange: idx.range(a.at, a.at + a.name.length),
      context: 'assign',
    };
    if (r.word !== a.value) e.via = r.via;
    push(e);
  }

  /**
   * Config overrides given as arguments: Hydra/OmegaConf and the LazyConfig/mmcv `--cfg-options` form
   * `model.optim.lr=1e-4` (`+key=`, `++key=` too), Ultralytics' `yolo train lr0=0.01 optimizer=auto`, and yacs'
   * space-separated pairs (detectron2 `SOLVER.BASE_LR 0.0025`, upper-case dotted keys). The key path is split
   * at dots, as the config file would nest it. Words before the command (`CUDA_VISIBLE_DEVICES=0 python …`)
   * are variables, read above.
   */
  const overrideArguments = (cmd: Word[]) => {
    for (let k = (commandAt.get(cmd) ?? cmd.length) + 1; k < cmd.length && !full(); k++) {
      const w = cmd[k];
      const m = OVERRIDE.exec(w.text);
      if (m) {
        const eq = m[0].length - 1;
        if (eq + 1 < w.text.length && !/\s/.test(w.text.slice(eq + 1)))
          flagEntry(m[1], idx.range(posAt(w, m[0].length - 1 - m[1].length), posAt(w, eq - 1) + 1), slice(w, eq + 1), m[1].split('.'));
        continue;
      }
      const next = cmd[k + 1];
      if (YACS_KEY.test(w.text) && next && !next.text.startsWith('-') && !/\s/.test(next.text)) {
        flagEntry(w.text, wordRange(w), next, w.text.split('.'));
        k++;
      }
    }
  };

  const flagEntry = (flag: string, keyRange: SourceRange, v: Word, path: string[] = [flag]) => {
    const r = resolve(v, v.start, 0);
    if ('deps' in r) {
      if (lrKey(path[path.length - 1]) && unresolved.length < CONFIG_BUDGETS.maxPerKind)
        unresolved.push({ path, raw: v.text, dependsOn: r.deps, valueRange: wordRange(v), keyRange });
      return;
    }
    const vr = wordRange(r.word);
    const e: RawEntry = { path, value: r.word.text, raw: text.slice(vr.start, vr.end), valueRange: vr, keyRange, context: 'flag' };
    if (r.word !== v) {
      e.useRange = wordRange(v);
      e.via = r.via;
    }
    push(e);
  };

  for (const cmd of words) {
    if (full()) break;
    overrideArguments(cmd);
    // Flatten: assignment values (NAME=…) split into fields; other words as they are.
    const flat: Word[] = [];
    for (const w of cmd) {
      const m = ASSIGN.exec(w.text);
      if (m && !quotedIn(w, 0, m[0].length)) for (const x of splitFields(w, m[0].length)) flat.push(x);
      else if (quotedIn(w) && /\s/.test(w.text) && /^--[A-Za-z]/.test(w.text))
        for (const x of splitFields(w, 0)) flat.push(x); // "--fp8-format hybrid" in an array
      else flat.push(w);
    }
    for (let k = 0; k < flat.length && !full(); k++) {
      const w = flat[k];
      if (!/^--[A-Za-z]/.test(w.text)) continue;
      const eq = w.text.indexOf('=');
      if (eq > 0) {
        const flag = w.text.slice(0, eq);
        if (eq + 1 >= w.text.length) continue;
        flagEntry(flag, idx.range(posAt(w, 0), posAt(w, eq - 1) + 1), slice(w, eq + 1));
        continue;
      }
      const next = flat[k + 1];
      const keyRange = idx.range(posAt(w, 0), posAt(w, w.text.length - 1) + 1);
      if (next && (!next.text.startsWith('-') || /^-[\d.]/.test(next.text))) {
        flagEntry(w.text, keyRange, next);
        k++;
      } else {
        push({ path: [w.text], value: true, raw: w.text, valueRange: keyRange, keyRange, context: 'flag' });
      }
    }
  }
  return { entries, unresolved, comments, issues };
}
