import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decimalToDouble, MAX_EXP10, MIN_EXP10 } from '../../../src/core/readers/decimal';
import { FlatJsonParser, numberRead, readNumber } from '../../../src/core/readers/flatJson';
import { fuzzCases, fuzzSeed, rng } from '../../support/fuzz';

// decimalToDouble gives Number()'s double for the text, bit for bit, or NaN (undecided: the caller uses
// Number()). Checked on seeded random texts of every shape it takes — Python/JS shortest reprs, 17-digit
// toPrecision, random 16–19 digit mantissas over the whole exponent range — and on the halfway cases it
// must hand back.

/** The text's significant digits split as decimalToDouble takes them, or null outside its range. */
function split(text: string): { hi: number; k: number; lo: number; e: number } | null {
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(text);
  const digits = (m[1]! + (m[2] ?? '')).replace(/^0+/, '');
  const e = -(m[2]?.length ?? 0) + Number(m[3] ?? 0);
  if (digits.length === 0 || digits.length > 19) return null;
  const k = Math.max(0, digits.length - 15);
  return { hi: Number(digits.slice(0, digits.length - k)), k, lo: k ? Number(digits.slice(-k)) : 0, e };
}

function randomText(r: () => number, i: number): string {
  switch (i % 5) {
    case 0:
      return String(r() * 10 ** Math.floor(r() * 80 - 40));
    case 1:
      return (r() * 10 ** Math.floor(r() * 540 - 270)).toPrecision(17);
    case 2: {
      let d = String(1 + Math.floor(r() * 9));
      for (let j = 14 + Math.floor(r() * 5); j > 0; j--) d += Math.floor(r() * 10);
      return `${d}e${Math.floor(r() * (MAX_EXP10 - MIN_EXP10 + 1)) + MIN_EXP10}`;
    }
    case 3:
      return (r() * 10 ** Math.floor(r() * 40 - 30)).toPrecision(16 + Math.floor(r() * 4));
    default:
      // float32 values widened and printed in full (what torch .item() of a float32 gives)
      return String(Math.fround(r() * 10 ** Math.floor(r() * 20 - 15)));
  }
}

describe('decimalToDouble', () => {
  it("is Number()'s double on seeded random texts, or NaN (then Number() decides)", () => {
    const r = rng(fuzzSeed(0xdec1));
    let decided = 0;
    let tried = 0;
    for (let i = 0; i < fuzzCases(200_000); i++) {
      const text = randomText(r, i);
      const s = split(text.replace('+', ''));
      if (!s) continue;
      tried++;
      const v = decimalToDouble(s.hi, s.k, s.lo, s.e);
      if (Number.isNaN(v)) continue;
      decided++;
      assert.ok(Object.is(v, Number(text)), `${text}: ${v} ≠ ${Number(text)}`);
    }
    assert.ok(tried > 150_000 && decided / tried > 0.99, `decided ${decided} of ${tried}`);
  });

  it('hands back exact halfway points (ties to even) and exponents out of its range', () => {
    // 2^53 + 1 and 2^53 + 3 lie halfway between two doubles; 47558768675662580 is one's shortest repr and a halfway point
    for (const text of ['9007199254740993', '9007199254740995', '47558768675662580']) {
      const s = split(text)!;
      assert.ok(Number.isNaN(decimalToDouble(s.hi, s.k, s.lo, s.e)), text);
    }
    assert.ok(Number.isNaN(decimalToDouble(1, 0, 0, MAX_EXP10 + 1)));
    assert.ok(Number.isNaN(decimalToDouble(1, 0, 0, MIN_EXP10 - 1)));
    assert.equal(decimalToDouble(1, 0, 0, MAX_EXP10), 1e280);
    assert.equal(decimalToDouble(1, 0, 0, MIN_EXP10), 1e-280);
    assert.equal(decimalToDouble(123456789012345, 4, 6789, -34), Number('1.234567890123456789e-16'));
  });

  it('through FlatJsonParser: every spelling of 16–19 digits, signs, exponents and the halfway cases is JSON.parse’s', () => {
    const r = rng(fuzzSeed(0xdec2));
    const p = new FlatJsonParser();
    const extra = [
      '9007199254740993',
      '-9007199254740995',
      '47558768675662580',
      '1e-300',
      '5e-324',
      '1.7976931348623157e308',
      '-0.0',
      '0.00000000000000000000001234567890123456789',
    ];
    for (let i = 0; i < fuzzCases(20_000); i++) {
      const xs = [randomText(r, i), randomText(r, i + 1), randomText(r, i + 2)].map((t, j) => (j === 1 ? `-${t}` : t));
      xs.push(extra[i % extra.length]!);
      const text = `{"a": ${xs[0]}, "b": ${xs[1]}, "c": [${xs[2]}, ${xs[3]}]}`;
      const b = Buffer.from(text, 'latin1');
      const got = p.parse(b, 0, b.length) as { a: number; b: number; c: number[] };
      const want = JSON.parse(text) as typeof got;
      assert.ok(got, text);
      for (const [g, w] of [
        [got.a, want.a],
        [got.b, want.b],
        [got.c[0], want.c[0]],
        [got.c[1], want.c[1]],
      ])
        assert.ok(Object.is(g, w), `${text}: ${g} ≠ ${w}`);
    }
  });
});

describe('readNumber', () => {
  // Digits are taken four at a time while they go into the first 15 significant ones: every run length
  // before and after the point, leading zeros, and the bytes next to '0'–'9' ('/', ':', '?', 0xff) at each
  // place of a four-byte window must give Number()'s double and stop where the number does.
  it("is Number()'s double, and ends where the number does, for digit runs of every length and what follows them", () => {
    const r = rng(fuzzSeed(0x4d16));
    const digits = (n: number, lead: boolean) =>
      Array.from({ length: n }, (_, i) => (lead && i < n / 3 ? '0' : String(Math.floor(r() * 10)))).join('');
    const after = ['', ',', '/', ':', '?', ' ', 'x', '\u00ff', '"', ']'];
    let checked = 0;
    for (let i = 0; i < fuzzCases(40_000); i++) {
      const intPart = i % 5 === 0 ? '0' : String(1 + Math.floor(r() * 9)) + digits(Math.floor(r() * 22), false);
      const frac = r() < 0.8 ? '.' + digits(1 + Math.floor(r() * 24), r() < 0.5) : '';
      const exp = r() < 0.3 ? `e${r() < 0.5 ? '-' : ''}${Math.floor(r() * 30)}` : '';
      const text = (r() < 0.3 ? '-' : '') + intPart + frac + exp;
      const sep = after[i % after.length]!;
      const tail = sep === '' ? '' : sep + (r() < 0.5 ? '123' : '');
      const pad = 'ab'.slice(0, i % 3);
      const b = Buffer.from(pad + text + tail, 'latin1');
      const v = readNumber(b, pad.length, b.length);
      assert.ok(Object.is(v, Number(text)), `${text}${tail}: ${v} ≠ ${Number(text)}`);
      assert.equal(numberRead.end, pad.length + text.length, text + tail);
      // bounded by `end` inside the digits: what Number() gives for the digits before it
      const cut = pad.length + 1 + Math.floor(r() * (text.length - 1));
      const w = readNumber(b, pad.length, cut);
      const prefix = /^-?\d+(?:\.\d+)?(?:e-?\d+)?/.exec(text.slice(0, cut - pad.length))?.[0];
      if (prefix !== undefined && prefix.length === cut - pad.length) assert.ok(Object.is(w, Number(prefix)), `${prefix}: ${w}`);
      checked++;
    }
    assert.ok(checked > 1000);
    assert.ok(Number.isNaN(readNumber(Buffer.from('0123'), 0, 4)) && Number.isNaN(readNumber(Buffer.from('1.e5'), 0, 4)));
  });
});
