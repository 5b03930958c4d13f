// `npm run bench:hostile` (and part of `npm run bench`): each class of hostile binary input, read in its
// own process, with wall time and peak RSS (/usr/bin/time). The inputs are the campaign's shapes, built by
// test/support/hostileBinary.ts (the same bytes the budget tests check) into bench/.data/hostile/:
// pickles that exhaust an interpreter (200M DUP, 2^24+1 MEMOIZE, a 20M- and a 100M-digit INT, 30M
// EMPTY_LIST, _rebuild_from_type_v2 nested 10,000 deep and calling itself), each in a deflated data.pkl
// of a torch.save zip; an npz of four deflated 240 MB members (~1 MB on disk) read and streamed to the
// last element; safetensors headers of 200k and 1M tensors that all claim the same bytes; a sharded-checkpoint index of 80,000 shards, beside the straightforward peer (a list
// search per entry) on 20,000.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import {
  dupPickle,
  emptyListPickle,
  longIntPickle,
  memoizePickle,
  nestedRebuildPickle,
  npzBomb,
  overlappingSafetensors,
  selfReferencingRebuildPickle,
  torchZipOfPickle,
} from '../test/support/hostileBinary';

const ROOT = resolve(__dirname, '..');
const DATA = join(__dirname, '.data', 'hostile');

interface Case {
  name: string;
  file: string;
  build: () => Uint8Array;
  kind: 'torch' | 'npz' | 'safetensors' | 'index' | 'index-peer';
}

const CASES: Case[] = [
  { name: '.pt: N + 200M DUP (195 KB)', file: 'dup200M.pt', build: () => torchZipOfPickle(dupPickle(200_000_000)), kind: 'torch' },
  {
    name: '.pt: 2^24+1 MEMOIZE',
    file: 'memoize.pt',
    build: () => torchZipOfPickle(memoizePickle(2 ** 24 + 1)),
    kind: 'torch',
  },
  { name: '.pt: INT of 20M digits', file: 'int20M.pt', build: () => torchZipOfPickle(longIntPickle(20_000_000)), kind: 'torch' },
  { name: '.pt: INT of 100M digits', file: 'int100M.pt', build: () => torchZipOfPickle(longIntPickle(100_000_000)), kind: 'torch' },
  {
    name: '.pt: 30M EMPTY_LIST',
    file: 'emptylist.pt',
    build: () => {
      const b = new Uint8Array(30_000_003);
      b.set([0x80, 0x02]);
      b.fill(0x5d, 2, 30_000_002);
      b[30_000_002] = 0x2e;
      return torchZipOfPickle(b);
    },
    kind: 'torch',
  },
  {
    name: '.pt: 30M EMPTY_LIST + POP (containers)',
    file: 'emptylistpop.pt',
    build: () => torchZipOfPickle(emptyListPickle(30_000_000)),
    kind: 'torch',
  },
  {
    name: '.pt: _rebuild_from_type_v2 nested 10,000 deep',
    file: 'nested.pt',
    build: () => torchZipOfPickle(nestedRebuildPickle(10_000)),
    kind: 'torch',
  },
  {
    name: '.pt: _rebuild_from_type_v2 calling itself',
    file: 'selfref.pt',
    build: () => torchZipOfPickle(selfReferencingRebuildPickle(), false),
    kind: 'torch',
  },
  { name: '.npz: four deflated 240 MB members, streamed', file: 'bomb.npz', build: () => npzBomb(4, 60_000_000), kind: 'npz' },
  {
    name: '.safetensors: 200k tensors on the same 8 bytes',
    file: 'overlap200k.safetensors',
    build: () => overlappingSafetensors(200_000),
    kind: 'safetensors',
  },
  {
    name: '.safetensors: 1M tensors on the same 8 bytes',
    file: 'overlap1M.safetensors',
    build: () => overlappingSafetensors(1_000_000),
    kind: 'safetensors',
  },
  { name: 'HF index of 80,000 shards', file: 'index80k/model.safetensors.index.json', build: () => index(80_000), kind: 'index' },
  {
    name: '  peer: a list search per entry, 20,000 shards',
    file: 'index20k/model.safetensors.index.json',
    build: () => index(20_000),
    kind: 'index-peer',
  },
  { name: '  ours, 20,000 shards', file: 'index20k/model.safetensors.index.json', build: () => index(20_000), kind: 'index' },
];

function index(shards: number): Uint8Array {
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < 2 * shards; i++)
    weightMap[`layers.${i}.weight`] = `model-${String(i >> 1).padStart(5, '0')}-of-${shards}.safetensors`;
  return Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

/** In the child process: read one input, print {ms, outcome}. The readers are loaded before the clock starts. */
async function runOne(kind: Case['kind'], path: string): Promise<void> {
  const { readTorchCheckpoint } = await import('../src/core/readers/torch/reader');
  const { readNpz } = await import('../src/core/readers/npz');
  const { TensorChunkReader } = await import('../src/core/io/tensorData');
  const { readSafetensors, readSafetensorsIndex } = await import('../src/core/readers/safetensors');
  const { readFileSync } = await import('node:fs');
  const t0 = performance.now();
  let outcome: string;
  try {
    if (kind === 'torch') {
      const run = await readTorchCheckpoint(path);
      outcome = `read: ${run.snapshots.length} snapshots`;
    } else if (kind === 'npz') {
      const run = await readNpz(path);
      let n = 0;
      for (const ref of run.snapshots[0].tensors) {
        const r = new TensorChunkReader(ref);
        for (let c = await r.next(); c; c = await r.next()) n += c.length;
      }
      outcome = `read and streamed: ${(n / 1e6).toFixed(0)}M elements`;
    } else if (kind === 'safetensors') {
      const run = await readSafetensors(path);
      outcome = `read: ${run.snapshots[0].tensors.length} tensors, ${run.issues.length} issues`;
    } else if (kind === 'index') {
      outcome = `${(await readSafetensorsIndex(path)).shards.length} shards`;
    } else {
      // The straightforward peer: the same walk with a list search per entry.
      const map = (JSON.parse(readFileSync(path, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      const shards: string[] = [];
      for (const file of Object.values(map)) if (!shards.includes(file)) shards.push(file);
      outcome = `${shards.length} shards`;
    }
  } catch (e) {
    outcome = `${(e as Error).name}: ${(e as { reason?: string }).reason ?? (e as Error).message}`;
  }
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0, outcome: outcome.slice(0, 140) }));
}

export async function benchHostileBinary(): Promise<{ name: string; value: string; note: string }[]> {
  mkdirSync(DATA, { recursive: true });
  if (require.main === module)
    console.log(
      `load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} on ${cpus().length} cores`,
    );
  const rows: { name: string; value: string; note: string }[] = [];
  for (const c of CASES) {
    const path = join(DATA, c.file);
    if (!existsSync(path)) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, c.build());
    }
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, '--import', 'tsx', __filename, '--run', c.kind, path], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const lines = r.stderr.trim().split('\n');
    const rss = Number(lines[lines.length - 1]) / 1024;
    let res: { ms: number; outcome: string };
    try {
      res = JSON.parse(r.stdout) as { ms: number; outcome: string };
    } catch {
      res = { ms: NaN, outcome: `crashed (exit ${r.status}): ${lines.slice(-3).join(' ').slice(0, 120)}` };
    }
    const row = { name: c.name, value: `${(res.ms / 1000).toFixed(2)} s, ${rss.toFixed(0)} MB`, note: res.outcome };
    rows.push(row);
    if (require.main === module) console.log(`${row.name.padEnd(50)} ${row.value.padStart(16)}  ${row.note}`);
  }
  return rows;
}

if (require.main === module) {
  const i = process.argv.indexOf('--run');
  if (i >= 0) void runOne(process.argv[i + 1] as Case['kind'], process.argv[i + 2]);
  else
    void benchHostileBinary().catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
