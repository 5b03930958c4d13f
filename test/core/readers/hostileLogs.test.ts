import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readTfeventsBytes } from '../../../src/core/readers/tfevents/reader';
import { readJsonl } from '../../../src/core/readers/jsonl';
import { readCsv, MAX_RECORD_FIELDS } from '../../../src/core/readers/csv';
import { MAX_ISSUES_PER_KIND } from '../../../src/core/run/issueLimit';
import { encodeFileVersionEvent, encodeScalarEvent, frameRecord } from '../../support/tfeventsWriter';
import { globalsOf } from '../../support/observations';
import { rng } from '../../support/fuzz';

// Hostile log inputs that used to cost memory per bad record (one issue object each, one non-finite
// observation each, one field per delimiter): the readers' budgets hold, the counts they report are
// exact, and every good record in between is still read.

const tmp = mkdtempSync(join(tmpdir(), 'ol-hostile-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('TFRecord: many small bad records', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 30,000 records, a seeded third of them bad: issues capped per kind with exact counts, good ones read`, async () => {
      const r = rng(seed);
      const parts: Uint8Array[] = [frameRecord(encodeFileVersionEvent())];
      let badCrc = 0;
      let malformed = 0;
      const good: number[] = [];
      for (let step = 1; step <= 30000; step++) {
        const x = r();
        if (x < 0.15) {
          // A data CRC that does not match: the record is skipped.
          const rec = frameRecord(encodeScalarEvent(step, 'train/loss', step));
          rec[rec.length - 1] ^= 0xff;
          parts.push(rec);
          badCrc++;
        } else if (x < 0.3) {
          // Framed correctly, but the payload is not an Event (a field with a length past its end).
          parts.push(frameRecord(Uint8Array.from([0x2a, 0x7f, 0x01, 0x02])));
          malformed++;
        } else {
          parts.push(frameRecord(encodeScalarEvent(step, 'train/loss', step)));
          good.push(step);
        }
      }
      const run = await readTfeventsBytes(concat(parts), 'bad.tfevents');
      assert.deepEqual(
        globalsOf(run).map((g) => g.step),
        good,
      );
      assert.ok(run.issues.length <= 2 * (MAX_ISSUES_PER_KIND + 1), `${run.issues.length} issues`);
      const more = run.issues.filter((i) => i.message.startsWith('… and '));
      assert.deepEqual(
        more.map((i) => i.message).sort(),
        [
          `… and ${badCrc - MAX_ISSUES_PER_KIND} more: data CRC mismatches (records skipped)`,
          `… and ${malformed - MAX_ISSUES_PER_KIND} more: malformed events (records skipped)`,
        ].sort(),
      );
      // The listed ones say where.
      for (const i of run.issues.filter((x) => !x.message.startsWith('… and '))) assert.equal(typeof i.offset, 'number');
    });
  }
});

describe('JSONL: bad lines and NaN values are counted, not kept one by one', () => {
  it('100,000 invalid lines among good ones: 20 listed with their line, one "… and N more"', async () => {
    const p = join(tmp, 'invalid.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= 100000; i++) lines.push(i % 10 === 0 ? `{"step": ${i}, "loss": 1.5}` : `{"step": ${i}, "loss": }`);
    writeFileSync(p, lines.join('\n') + '\n');
    const d = await readJsonl(p);
    assert.equal(globalsOf(d).length, 10000);
    assert.equal(d.issues.length, MAX_ISSUES_PER_KIND + 1);
    assert.deepEqual(
      d.issues.slice(0, 3).map((i) => i.line),
      [1, 2, 3],
    );
    assert.equal(d.issues[MAX_ISSUES_PER_KIND]!.message, `… and ${90000 - MAX_ISSUES_PER_KIND} more: invalid JSON lines`);
  });

  it('a log of only NaN / Infinity values is read (non-finite observations with counts), not refused', async () => {
    const p = join(tmp, 'nan.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= 50000; i++) lines.push(`{"step": ${i}, "loss": NaN, "grad_norm": Infinity}`);
    writeFileSync(p, lines.join('\n') + '\n');
    const d = await readJsonl(p);
    assert.deepEqual(
      d.nonFinite.map((n) => [n.what, n.count, n.step, n.line]),
      [
        ['loss', 50000, 1, 1],
        ['grad_norm', 50000, 1, 1],
      ],
    );
    assert.equal(globalsOf(d).length, 0);
  });

  it('deep nesting: a line of 1M "[" and an object nested 100,000 deep are one problem or nothing, the next line is read', async () => {
    const p = join(tmp, 'deep.jsonl');
    const deepObject = '{"step": 1, "a": '.repeat(100000) + '1' + '}'.repeat(100000);
    writeFileSync(p, '['.repeat(1_000_000) + '\n' + deepObject + '\n{"step": 2, "loss": 0.5}\n');
    const d = await readJsonl(p);
    assert.deepEqual(globalsOf(d), [{ step: 2, values: { loss: 0.5 } }]);
    assert.equal(d.issues.length, 1);
    assert.equal(d.issues[0]!.line, 1);
    assert.match(d.issues[0]!.message, /invalid JSON/);
  });
});

describe('CSV: delimiters count toward the record bounds', () => {
  it('a line of 4M commas is one dropped record (fields counted), the rows after it are read', async () => {
    const p = join(tmp, 'commas.csv');
    writeFileSync(p, 'step,loss\n' + ','.repeat(4 * 1024 * 1024) + '\n1,2.5\n2,2.25\n');
    const d = await readCsv(p);
    assert.deepEqual(globalsOf(d), [
      { step: 1, values: { loss: 2.5 } },
      { step: 2, values: { loss: 2.25 } },
    ]);
    assert.equal(d.issues.length, 1);
    assert.equal(d.issues[0]!.line, 2);
    assert.match(d.issues[0]!.message, new RegExp(`more than ${MAX_RECORD_FIELDS} fields; dropped`));
  });

  it('a delimiter-only file has no record to read: a clear error, not a hang', async () => {
    const p = join(tmp, 'only-commas.csv');
    writeFileSync(p, ','.repeat(2 * 1024 * 1024));
    await assert.rejects(
      readCsv(p),
      (e: Error) => /only-commas\.csv/.test(e.message) || /only-commas\.csv/.test(String((e as { path?: string }).path)),
    );
  });
});
