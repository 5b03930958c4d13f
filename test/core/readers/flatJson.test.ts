import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlatJsonParser } from '../../../src/core/readers/flatJson';
import { parseJsonTolerant } from '../../../src/core/readers/scalarRecords';
import { rng } from '../../support/fuzz';

// The flat-object parser either gives exactly what JSON.parse (with Python's NaN tokens) gives, or
// undefined (then the reader uses JSON.parse). Checked on seeded random lines shaped like our snippet's
// records, with numbers printed every way Python and JS print them, and on inputs it must hand back.

function parse(p: FlatJsonParser, text: string): Record<string, unknown> | undefined {
  const b = Buffer.from(`xx${text}yy`, 'latin1');
  return p.parse(b, 2, b.length - 2);
}

/** Number spellings: shortest round-trip, fixed, exponent (both cases, signs), integers, -0, subnormals. */
function numberText(r: () => number): string {
  const kind = Math.floor(r() * 9);
  const x = (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
  switch (kind) {
    case 0:
      return String(x);
    case 1:
      return x.toExponential();
    case 2:
      return x.toExponential(Math.floor(r() * 20)).replace('e', 'E');
    case 3:
      return x.toFixed(Math.floor(r() * 20));
    case 4:
      return String(Math.floor(r() * 1e6));
    case 5:
      return String(Math.floor(r() * 2 ** 60));
    case 6:
      return `${(r() * 10).toFixed(3)}e+${Math.floor(r() * 30)}`;
    case 7:
      return ['-0', '0', '0.0', '5e-324', '1.7976931348623157e308', '2.2250738585072014e-308', '1e400', '123456789012345678901234'][
        Math.floor(r() * 8)
      ]!;
    default:
      return x.toPrecision(17);
  }
}

describe('FlatJsonParser', () => {
  it('equals JSON.parse on 20,000 seeded records of every number spelling', () => {
    const r = rng(11);
    const p = new FlatJsonParser();
    const layers = ['model.layers.0.self_attn.q_proj.weight', 'lm_head.weight', 'a', ''];
    for (let i = 0; i < 20000; i++) {
      const fields = [
        `"step": ${Math.floor(r() * 1e6)}`,
        `"layer": "${layers[i % layers.length]}"`,
        `"shape": [${Math.floor(r() * 5000)}, ${Math.floor(r() * 5000)}]`,
        `"param_rms": ${numberText(r)}`,
        `"rel_step": ${numberText(r)}`,
        `"flag": ${['true', 'false', 'null'][i % 3]}`,
        `"betas": [${numberText(r)}, ${numberText(r)}]`,
      ];
      if (i % 7 === 0) fields.reverse();
      const sep = i % 5 === 0 ? ',' : ', ';
      const text = `{${fields.join(sep)}}${i % 11 === 0 ? '\r' : ''}`;
      const got = parse(p, text);
      assert.notEqual(got, undefined, text);
      assert.deepEqual(got, JSON.parse(text), text);
      // Values are the same doubles bit for bit (deepEqual treats -0 and 0 alike; Object.is does not).
      const want = JSON.parse(text) as Record<string, unknown>;
      for (const k of ['param_rms', 'rel_step']) assert.ok(Object.is(got![k], want[k]), `${k} of ${text}`);
    }
  });

  it("reads Python's NaN / Infinity / -Infinity tokens as parseJsonTolerant does", () => {
    const p = new FlatJsonParser();
    const text = '{"step": 3, "loss": NaN, "a": Infinity, "b": -Infinity, "s": "NaN"}';
    const got = parse(p, text)!;
    assert.deepEqual(got, parseJsonTolerant(text));
    assert.ok(Number.isNaN(got.loss));
    assert.equal(got.b, Number.NEGATIVE_INFINITY);
    assert.equal(got.s, 'NaN');
  });

  it('hands back (undefined) what it does not read, so JSON.parse decides', () => {
    const p = new FlatJsonParser();
    for (const text of [
      '{"a": {"b": 1}}', // nesting
      '{"a": "caf\\u00e9"}', // escape
      '{"a": [1, "x"]}', // mixed array
      '{"__proto__": 1}',
      '{"a": 01}',
      '{"a": 1.}',
      '{"a": .5}',
      '{"a": 1e}',
      '{"a": +1}',
      '{"a": 1,}',
      '{"a" 1}',
      '{"a": 1} x',
      '{"a": 1',
      '[1, 2]',
      '',
      '{"a": nul}',
      '{"a": Infinit}',
      '{"a": 1e1000000000}',
    ]) {
      assert.equal(parse(p, text), undefined, text);
    }
    // Non-ASCII bytes (UTF-8 names) go to JSON.parse on the decoded text.
    const b = Buffer.from('{"layer": "schicht.gewicht.ä"}', 'utf8');
    assert.equal(p.parse(b, 0, b.length), undefined);
  });

  it('parseFields: a key stated twice is handed back, also when earlier lines put the same keys in those places', () => {
    const p = new FlatJsonParser();
    const fields = (text: string): number => {
      const b = Buffer.from(text, 'latin1');
      return p.parseFields(b, 0, b.length);
    };
    assert.equal(fields('{"a": 1, "b": 2, "c": 3}'), 3);
    assert.deepEqual(p.keys.slice(0, 3), ['a', 'b', 'c']);
    assert.deepEqual(p.values.slice(0, 3), [1, 2, 3]);
    assert.equal(fields('{"a": 4, "b": 5, "c": 6}'), 3); // same places: no check needed, none wrong
    assert.equal(fields('{"a": 1, "a": 2}'), -1);
    assert.equal(fields('{"a": 1, "b": 2, "c": 3}'), 3);
    // A line given up half-way after moving "c" to the first place; then c, b, c matches every place.
    assert.equal(fields('{"c": 1, "x": }'), -1);
    assert.equal(fields('{"c": 1, "b": 2, "c": 3}'), -1);
    assert.equal(fields('{"c": 1, "b": 2, "a": 3}'), 3);
    assert.equal(fields('{"c": 1, "b": 2, "c": 3}'), -1);
    assert.deepEqual(JSON.parse('{"c": 1, "b": 2, "c": 3}'), { c: 3, b: 2 }); // what JSON.parse then gives
    assert.equal(fields('{}'), 0);
  });

  it('reads lines of one shape by their bytes between values, and every line that differs as JSON.parse does', () => {
    // Each variant follows a line of the shape, so the shape path meets it first.
    const shape =
      '{"step": 10, "layer": "model.layers.0.mlp.up_proj.weight", "shape": [11008, 4096], "lr": 0.0002999999149449555, "ok": true, "note": null}';
    const variants = [
      shape,
      shape.replace('10', '20').replace('0.0002999999149449555', '1.5e-08'),
      shape.replace('"ok": true', '"ok": false'),
      shape.replace('"ok": true', '"ok": NaN'),
      shape.replace('"lr": 0.0002999999149449555', '"lr": null'), // a value of another kind
      shape.replace('"lr": 0.0002999999149449555', '"lr": "3e-4"'),
      shape.replace('"lr": 0.0002999999149449555', '"lr": -Infinity'),
      shape.replace('"note": null', '"note": {"a": 1}'), // nested: JSON.parse's
      shape.replace('"layer": "model', '"layer": "mödel'),
      shape.replace('"shape": [11008, 4096]', '"shape": []'),
      shape.replace('"shape": [11008, 4096]', '"shape": [11008, "x"]'),
      shape.replace('"lr"', '"LR"'), // another key of the same length
      shape.replace('"lr"', '"step"'), // a key stated twice
      shape.replace(', "note": null', ''), // a field fewer
      shape.replace('}', ', "extra": 1}'), // one more
      `${shape}  `,
      `${shape}\r`,
      shape.replace(': ', ':'),
      shape.slice(0, -1), // cut in the last gap
      shape.slice(0, 40), // cut in a value
      shape.replace('10', '1e400'),
      shape.replace('10', '-0'),
      shape.replace('10', '012'),
    ];
    const p = new FlatJsonParser();
    for (const v of variants) {
      for (const text of [shape, v, v]) {
        const b = Buffer.from(text, 'utf8');
        const got = p.parse(b, 0, b.length);
        let want: unknown;
        try {
          want = parseJsonTolerant(text);
        } catch {
          want = undefined;
        }
        if (got === undefined) continue; // handed back: the reader uses JSON.parse
        assert.deepEqual(got, want, text);
        for (const [k, x] of Object.entries(got))
          assert.ok(Object.is(x, (want as Record<string, unknown>)[k]) || typeof x === 'object', `${k} of ${text}`);
      }
    }
    // the lines of the shape were read by it: the shape line after each variant but the first, and the
    // variants that differ only in values of the same kinds
    assert.ok(p.linesByShape >= variants.length + 2, `${p.linesByShape} lines by their shape`);
    const before = p.linesByShape;
    const b = Buffer.from(variants[1]!, 'latin1');
    assert.equal(p.parse(Buffer.from(shape), 0, shape.length)!.step, 10);
    assert.equal(p.parse(b, 0, b.length)!.lr, 1.5e-8);
    assert.equal(p.linesByShape, before + 2);
  });

  it('keeps interned strings bounded and still reads every new string right', () => {
    const p = new FlatJsonParser();
    for (let i = 0; i < 70000; i++) assert.equal(parse(p, `{"layer": "l${i}"}`)!.layer, `l${i}`);
  });
});
