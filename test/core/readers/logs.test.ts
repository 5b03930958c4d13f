import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, after } from 'node:test';
import type { RunData } from '../../../src/core/run/types';
import { ReaderError } from '../../../src/core/errors';
import { readJsonl, jsonlReader, JsonlTail } from '../../../src/core/readers/jsonl';
import { readCsv, csvReader, CsvParser, csvLinesInOnePass, type CsvRecord } from '../../../src/core/readers/csv';
import { readTrainerState, hfTrainerStateReader } from '../../../src/core/readers/hfTrainerState';
import { scanLines, type TextLine } from '../../../src/core/readers/scalarRecords';
import { assertClose, fixturePath, loadExpected, RUNS, type Expected } from '../../support/fixtures';
import { globalsOf, observationsOf, type ObservationRow } from '../../support/observations';

const tmp = mkdtempSync(join(tmpdir(), 'ol-readers-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function stepsOf(e: Expected): number[] {
  return Object.keys(e.steps).map(Number);
}

function observationIndex(data: RunData): Map<string, ObservationRow> {
  const m = new Map<string, ObservationRow>();
  for (const o of observationsOf(data)) {
    assert.ok(!m.has(`${o.step}|${o.layer}`), `one observation per (step, layer): ${o.step} ${o.layer}`);
    m.set(`${o.step}|${o.layer}`, o);
  }
  return m;
}

/** The five figures of the brief, plus norms where the file has them, against expected.json. */
function checkLayers(data: RunData, run: string, rel: number, source: 'jsonl' | 'csv'): number {
  const e = loadExpected(run);
  const idx = observationIndex(data);
  const sgd = e.optimizer.toLowerCase().startsWith('sgd');
  let checked = 0;
  for (const step of stepsOf(e)) {
    for (const [layer, x] of Object.entries(e.steps[String(step)])) {
      if (layer === 'global') continue;
      const o = idx.get(`${step}|${layer}`);
      assert.ok(o, `${run} ${source}: observation for step ${step} layer ${layer}`);
      const f = o.figures;
      const what = `${run} ${source} step ${step} ${layer}`;
      assertClose(f.paramRms, x.param_rms, rel, `${what} paramRms`);
      assertClose(f.gradRms, x.grad_rms, rel, `${what} gradRms`);
      assertClose(f.updateRms, x.update_rms, rel, `${what} updateRms`);
      // rel_step: null in JSONL and inf in CSV for zero-initialised parameters at t=1 → absent either way.
      assertClose(f.relStep, x.rel_step, rel, `${what} relStep`);
      if (x.rel_step === null) assert.equal(f.relStep, undefined, `${what}: no relStep invented`);
      if (sgd) {
        assert.equal(f.adamUpdateRms, undefined, `${what}: SGD has no adam_u`);
        assertClose(f.momentumBufferRms, x.momentum_buffer_rms, rel, `${what} momentumBufferRms`);
      } else {
        assertClose(f.adamUpdateRms, x.adam_u_rms, rel, `${what} adamUpdateRms`);
      }
      if (source === 'jsonl') {
        assertClose(f.paramNorm, x.param_norm, rel, `${what} paramNorm`);
        assertClose(f.gradNorm, x.grad_norm, rel, `${what} gradNorm`);
        assertClose(f.updateNorm, x.update_norm, rel, `${what} updateNorm`);
        assertClose(f.epsDominatedFraction, x.eps_dominated_frac ?? null, rel, `${what} epsDominatedFraction`);
        assertClose(f.relStepPredicted, x.pred_rel_step ?? null, rel, `${what} relStepPredicted`);
        assertClose(f.sqrtVHatRms, x.sqrt_v_hat_rms ?? null, rel, `${what} sqrtVHatRms`);
        assert.equal(o.numel, x.numel, `${what} numel`);
        assert.equal(
          data.layerShapes[o.layer]!.reduce((a, b) => a * b, 1),
          x.numel,
          `${what} shape`,
        );
      } else {
        // The wide CSV has no norms: nothing is invented.
        assert.equal(f.paramNorm, undefined);
        assert.equal(o.numel, undefined);
      }
      checked++;
    }
  }
  return checked;
}

describe('JSONL stats.jsonl (long form) against expected.json', () => {
  for (const run of RUNS) {
    const path = fixturePath(run, 'stats.jsonl');
    if (!existsSync(path)) continue; // the light run has none
    it(run, async () => {
      const data = await readJsonl(path);
      assert.deepEqual(data.inputs, [{ path, format: 'jsonl' }]);
      assert.equal(data.issues.length, 0, JSON.stringify(data.issues));
      assert.equal(data.nonFinite.length, 0);
      assert.equal(observationsOf(data).length, 120 * 14);
      const checked = checkLayers(data, run, 1e-12, 'jsonl');
      assert.equal(checked, 4 * 14);
      // named_parameters() order and shapes from config.json
      const config = JSON.parse(readFileSync(fixturePath(run, 'config.json'), 'utf8'));
      const order: string[] = config.param_order ?? config.parameter_order ?? Object.keys(config.param_shapes ?? {});
      if (order.length) assert.deepEqual(data.layerOrder, order);
      assert.equal(data.layerOrder[0], 'pos_embed');
      assert.deepEqual(data.layerShapes['pos_embed'], [16, 32]);
      assert.deepEqual(data.layerShapes['blocks.0.attn.qkv.weight'], [96, 32]);
      // lr is per record in the long form: a layer figure there
      const o = observationsOf(data).find((x) => x.step === 60 && x.layer === 'head.weight')!;
      assert.equal(o.figures.lr, loadExpected(run).hyper.lr);
    });
  }
});

describe('CSV history_wide.csv (W&B wide export) against expected.json', () => {
  for (const run of RUNS) {
    it(run, async () => {
      const path = fixturePath(run, 'history_wide.csv');
      const data = await readCsv(path);
      assert.deepEqual(data.inputs, [{ path, format: 'csv' }]);
      assert.equal(data.nonFinite.length, 0, 'inf in rel_step columns is a division by zero, not a non-finite value');
      // the only issue: the documented inf ratios of the five zero-initialised parameters at t=1
      assert.equal(data.issues.length, 1, JSON.stringify(data.issues));
      assert.match(data.issues[0].message, /^5 ratio value\(s\) \(rel_step\) are inf/);
      assert.equal(data.issues[0].line, 2);
      // The CSV holds Python repr() doubles (17 significant digits): the numbers round-trip exactly.
      checkLayers(data, run, 0, 'csv');
      assert.equal(new Set(data.layerOrder).size, 14);
      // lr_over_param_rms and sqrt_v_hat_median columns are not figures: nothing else was mapped.
      for (const o of observationsOf(data)) {
        for (const k of Object.keys(o.figures)) {
          assert.ok(['paramRms', 'gradRms', 'updateRms', 'relStep', 'adamUpdateRms', 'momentumBufferRms'].includes(k), k);
        }
      }
      const e = loadExpected(run);
      for (const step of stepsOf(e)) {
        const g = globalsOf(data).find((x) => x.step === step)!;
        assertClose(g.values.loss, e.steps[String(step)].global.loss, 0, `${run} csv loss @${step}`);
        assertClose(g.values.lr, e.steps[String(step)].global.lr, 0, `${run} csv lr @${step}`);
        assertClose(g.values.gradNorm, e.steps[String(step)].global.grad_norm_total, 0, `${run} csv grad_norm @${step}`);
      }
      // eval/acc is empty except every 10 steps: empty cells are absent
      assert.equal(globalsOf(data).filter((g) => g.values.evalAcc !== undefined).length, 12);
      assert.equal(globalsOf(data).find((g) => g.step === 7)!.values.evalAcc, undefined);
    });
  }
});

describe('JSONL train_log.jsonl (per-step globals) against expected.json', () => {
  for (const run of RUNS) {
    it(run, async () => {
      const data = await readJsonl(fixturePath(run, 'train_log.jsonl'));
      assert.equal(observationsOf(data).length, 0);
      assert.equal(globalsOf(data).length, 120);
      assert.deepEqual(
        globalsOf(data).map((g) => g.step),
        Array.from({ length: 120 }, (_, i) => i + 1),
      );
      const e = loadExpected(run);
      for (const step of stepsOf(e)) {
        const g = globalsOf(data).find((x) => x.step === step)!;
        const x = e.steps[String(step)].global;
        assertClose(g.values.loss, x.loss, 1e-12, `${run} loss @${step}`);
        assertClose(g.values.lr, x.lr, 1e-12, `${run} lr @${step}`);
        assertClose(g.values.gradNorm, x.grad_norm_total, 1e-12, `${run} grad_norm_total @${step}`);
        assertClose(g.values.paramNorm, x.param_norm_total, 1e-12, `${run} param_norm_total @${step}`);
        assertClose(g.values.updateNorm, x.update_norm_total, 1e-12, `${run} update_norm_total @${step}`);
        assertClose(g.values.lossScale, x.loss_scale, 0, `${run} loss_scale @${step}`);
      }
    });
  }
});

describe('HF trainer_state.json', () => {
  const path = fixturePath('adamw_wd0.05', 'checkpoint-120', 'trainer_state.json');
  it('checkpoint-120: 12 log entries with learning_rate 3e-4, global_step 120', async () => {
    const s = await readTrainerState(path);
    assert.equal(s.globalStep, 120);
    assert.equal(s.entries, 12);
    assert.equal(globalsOf(s.data).length, 12);
    assert.deepEqual(
      globalsOf(s.data).map((g) => g.step),
      [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120],
    );
    for (const g of globalsOf(s.data)) assert.equal(g.values.lr, 3e-4);
    assert.equal(observationsOf(s.data).length, 0, 'no per-layer figures in trainer_state.json');
    assert.equal(s.data.issues.length, 0);
    assert.deepEqual(s.data.inputs, [{ path, format: 'hf-trainer-state' }]);
  });
  it('grad_norm is the step gradient norm and loss the rounded 10-step mean (cross-check with train_log.jsonl)', async () => {
    const s = await readTrainerState(path);
    const log = await readJsonl(fixturePath('adamw_wd0.05', 'train_log.jsonl'));
    const byStep = new Map(globalsOf(log).map((g) => [g.step, g.values]));
    for (const g of globalsOf(s.data)) {
      assert.equal(g.values.gradNorm, byStep.get(g.step)!.gradNorm);
      let sum = 0;
      for (let t = g.step - 9; t <= g.step; t++) sum += byStep.get(t)!.loss;
      assertClose(g.values.loss, Math.round((sum / 10) * 1e4) / 1e4, 1e-12, `loss @${g.step}`);
      assert.ok(g.values.epoch > 0);
    }
  });
  it('checkpoint-60 and the Reader interface', async () => {
    const p60 = fixturePath('adamw_wd0.05', 'checkpoint-60', 'trainer_state.json');
    assert.ok(hfTrainerStateReader.detect(p60, new Uint8Array()));
    assert.ok(!hfTrainerStateReader.detect(fixturePath('adamw_wd0.05', 'config.json'), new Uint8Array()));
    const d = await hfTrainerStateReader.read(p60);
    assert.deepEqual(
      globalsOf(d).map((g) => g.step),
      [10, 20, 30, 40, 50, 60],
    );
    assert.equal((await readTrainerState(p60)).globalStep, 60);
  });
  it('NaN grad_norm (a diverged run) is non-finite, the summary entry is skipped, bad JSON names the line', async () => {
    const p = join(tmp, 'trainer_state.json');
    writeFileSync(
      p,
      '{\n  "global_step": 3,\n  "log_history": [\n    {"step": 1, "loss": 2.5, "learning_rate": 1e-5, "grad_norm": NaN},\n' +
        '    {"step": 2, "loss": 2.4, "learning_rate": 2e-5, "grad_norm": 0.5},\n' +
        '    {"step": 3, "train_loss": 2.45, "train_runtime": 10.0, "total_flos": 1.0}\n  ]\n}\n',
    );
    const s = await readTrainerState(p);
    assert.deepEqual(
      globalsOf(s.data).map((g) => [g.step, g.values.gradNorm ?? null, g.values.loss]),
      [
        [1, null, 2.5],
        [2, 0.5, 2.4],
      ],
    );
    assert.equal(s.data.nonFinite.length, 1);
    assert.equal(s.data.nonFinite[0].step, 1);
    assert.match(s.data.nonFinite[0].what, /grad_norm/);
    writeFileSync(p, '{\n  "global_step": 3,\n  "log_history": [\n    {"step": 1,, "loss": 2.5}\n  ]\n}\n');
    await assert.rejects(readTrainerState(p), (err: unknown) => err instanceof ReaderError && err.line === 4);
    writeFileSync(p, '{"global_step": 3}');
    await assert.rejects(readTrainerState(p), /no log_history/);
  });
});

describe('bad files (bad/README.md)', () => {
  it('malformed.jsonl: line 7 parse error reported and skipped, line 13 NaN loss non-finite', async () => {
    const path = fixturePath('bad', 'malformed.jsonl');
    const data = await readJsonl(path);
    assert.equal(globalsOf(data).length, 19);
    assert.ok(!globalsOf(data).some((g) => g.step === 7));
    const errors = data.issues.filter((i) => i.severity === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].line, 7);
    assert.equal(errors[0].path, path);
    assert.match(errors[0].message, /line 7: invalid JSON/);
    assert.deepEqual(data.nonFinite, [{ path, step: 13, layer: null, what: 'loss', count: 1, line: 13 }]);
    const g13 = globalsOf(data).find((g) => g.step === 13)!;
    assert.equal(g13.values.loss, undefined, 'NaN is never stored as a value');
    assert.equal(g13.values.gradNorm, 1.0447394980314617, 'the rest of line 13 is kept');
    for (const g of globalsOf(data)) for (const v of Object.values(g.values)) assert.ok(Number.isFinite(v));
  });
  it('ragged.csv: "line 12 has 4 fields, header has 7", row skipped', async () => {
    const path = fixturePath('bad', 'ragged.csv');
    const data = await readCsv(path);
    assert.equal(data.issues.length, 1);
    assert.equal(data.issues[0].line, 12);
    assert.equal(data.issues[0].severity, 'error');
    assert.match(data.issues[0].message, /line 12 has 4 fields, header has 7/);
    assert.equal(globalsOf(data).length, 19);
    assert.ok(!globalsOf(data).some((g) => g.step === 11));
    assert.ok(!observationsOf(data).some((o) => o.step === 11));
    assert.deepEqual(data.layerOrder, ['embed.weight']);
    // intact rows equal adam_base
    const e = loadExpected('adam_base');
    const o1 = observationsOf(data).find((o) => o.step === 1)!;
    assert.equal(o1.figures.paramRms, e.steps['1']['embed.weight'].param_rms);
    assert.equal(o1.figures.adamUpdateRms, e.steps['1']['embed.weight'].adam_u_rms);
  });
  it('missing and empty files are ReaderErrors naming the file', async () => {
    const missing = join(tmp, 'nope.jsonl');
    await assert.rejects(readJsonl(missing), (err: unknown) => err instanceof ReaderError && err.path === missing);
    await assert.rejects(readCsv(join(tmp, 'nope.csv')), ReaderError);
    const empty = join(tmp, 'empty.jsonl');
    writeFileSync(empty, '');
    await assert.rejects(readJsonl(empty), /empty file/);
    const garbage = join(tmp, 'garbage.jsonl');
    writeFileSync(garbage, 'not json\n{"no_step": 1}\n');
    await assert.rejects(readJsonl(garbage), (err: unknown) => err instanceof ReaderError && err.line === 1);
    const noStep = join(tmp, 'nostep.csv');
    writeFileSync(noStep, 'a,b\n1,2\n');
    await assert.rejects(readCsv(noStep), /no step column/);
  });
});

describe('JSONL details', () => {
  it('long-form lines read from the parsed keys and values give what the same lines read as objects give', async () => {
    // Every line of the second file carries a string escape, which sends it to JSON.parse and the object path.
    const lines = [
      '{"step": 1, "layer": "a.weight", "shape": [2, 3], "numel": 6, "param_rms": 0.5, "grad_rms": 0.25, "optimizer": "AdamW", "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}',
      '{"step": 1, "layer": "b.bias", "shape": [3], "numel": 3, "param_rms": 0.125, "rel_step": Infinity, "grad_rms": NaN, "optimizer": "AdamW", "betas": [0.9, 0.99], "eps": 1e-8, "weight_decay": 0.0}',
      '{"step": 2, "layer": "a.weight", "shape": [2, 3], "numel": 6, "param_rms": 0.5, "w_rms": 0.75, "update_rms": "x", "adam_u_rms": null}',
      '{"step": 2, "layer": "b.bias", "shape": [4], "numel": -1, "param_rms": 0.25, "param_rms": 0.5}',
      '{"step": null, "_step": 3, "layer": "", "layer_name": "c.weight", "param_rms": 2}',
      '{"step": 3.5, "layer": "a.weight", "param_rms": 1}',
      '{"layer": "a.weight", "param_rms": 1}',
      '{"step": 4, "layer": 7, "parameter": "d.weight", "grad_rms": 3, "0": 1}',
      '{"step": 4, "loss": 2.5, "param_rms/e.weight": 0.5}',
    ];
    const flat = join(tmp, 'flat_long.jsonl');
    const objects = join(tmp, 'object_long.jsonl');
    writeFileSync(flat, lines.join('\n') + '\n');
    writeFileSync(objects, lines.map((l) => l.replace(/}$/, ', "zz": "\\u0041"}')).join('\n') + '\n');
    const a = await readJsonl(flat);
    const b = await readJsonl(objects);
    assert.deepEqual(observationsOf(a), observationsOf(b));
    assert.deepEqual(globalsOf(a), globalsOf(b));
    for (const k of ['layerOrder', 'layerShapes', 'hyper', 'paramGroups', 'issues', 'nonFinite'] as const) {
      assert.equal(JSON.stringify(a[k]).replaceAll(flat, objects), JSON.stringify(b[k]), k);
    }
    assert.deepEqual(
      [...a.scalars.layers.values()].map((t) => [t.name, t.numel]),
      [...b.scalars.layers.values()].map((t) => [t.name, t.numel]),
    );
    assert.ok(observationsOf(a).some((o) => o.layer === 'c.weight' && o.step === 3));
    assert.ok(a.issues.some((i) => i.line === 6 && /step/.test(i.message)));
  });

  it('NaN/Infinity tokens outside strings only; inf rel_step undefined; NaN figure non-finite; null absent', async () => {
    const p = join(tmp, 'tokens.jsonl');
    writeFileSync(
      p,
      [
        '{"step": 1, "layer": "a.weight", "note": "NaN, Infinity: -Infinity", "param_rms": 0.0, "rel_step": Infinity, "grad_rms": NaN, "update_rms": null, "adam_u_rms": 0.5}',
        '{"step": 2, "layer": "a.weight", "param_rms": 1e-3, "rel_step": -Infinity,"grad_rms":2.5e-1}',
        '{"step": 2, "param_rms/b.bias": 3.0, "train/loss": 1.25, "lr_over_param_rms/b.bias": 9, "_runtime": 4}',
        '[1, 2]',
        '{"step": "x", "loss": 1}',
      ].join('\r\n') + '\r\n',
    );
    const d = await readJsonl(p);
    const a1 = observationsOf(d).find((o) => o.step === 1 && o.layer === 'a.weight')!;
    assert.deepEqual(a1.figures, { paramRms: 0, adamUpdateRms: 0.5 });
    const a2 = observationsOf(d).find((o) => o.step === 2 && o.layer === 'a.weight')!;
    assert.deepEqual(a2.figures, { paramRms: 1e-3, gradRms: 0.25 });
    const b2 = observationsOf(d).find((o) => o.step === 2 && o.layer === 'b.bias')!;
    assert.deepEqual(b2.figures, { paramRms: 3 });
    assert.deepEqual(globalsOf(d), [{ step: 2, values: { loss: 1.25 } }]);
    assert.deepEqual(
      d.nonFinite.map((n) => [n.step, n.layer, n.what, n.line]),
      [
        [1, 'a.weight', 'grad_rms', 1],
        [2, 'a.weight', 'rel_step', 2],
      ],
    );
    assert.deepEqual(d.layerOrder, ['a.weight', 'b.bias']);
    const lines = d.issues.map((i) => i.line);
    assert.ok(lines.includes(1), 'inf ratio summary names line 1');
    assert.ok(lines.includes(4) && lines.includes(5), JSON.stringify(d.issues));
  });

  it('wide JSONL and CSV: numel/<layer> is put on the observation, norms stay norms', async () => {
    const p = join(tmp, 'wide.jsonl');
    writeFileSync(p, '{"step": 3, "grad_norm/fc.weight": 2.0, "numel/fc.weight": 64, "param_norm/fc.weight": 8.0}\n');
    const d = await readJsonl(p);
    assert.deepEqual(observationsOf(d), [{ step: 3, layer: 'fc.weight', figures: { gradNorm: 2, paramNorm: 8 }, numel: 64 }]);
    const c = join(tmp, 'wide.csv');
    writeFileSync(c, '_step,numel/fc.weight,grad_norm/fc.weight\n3,64,2.0\n');
    const dc = await readCsv(c);
    assert.deepEqual(observationsOf(dc), [{ step: 3, layer: 'fc.weight', figures: { gradNorm: 2 }, numel: 64 }]);
  });

  it('nested objects are flattened with "/", W&B histogram objects skipped, a UTF-8 BOM is ignored', async () => {
    const p = join(tmp, 'nested.jsonl');
    writeFileSync(
      p,
      '\uFEFF{"_step": 4, "train": {"loss": 1.5, "lr": 0.001}, "param_rms": {"fc.weight": 0.02}, ' +
        '"gradients/fc.weight": {"_type": "histogram", "values": [1, 2], "bins": [0, 1, 2]}}\n',
    );
    const d = await readJsonl(p);
    assert.deepEqual(d.issues, []);
    assert.deepEqual(globalsOf(d), [{ step: 4, values: { loss: 1.5, lr: 0.001 } }]);
    assert.deepEqual(observationsOf(d), [{ step: 4, layer: 'fc.weight', figures: { paramRms: 0.02 } }]);
  });

  it('detect by name', () => {
    assert.ok(jsonlReader.detect('/x/stats.jsonl', new Uint8Array()));
    assert.ok(jsonlReader.detect('/x/metrics.ndjson', new Uint8Array()));
    assert.ok(jsonlReader.detect('/x/train.log', new TextEncoder().encode('  {"step": 1}')));
    assert.ok(!jsonlReader.detect('/x/train.log', new TextEncoder().encode('epoch 1 loss 2')));
    assert.ok(!jsonlReader.detect('/x/trainer_state.json', new TextEncoder().encode('{')));
    assert.ok(csvReader.detect('/x/history_wide.csv', new Uint8Array()));
    assert.ok(!csvReader.detect('/x/history.jsonl', new Uint8Array()));
  });

  it('onProgress reaches 1 and an aborted signal stops the read', async () => {
    const fractions: number[] = [];
    await readJsonl(fixturePath('adam_base', 'stats.jsonl'), { onProgress: (f) => fractions.push(f) });
    assert.equal(fractions.at(-1), 1);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(readJsonl(fixturePath('adam_base', 'stats.jsonl'), { signal: ac.signal }));
    await assert.rejects(readCsv(fixturePath('adam_base', 'history_wide.csv'), { signal: ac.signal }));
  });
});

describe('line scanning across chunk boundaries', () => {
  it('every line intact with tiny chunks; over-long lines reported by line and skipped; partial tail', async () => {
    const p = join(tmp, 'lines.txt');
    const lines = Array.from({ length: 200 }, (_, i) => 'x'.repeat((i * 7) % 23) + `#${i}`);
    lines[50] = 'y'.repeat(70); // over the 64-byte limit below
    lines[120] = lines[120] + '\r'; // CRLF line end
    lines[199] = 'z'.repeat(90); // over-long and last, without a newline
    writeFileSync(p, lines.join('\n'));
    for (const chunkBytes of [1, 5, 16, 64, 1000]) {
      const got: TextLine[] = [];
      const tooLong: number[] = [];
      const r = await scanLines(
        p,
        { includeLastPartial: true, chunkBytes, maxLineBytes: 64, onTooLong: (line) => tooLong.push(line) },
        (l) => got.push(l),
      );
      assert.deepEqual(tooLong, [51, 200], `chunk ${chunkBytes}`);
      assert.deepEqual(
        got.map((l) => l.text),
        lines.filter((_, i) => i !== 50 && i !== 199).map((l) => l.replace(/\r$/, '')),
        `chunk ${chunkBytes}`,
      );
      assert.equal(got[0].line, 1);
      assert.equal(got.at(-1)!.line, 199);
      assert.equal(r.lines, 200);
      const tail = await scanLines(p, { includeLastPartial: false, chunkBytes, maxLineBytes: 64 }, () => undefined);
      assert.equal(tail.partialBytes, 90, 'the unterminated last line is left for later');
      assert.equal(tail.lines, 199);
    }
  });
});

/** The parts' rows together are the whole read's (rows come layer by layer from the columnar store: compared as sets). */
function assertSameRows(parts: RunData[], whole: RunData): void {
  const key = (o: ObservationRow) => `${o.step}|${o.layer}|${JSON.stringify(o.figures)}`;
  assert.deepEqual(
    parts
      .flatMap((d) => observationsOf(d))
      .map(key)
      .sort(),
    observationsOf(whole).map(key).sort(),
  );
}

describe('JsonlTail', () => {
  it('returns only appended complete lines; a partial last line waits', async () => {
    const p = join(tmp, 'live.jsonl');
    writeFileSync(p, '{"step": 1, "loss": 3.0}\n{"step": 2, "loss": 2.9}\n');
    const tail = new JsonlTail(p);
    let d = await tail.readNew();
    assert.deepEqual(
      globalsOf(d).map((g) => [g.step, g.values.loss]),
      [
        [1, 3.0],
        [2, 2.9],
      ],
    );
    d = await tail.readNew();
    assert.equal(globalsOf(d).length, 0, 'nothing new');
    appendFileSync(p, '{"step": 3, "loss": 2.');
    d = await tail.readNew();
    assert.equal(globalsOf(d).length, 0, 'the partial line waits');
    assert.equal(d.issues.length, 0, 'a partial line is not a parse error');
    const before = tail.position;
    appendFileSync(p, '8}\n{"step": 4, "loss": NaN}\n{"step": 5, "lo');
    d = await tail.readNew();
    assert.deepEqual(
      globalsOf(d).map((g) => [g.step, g.values.loss]),
      [[3, 2.8]],
    );
    assert.deepEqual(
      d.nonFinite.map((n) => [n.step, n.what, n.line]),
      [[4, 'loss', 4]],
      'line numbers continue across calls',
    );
    assert.ok(tail.position > before);
    appendFileSync(p, 'ss": 2.7}\nbroken\n');
    d = await tail.readNew();
    assert.deepEqual(
      globalsOf(d).map((g) => [g.step, g.values.loss]),
      [[5, 2.7]],
    );
    assert.equal(d.issues.length, 1);
    assert.equal(d.issues[0].line, 6);
    // rewritten (shorter) file: start over and say so
    writeFileSync(p, '{"step": 1, "loss": 1.0}\n');
    d = await tail.readNew();
    assert.deepEqual(
      globalsOf(d).map((g) => [g.step, g.values.loss]),
      [[1, 1.0]],
    );
    assert.match(d.issues[0].message, /shrank|replaced/);
    // replaced by rename with a longer file: a new inode, start over
    const next = join(tmp, 'live.next.jsonl');
    writeFileSync(next, '{"step": 1, "loss": 5.0}\n{"step": 2, "loss": 4.0}\n{"step": 3, "loss": 3.0}\n');
    renameSync(next, p);
    d = await tail.readNew();
    assert.deepEqual(
      globalsOf(d).map((g) => [g.step, g.values.loss]),
      [
        [1, 5.0],
        [2, 4.0],
        [3, 3.0],
      ],
    );
    assert.match(d.issues[0].message, /replaced/);
  });

  it('long form lines appended one at a time', async () => {
    const p = join(tmp, 'live-stats.jsonl');
    const src = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').slice(0, 28);
    writeFileSync(p, '');
    const tail = new JsonlTail(p);
    let total = 0;
    for (const line of src) {
      const half = Math.floor(line.length / 2);
      appendFileSync(p, line.slice(0, half));
      total += observationsOf(await tail.readNew()).length;
      appendFileSync(p, line.slice(half) + '\n');
      const d = await tail.readNew();
      assert.equal(observationsOf(d).length, 1);
      total += 1;
    }
    assert.equal(total, 28);
  });

  it('reads in bounded steps (maxBytes): the same records as one read, line numbers continuous, an over-long line read whole', async () => {
    const p = join(tmp, 'steps.jsonl');
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    // one line longer than the step, then a bad line to check the line numbers after it
    const long = JSON.stringify({ step: 999, layer: 'wide', param_rms: 0.5, note: 'x'.repeat(3000) });
    writeFileSync(p, [...lines.slice(0, 40), long, 'broken', ...lines.slice(40, 80)].join('\n') + '\n');
    const whole = await new JsonlTail(p).readNew();
    const tail = new JsonlTail(p);
    const parts: RunData[] = [];
    const positions: number[] = [];
    for (let i = 0; i < 1000 && tail.position < statSync(p).size; i++) {
      parts.push(await tail.readNew({ maxBytes: 1000 }));
      positions.push(tail.position);
    }
    assert.equal(tail.position, statSync(p).size, 'the whole file was read');
    assert.ok(parts.length > 20, `${parts.length} steps of at most 1000 bytes (plus the long line)`);
    for (let i = 1; i < positions.length; i++) assert.ok(positions[i] > positions[i - 1], 'every step moves on');
    assertSameRows(parts, whole);
    assert.ok(observationsOf(whole).some((o) => o.layer === 'wide'));
    assert.deepEqual(
      parts.flatMap((d) => d.issues).map((i) => i.line),
      [42],
      'the bad line keeps its line number',
    );
  });

  const stepOf = (line: string): number => (JSON.parse(line) as { step: number }).step;
  const stepsOf = (d: RunData): number[] => [...new Set(observationsOf(d).map((o) => o.step))].sort((a, b) => a - b);

  it('holdPartialStep: a last step with fewer lines than the one before waits for its other lines; an unchanged file releases it', async () => {
    const p = join(tmp, 'held.jsonl');
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    const of = (s: number) => lines.filter((l) => stepOf(l) === s);
    assert.equal(of(4).length, 14, 'one line per tensor');
    writeFileSync(p, [...of(1), ...of(2), ...of(3), ...of(4).slice(0, 5), 'broken'].join('\n') + '\n');
    const tail = new JsonlTail(p);
    const a = await tail.readNew({ holdPartialStep: true });
    assert.deepEqual(stepsOf(a), [1, 2, 3]);
    assert.equal(tail.held, true);
    assert.equal(a.issues.length, 0, 'the held lines are not read yet');
    assert.equal(tail.position, Buffer.byteLength([...of(1), ...of(2), ...of(3)].join('\n') + '\n'), 'the next read starts at step 4');
    appendFileSync(p, [...of(4).slice(5), ...of(5).slice(0, 3)].join('\n') + '\n');
    const b = await tail.readNew({ holdPartialStep: true });
    assert.deepEqual(stepsOf(b), [4]);
    assert.equal(observationsOf(b).length, 14, 'step 4 whole');
    assert.equal(tail.held, true);
    assert.deepEqual(
      b.issues.map((i) => i.line),
      [14 * 3 + 6],
      'the bad line once, with its line number',
    );
    // Nothing appended since: the writer stopped mid-step, and the step is returned as it is.
    const c = await tail.readNew({ holdPartialStep: true });
    assert.deepEqual(stepsOf(c), [5]);
    assert.equal(observationsOf(c).length, 3);
    assert.equal(tail.held, false);
    assert.equal(tail.position, statSync(p).size);
    // Without the option a read takes every complete line.
    const plain = new JsonlTail(p);
    assert.deepEqual(stepsOf(await plain.readNew()), [1, 2, 3, 4, 5]);
    assert.equal(plain.held, false);
  });

  it('lines appended between the poll and the scan wait for the next read (no half line, no line read twice)', async () => {
    const p = join(tmp, 'race.jsonl');
    const lines = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8').split('\n').filter(Boolean);
    writeFileSync(p, lines.slice(0, 30).join('\n') + '\n');
    const tail = new JsonlTail(p);
    // The writer appends right after the tail looked at the file's size, before it reads (as on a busy machine).
    const file = (tail as unknown as { file: { poll(): Promise<unknown> } }).file;
    const poll = file.poll.bind(file);
    let append: string | null = lines.slice(30, 45).join('\n') + '\n' + lines[45].slice(0, 20);
    file.poll = async () => {
      const w = await poll();
      if (append !== null) appendFileSync(p, append);
      append = null;
      return w;
    };
    const parts = [await tail.readNew(), await tail.readNew()];
    appendFileSync(p, lines[45].slice(20) + '\n' + lines.slice(46).join('\n') + '\n');
    parts.push(await tail.readNew());
    assert.deepEqual(
      parts.flatMap((d) => d.issues),
      [],
      'no half line read as a line',
    );
    assert.deepEqual(
      parts.map((d) => observationsOf(d).length),
      [30, 15, lines.length - 45],
      'each line once',
    );
    assertSameRows(parts, await readJsonl(fixturePath('adam_base', 'stats.jsonl')));
  });

  it('holdPartialStep: a log written in random pieces is returned in whole steps, each step once, together the whole log', async () => {
    const p = join(tmp, 'pieces.jsonl');
    const text = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8');
    const whole = await readJsonl(fixturePath('adam_base', 'stats.jsonl'));
    writeFileSync(p, '');
    const tail = new JsonlTail(p);
    const parts: RunData[] = [];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let held = 0;
    // The first step has no step before it to be measured against: it is written whole, then pieces follow.
    const firstStep = text.split('\n').filter((l) => l && stepOf(l) === 1).length;
    let at = text.split('\n').slice(0, firstStep).join('\n').length + 1;
    appendFileSync(p, text.slice(0, at));
    parts.push(await tail.readNew({ holdPartialStep: true }));
    while (at < text.length) {
      const n = 1 + Math.floor(rand() * 9000); // a few lines to a few steps, cut anywhere (mid-line too)
      appendFileSync(p, text.slice(at, at + n));
      at += n;
      parts.push(await tail.readNew({ holdPartialStep: true }));
      if (tail.held) held++;
    }
    parts.push(await tail.readNew({ holdPartialStep: true }));
    assert.ok(held > 5, `${held} reads held a partial step`);
    assert.equal(tail.position, statSync(p).size);
    const seen = new Set<number>();
    for (const d of parts)
      for (const s of stepsOf(d)) {
        assert.ok(!seen.has(s), `step ${s} returned twice`);
        seen.add(s);
        assert.equal(observationsOf(d).filter((o) => o.step === s).length, 14, `step ${s} whole`);
      }
    assertSameRows(parts, whole);
  });
});

describe('CSV details', () => {
  it("long form: a shape that differs from the layer's first is reported on every row stating it", async () => {
    const p = join(tmp, 'shapes.csv');
    const shapes = ['[2, 3]', '[3, 2]', '[3, 2]', '[2, 3]', '[3, 2]', 'x', 'x'];
    writeFileSync(p, 'step,layer,shape,param_rms\n' + shapes.map((s, i) => `${i + 1},a.weight,"${s}",0.5`).join('\n') + '\n');
    const d = await readCsv(p);
    assert.deepEqual(d.layerShapes['a.weight'], [2, 3]);
    assert.deepEqual(
      d.issues.filter((i) => /shape/.test(i.message)).map((i) => i.message),
      [2, 3, 5].map((step) => `layer a.weight: shape [3,2] at step ${step} differs from [2,3]`),
    );
    assert.equal(observationsOf(d).length, 7);
  });

  it('RFC 4180: quoted fields with commas, doubled quotes and newlines; CRLF; line numbers after a multi-line field', async () => {
    const p = join(tmp, 'long.csv');
    writeFileSync(
      p,
      'step,layer,param_rms,rel_step,note,shape,numel\r\n' +
        '1,"enc.layers.0,weird",0.5,inf,"say ""hi""","[2, 3]",6\r\n' +
        '1,b,0.25,0.01,"multi\r\nline\nnote",,\r\n' +
        '2,b,nan,,x\r\n' +
        '2,b,0.3,-inf,"",,\r\n' +
        '3,b,0.3,0.02,"unterminated\r\n',
    );
    const d = await readCsv(p);
    assert.deepEqual(d.layerOrder, ['enc.layers.0,weird', 'b']);
    const w = observationsOf(d).find((o) => o.layer === 'enc.layers.0,weird')!;
    assert.deepEqual(w.figures, { paramRms: 0.5 });
    assert.equal(w.numel, 6);
    assert.deepEqual(d.layerShapes, { 'enc.layers.0,weird': [2, 3] });
    assert.deepEqual(observationsOf(d).find((o) => o.layer === 'b' && o.step === 1)!.figures, { paramRms: 0.25, relStep: 0.01 });
    // the quoted field of the record starting on line 3 spans lines 3..5, so the ragged row is file line 6
    const ragged = d.issues.find((i) => /fields/.test(i.message))!;
    assert.equal(ragged.line, 6);
    assert.match(ragged.message, /line 6 has 5 fields, header has 7/);
    assert.deepEqual(observationsOf(d).find((o) => o.layer === 'b' && o.step === 2)!.figures, { paramRms: 0.3 });
    assert.deepEqual(
      d.nonFinite.map((n) => [n.step, n.layer, n.what, n.line]),
      [[2, 'b', 'rel_step', 7]],
    );
    const unterminated = d.issues.find((i) => /unterminated/.test(i.message))!;
    assert.equal(unterminated.line, 8);
    assert.ok(!observationsOf(d).some((o) => o.step === 3));
  });

  it('CsvParser: same records and lines whether fed whole or one character at a time', () => {
    const text = 'a,"b,1","c\r\nd"\r\n\r\n"e""f",,\rlone,cr\n"x"y,z\n"q\nr",s';
    const parse = (pieces: string[]) => {
      const recs: CsvRecord[] = [];
      const problems: [number, string][] = [];
      const p = new CsvParser(
        (r) => recs.push(r),
        (line, m) => problems.push([line, m]),
      );
      for (const piece of pieces) p.push(piece);
      p.end();
      return { recs, problems };
    };
    const whole = parse([text]);
    assert.deepEqual(whole.recs, [
      { fields: ['a', 'b,1', 'c\r\nd'], line: 1 },
      { fields: ['e"f', '', ''], line: 4 },
      { fields: ['lone', 'cr'], line: 5 },
      { fields: ['xy', 'z'], line: 6 },
      { fields: ['q\nr', 's'], line: 7 },
    ]);
    assert.equal(whole.problems.length, 1);
    assert.equal(whole.problems[0][0], 6);
    assert.match(whole.problems[0][1], /after a closing quote/);
    assert.deepEqual(parse([...text]), whole);
    assert.deepEqual(parse([text.slice(0, 17), text.slice(17, 18), text.slice(18)]), whole);
  });

  it('CsvParser: lines split on the bytes (pushLine, as readCsv feeds them) give the records and problems of the text parser', () => {
    const texts = [
      'a,"b,1","c\r\nd"\r\n\r\n"e""f",,\rlone,cr\n"x"y,z\n"q\nr",s',
      '\uFEFFstep,layer,shape\r\n1,"blocks.0.attn",[1, 2]\r\n2,blöcks.ü,"[3, 4]"\r\n\r\n3,,\n4,a"b,c\n5,"open\nclose",x\n6,"a""b",y\n7,"unterminated',
      'x,y\n1,2,\n,\n"",""\n"\r",z\n8,"q"',
    ];
    let bytesTaken = 0;
    for (const text of texts) {
      const run = (feed: (p: CsvParser) => void) => {
        const recs: CsvRecord[] = [];
        const problems: [number, string][] = [];
        const p = new CsvParser(
          (r) => recs.push(r),
          (line, m) => problems.push([line, m]),
        );
        feed(p);
        p.end();
        return { recs, problems };
      };
      const whole = run((p) => p.push(text));
      const byLines = run((p) => {
        const b = Buffer.from(text, 'utf8');
        let from = 0;
        for (let nl = b.indexOf(0x0a); nl >= 0; nl = b.indexOf(0x0a, from)) {
          if (p.pushLine(b, from, nl)) bytesTaken++;
          else p.push(b.toString('utf8', from, nl + 1));
          from = nl + 1;
        }
        p.push(b.toString('utf8', from));
      });
      assert.deepEqual(byLines, whole, JSON.stringify(text));
    }
    assert.ok(bytesTaken >= 8, `${bytesTaken} lines took the byte path`);
  });

  it('W&B UI export: Step column, "<run> - <metric>" headers, __MIN/__MAX skipped', async () => {
    const p = join(tmp, 'wandb_ui.csv');
    writeFileSync(
      p,
      'Step,run-a - train/loss,run-a - train/loss__MIN,run-a - train/loss__MAX,run-a - grad_rms/h.weight\n' +
        '1,2.0,1.0,3.0,0.1\n2,,,,0.2\n',
    );
    const d = await readCsv(p);
    assert.deepEqual(globalsOf(d), [{ step: 1, values: { loss: 2 } }]);
    assert.deepEqual(
      observationsOf(d).map((o) => [o.step, o.layer, o.figures.gradRms]),
      [
        [1, 'h.weight', 0.1],
        [2, 'h.weight', 0.2],
      ],
    );
  });

  it('Composer / Lightning / OLMo columns become norms, never RMS', async () => {
    const p = join(tmp, 'composer.csv');
    writeFileSync(
      p,
      '_step,l2_norm/grad/fc.weight,l2_norm/moment/fc.weight,grad_2.0_norm/fc.weight,optim/param/fc.weight.norm,optim/param/fc.weight.max,l2_norm/grad/global,lr-AdamW\n' +
        '5,1.5,9,1.5,4.0,7,2.5,1e-4\n',
    );
    const d = await readCsv(p);
    assert.deepEqual(
      observationsOf(d).map((o) => o.figures),
      [{ gradNorm: 1.5, paramNorm: 4.0 }],
    );
    assert.equal(observationsOf(d)[0].numel, undefined, 'no numel stated, none invented');
    assert.deepEqual(globalsOf(d), [{ step: 5, values: { gradNorm: 2.5, lr: 1e-4 } }]);
  });
});

describe('long-form CSV rows read from their bytes', () => {
  // A long-form CSV from a real torch run's records (adam_base/stats.jsonl), with every kind of odd cell
  // among them; then the same rows with one more column whose doubled quote sends each line down the
  // character-by-character path, where cells are strings. Both must give the same run.
  const records = readFileSync(fixturePath('adam_base', 'stats.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const figures = ['param_rms', 'grad_rms', 'update_rms', 'rel_step', 'adam_u_rms', 'eps_dominated_frac'];
  const odd = ['', 'nan', 'NaN', 'inf', '-inf', '1e400', '+1.5', ' 2', '0x10', '1.', '.5', '-0', '012', 'abc', '1e-400'];
  const rows: string[][] = records.map((r, i) => {
    const cells = [String(r.step), String(r.layer), `"[${(r.shape as number[]).join(', ')}]"`, String(r.numel)];
    for (const [k, f] of figures.entries()) {
      const v = r[f];
      cells.push(i % 7 === k ? odd[(i + k) % odd.length]! : v === undefined || v === null ? '' : String(v));
    }
    return cells;
  });
  rows.push(['999', '', '"[1]"', '1', '1', '1', '1', '1', '1', '1']); // no layer
  rows.push(['-3', 'embed.weight', '"[1]"', '1', '1', '1', '1', '1', '1', '1']); // bad step
  rows.push(['1000', 'embed.weight', '"[2, 2]"', '4', '1', '1', '1', '1', '1', '1']); // another shape
  rows.push(['1001', 'embed.weight', '1']); // ragged
  const header = ['step', 'layer', 'shape', 'numel', ...figures];

  it('gives what the same rows give read as strings: observations, shapes, issues, the columns read', async () => {
    const bytes = join(tmp, 'long-bytes.csv');
    const text = join(tmp, 'long-text.csv');
    writeFileSync(bytes, [header, ...rows].map((r) => r.join(',')).join('\n') + '\n');
    writeFileSync(text, [[...header, 'note'], ...rows.map((r) => [...r, '"a""b"'])].map((r) => r.join(',')).join('\n') + '\n');
    const a = await readCsv(bytes);
    const b = await readCsv(text);
    assert.ok(observationsOf(a).length > 1000);
    assert.deepEqual(observationsOf(a), observationsOf(b));
    assert.deepEqual(a.layerShapes, b.layerShapes);
    assert.deepEqual(a.layerOrder, b.layerOrder);
    // (the ragged row's field counts differ by the extra column)
    const messages = (d: RunData) => d.issues.map((i) => i.message.replace(/has \d+ fields, header has \d+/, 'has N fields'));
    assert.deepEqual(messages(a), messages(b));
    assert.ok(
      a.issues.some((i) => /line \d+: empty layer cell/.test(i.message)) &&
        a.issues.some((i) => /not a non-negative integer/.test(i.message)),
    );
    assert.ok(a.issues.some((i) => /has 3 fields, header has 10/.test(i.message)));
    // the odd cells reached the reports as their text
    assert.ok(
      a.issues.some((i) => i.message.includes('abc')) || a.issues.some((i) => /non-finite|not a number/.test(i.message)),
      JSON.stringify(a.issues.slice(0, 5)),
    );
  });

  it('one pass over a line gives what the string path gives: names (quoted, prefixes, with a delimiter), numbers with junk, CRLF, TSV', async () => {
    // Each line's cells are read where they start (numbers as numbers, the layer as the name predicted from
    // the last line's); the same rows with one more column whose doubled quote sends every line down the
    // character-by-character path must give the same run.
    const names = ['blk.1', 'blk.10', 'blk.1.x', 'blk.10', 'blk.1', '"blk.1"', '"x,y"', 'x', 'blk.0', 'blk.00'];
    const numbers = [
      '0.5',
      '0.5x',
      '1e5e',
      '"0.25"',
      '-0',
      '1e400',
      ' 0.5',
      '0.5 ',
      '+1',
      '.5',
      '1.',
      '00.5',
      '0x10',
      'nan',
      '',
      '7',
      '1e-7',
      '-2.5E+3',
      '12345678901234567890',
      '0.00029999103239231517',
    ];
    const steps = ['1', '1', '2', '7.0', '1e1', '-1', '', 'abc', '"3"', '03', '4'];
    const rows: string[][] = [];
    let k = 0;
    for (let r = 0; r < 400; r++) {
      const name = names[r % names.length]!;
      const step = r % 13 === 12 ? steps[((r / 13) % steps.length) | 0]! : String(Math.floor(r / names.length));
      const cell = () => (k++ % 3 === 0 ? numbers[k % numbers.length]! : String((r % 97) / 97 + k / 7));
      const row = [
        step,
        name,
        r % 5 === 0 ? '"[2, 3]"' : r % 5 === 1 ? '[6]' : '',
        r % 4 === 0 ? '' : r % 4 === 1 ? '6' : cell(),
        cell(),
        cell(),
      ];
      if (r % 37 === 5) row.push('extra'); // ragged
      if (r % 41 === 7) row.pop();
      rows.push(row);
    }
    // a name holding the delimiter, quoted, then the same bytes unquoted: two cells there (one field too many)
    rows.push(['50', '"x,y"', '', '6', '0.5', '0.5'], ['51', 'x,y', '', '6', '0.5', '0.5'], ['52', 'x', 'y', '', '6', '0.5']);
    // … as the name predicted (the one that followed the last name last time, or the last name)
    rows.push(['60', 'blk.1', '', '6', '0.5', '0.5'], ['60', '"p,q"', '', '6', '0.5', '0.5'], ['61', 'blk.1', '', '6', '0.5', '0.5']);
    rows.push(['62', 'p,q', '', '6', '0.5', '0.5'], ['70', '"r,s"', '', '6', '0.5', '0.5'], ['71', 'r,s', '', '6', '0.5', '0.5']);
    rows.push(['53', 'blöck', '', '6', '0.5', '0.5'], ['54', 'blk.1', '', '6', '0.5\r', '0.5']);
    const header = ['step', 'layer', 'shape', 'numel', 'param_rms', 'grad_rms'];
    for (const [ext, sep] of [
      ['csv', ','],
      ['tsv', '\t'],
    ] as const) {
      const lines = (withNote: boolean) =>
        [header, ...rows].map((r, i) => {
          const cells = withNote ? [...r, i === 0 ? 'note' : '"a""b"'] : r;
          return cells.map((c) => (/x,y|p,q|r,s/.test(c) ? c.replace(',', sep) : c)).join(sep) + (i % 3 === 0 ? '\r\n' : '\n');
        });
      const bytes = join(tmp, `one-pass.${ext}`);
      const text = join(tmp, `one-pass-text.${ext}`);
      writeFileSync(bytes, lines(false).join('').replace('\\r', '\r'));
      writeFileSync(text, lines(true).join('').replace('\\r', '\r'));
      const before = csvLinesInOnePass.count;
      const a = await readCsv(bytes);
      const onePass = csvLinesInOnePass.count - before;
      const b = await readCsv(text);
      assert.equal(csvLinesInOnePass.count - before, onePass, 'the doubled quote: no line of the text file in one pass');
      assert.ok(onePass > 250, `${onePass} lines in one pass`);
      assert.deepEqual(observationsOf(a), observationsOf(b), ext);
      assert.deepEqual(a.layerShapes, b.layerShapes);
      assert.deepEqual(a.layerOrder, b.layerOrder);
      assert.deepEqual(
        a.nonFinite,
        b.nonFinite.map((n) => ({ ...n, path: bytes })),
      );
      const messages = (d: RunData) => d.issues.map((i) => i.message.replace(/has \d+ fields, header has \d+/, 'has N fields'));
      assert.deepEqual(messages(a), messages(b));
      assert.deepEqual(
        a.seen,
        b.seen?.map((s) => ({ ...s, path: bytes })),
      );
      // the unquoted x,y is two cells: its row is one field too long, not a row of the layer "x,y"
      const stepsOf = (layer: string) =>
        observationsOf(a)
          .filter((o) => o.layer === layer.replace(',', sep) && o.step >= 50)
          .map((o) => o.step);
      assert.deepEqual([stepsOf('x,y'), stepsOf('p,q'), stepsOf('r,s')], [[50], [60], [70]]);
      assert.ok(a.issues.some((i) => /^line \d+ has 7 fields, header has 6/.test(i.message)));
      assert.ok(observationsOf(a).some((o) => o.layer === 'x' && o.step === 52));
    }
  });
});
