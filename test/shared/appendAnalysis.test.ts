// The fast refresh of a followed log (src/shared/appendAnalysis.ts): the analysis of the appended records
// alone, appended to the analysis of what came before, equals the whole-run analysis in every per-step part
// (steps, report step and table, series, globals, run summary) on the fixture logs, which real torch wrote.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePaths } from '../../src/core/pipeline';
import { appendAnalysis, extendsAnalysis } from '../../src/shared/appendAnalysis';
import { assertJoinedAsWhole, fixturePath } from '../support/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'ol-append-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the fixture log's records up to `split` and after it to two files. */
function splitLog(run: string, file: string, split: number): [string, string] {
  const lines = readFileSync(fixturePath(run, file), 'utf8').split('\n').filter(Boolean);
  const before = lines.filter((l) => (JSON.parse(l) as { step: number }).step <= split);
  const rest = lines.slice(before.length);
  const a = join(dir, `${run}-${file}-a.jsonl`);
  const b = join(dir, `${run}-${file}-b.jsonl`);
  writeFileSync(a, before.join('\n') + '\n');
  writeFileSync(b, rest.join('\n') + '\n');
  return [a, b];
}

describe('appending the analysis of new log records', () => {
  for (const [run, file, split] of [
    ['adam_base', 'stats.jsonl', 60],
    ['adamw_wd0.05', 'stats.jsonl', 17],
    ['sgd_momentum', 'stats.jsonl', 100],
  ] as const) {
    it(`${run}/${file} split after step ${split}: the same per-step analysis as the whole log`, async () => {
      const [a, b] = splitLog(run, file, split);
      const whole = await analyzePaths([fixturePath(run, file)]);
      const prev = await analyzePaths([a]);
      const fresh = await analyzePaths([b]);
      assert.ok(extendsAnalysis(prev, fresh));
      const joined = appendAnalysis(prev, fresh);
      assert.ok(whole.result.steps.length > prev.result.steps.length);
      assertJoinedAsWhole(joined, whole);
      assert.deepEqual({ ...joined.result.optimizer, source: null }, { ...whole.result.optimizer, source: null });
    });
  }

  it('does not extend when the new records repeat or precede a step already shown, or lack a layer of the table', async () => {
    const [a, b] = splitLog('adam_base', 'stats.jsonl', 60);
    const prev = await analyzePaths([a]);
    const fresh = await analyzePaths([b]);
    assert.equal(extendsAnalysis(fresh, prev), false, 'older steps');
    assert.equal(extendsAnalysis(prev, prev), false, 'the same steps again');
    const oneLayer = join(dir, 'one-layer.jsonl');
    writeFileSync(
      oneLayer,
      readFileSync(b, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"embed.weight"'))
        .join('\n') + '\n',
    );
    assert.equal(extendsAnalysis(prev, await analyzePaths([oneLayer])), false, 'a table layer missing');
    // a log of global scalars only has no per-layer steps to append (a whole pass over it is cheap)
    const [ga, gb] = splitLog('adam_base', 'train_log.jsonl', 90);
    assert.equal(extendsAnalysis(await analyzePaths([ga]), await analyzePaths([gb])), false, 'no per-layer steps');
  });
});
