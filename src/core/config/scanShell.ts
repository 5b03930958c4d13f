// Shell launch scripts (Megatron-style `--lr 3.0e-4` flags): a shell word tokenizer with quotes,
// backslash escapes and backslash-newline continuations. Nothing is expanded or executed; a quoted
// variable assignment (GPT_ARGS="…") is split into words the way its unquoted use ($GPT_ARGS) would split it.
import type { LineIndex } from './positions';
import type { ConfigComment, RawEntry } from './types';

interface Word {
  /** The word after quote removal. */
  text: string;
  /** Source offset of each character of `text`. */
  at: number[];
  /** Source offsets of the word as written. */
  start: number;
  end: number;
  /** Per character: was it inside quotes (for splitting assignment values). */
  quoted: boolean[];
}

export function shellWords(text: string): { words: Word[][]; comments: { start: number; end: number }[] } {
  const commands: Word[][] = [[]];
  const comments: { start: number; end: number }[] = [];
  let i = 0;
  const n = text.length;
  const isBlank = (c: string) => c === ' ' || c === '\t';
  const isOp = (c: string) => c === ';' || c === '&' || c === '|' || c === '(' || c === ')' || c === '<' || c === '>';
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
    const w: Word = { text: '', at: [], start: i, end: i, quoted: [] };
    const push = (ch: string, at: number, quoted: boolean) => {
      w.text += ch;
      w.at.push(at);
      w.quoted.push(quoted);
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
    w.end = Math.min(i, n);
    commands[commands.length - 1].push(w);
  }
  return { words: commands.filter((c) => c.length), comments };
}

/** Split a word's characters at blanks/newlines (IFS), keeping source offsets. */
function splitFields(w: Word, from: number): Word[] {
  const out: Word[] = [];
  let cur: Word | null = null;
  for (let k = from; k < w.text.length; k++) {
    const ch = w.text[k];
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (cur) out.push(cur);
      cur = null;
      continue;
    }
    if (!cur) cur = { text: '', at: [], start: w.at[k], end: w.at[k] + 1, quoted: [] };
    cur.text += ch;
    cur.at.push(w.at[k]);
    cur.quoted.push(w.quoted[k]);
    cur.end = w.at[k] + 1;
  }
  if (cur) out.push(cur);
  return out;
}

export function scanShell(text: string, idx: LineIndex) {
  const entries: RawEntry[] = [];
  const comments: ConfigComment[] = [];
  const { words, comments: cs } = shellWords(text);
  for (const c of cs) comments.push({ text: text.slice(c.start, c.end), range: idx.range(c.start, c.end) });
  for (const cmd of words) {
    // Flatten: assignment values (NAME=…) split into fields; other words as they are.
    const flat: Word[] = [];
    for (const w of cmd) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*=/.exec(w.text);
      if (m && !w.quoted.slice(0, m[0].length).some(Boolean)) flat.push(...splitFields(w, m[0].length));
      else flat.push(w);
    }
    for (let k = 0; k < flat.length; k++) {
      const w = flat[k];
      if (!/^--[A-Za-z]/.test(w.text)) continue;
      const eq = w.text.indexOf('=');
      if (eq > 0) {
        const flag = w.text.slice(0, eq);
        const value = w.text.slice(eq + 1);
        if (!value) continue;
        const vs = w.at[eq + 1];
        const ve = w.at[w.text.length - 1] + 1;
        entries.push({
          path: [flag],
          value,
          raw: text.slice(vs, ve),
          valueRange: idx.range(vs, ve),
          keyRange: idx.range(w.at[0], w.at[eq - 1] + 1),
          context: 'flag',
        });
        continue;
      }
      const next = flat[k + 1];
      const keyRange = idx.range(w.at[0], w.at[w.text.length - 1] + 1);
      if (next && (!next.text.startsWith('-') || /^-[\d.]/.test(next.text))) {
        const vs = next.at[0];
        const ve = next.at[next.text.length - 1] + 1;
        entries.push({
          path: [w.text],
          value: next.text,
          raw: text.slice(vs, ve),
          valueRange: idx.range(vs, ve),
          keyRange,
          context: 'flag',
        });
        k++;
      } else {
        entries.push({ path: [w.text], value: true, raw: w.text, valueRange: keyRange, keyRange, context: 'flag' });
      }
    }
  }
  return { entries, comments };
}
