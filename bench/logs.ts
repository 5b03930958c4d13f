// Bench: large logs read whole-process by the CLI (`analyze FILE --json`: read, figures, findings, JSON),
// side by side with the straightforward Python peer reading the same file in the same run:
//   TensorBoard 256 MB (52,721 steps × 120 per-layer tags): protobuf decoding of each Event (the loop a
//     user writes around the TFRecord framing; python3-protobuf with the Event/Summary messages declared
//     at run time, CRCs not checked — favouring the peer), values appended to a list per tag;
//   JSONL 244 MB (291 tensors × 2,000 steps): json.loads per line into lists per (layer, field), and
//     pandas.read_json(lines=True) where pandas is installed;
//   CSV 117 MB (the same records): csv.DictReader into lists per (layer, column).
// Wall time is shared with the other processes of the machine, so each figure is also given over the
// process' CPU time (user + system), and every tool runs twice, the better run kept.
// Run alone: `node --import tsx bench/logs.ts`; `npm run bench` calls benchLogFiles().

import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DATA_DIR, ensureLlamaCsv, ensureLlamaJsonl, ensureTbScalars } from './logData';

const CLI = resolve(__dirname, '..', 'bin', 'optimizer-lens.js');
const PYTHON = '/usr/bin/python3';

export interface LogBenchRow {
  name: string;
  value: string;
  note: string;
}

interface Timed {
  wall: number;
  cpu: number;
  rssMb: number;
  ok: boolean;
  stdout: string;
}

function timed(cmd: string, args: string[]): Timed {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s, m] = last.split(' ').map(Number);
  return { wall, cpu: (u ?? NaN) + (s ?? NaN), rssMb: (m ?? NaN) / 1024, ok: r.status === 0, stdout: r.stdout };
}

function best(cmd: string, args: string[], runs = 2): Timed {
  let out: Timed | null = null;
  for (let i = 0; i < runs; i++) {
    const t = timed(cmd, args);
    if (!t.ok) return t;
    if (out === null || t.cpu < out.cpu) out = t;
  }
  return out!;
}

const TB_PEER = String.raw`
import struct, sys
from collections import defaultdict
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
# Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
# Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
fd = descriptor_pb2.FileDescriptorProto(name="ev.proto", package="ev")
v = fd.message_type.add(name="Value")
v.field.add(name="tag", number=1, type=9, label=1)
v.field.add(name="simple_value", number=2, type=2, label=1)
s = fd.message_type.add(name="Summary")
s.field.add(name="value", number=1, type=11, label=3, type_name=".ev.Value")
e = fd.message_type.add(name="Event")
e.field.add(name="wall_time", number=1, type=1, label=1)
e.field.add(name="step", number=2, type=3, label=1)
e.field.add(name="file_version", number=3, type=9, label=1)
e.field.add(name="summary", number=5, type=11, label=1, type_name=".ev.Summary")
pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
try:
    Event = message_factory.GetMessageClass(pool.FindMessageTypeByName("ev.Event"))
except AttributeError:
    Event = message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("ev.Event"))
series = defaultdict(list)
n = 0
with open(sys.argv[1], "rb") as f:
    while True:
        head = f.read(12)
        if len(head) < 12:
            break
        (length,) = struct.unpack("<Q", head[:8])
        data = f.read(length)
        f.read(4)
        ev = Event()
        ev.ParseFromString(data)
        for val in ev.summary.value:
            series[val.tag].append((ev.step, val.simple_value))
            n += 1
print(n)
`;

const JSONL_PEER = String.raw`
import json, sys
from collections import defaultdict
series = defaultdict(list)
n = 0
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)
        layer = r.get("layer")
        for k, v in r.items():
            if isinstance(v, float):
                series[(layer, k)].append((r["step"], v))
                n += 1
print(n)
`;

const PANDAS_PEER = String.raw`
import sys
import pandas as pd
df = pd.read_json(sys.argv[1], lines=True)
print(int(df.select_dtypes("number").count().sum()))
`;

const CSV_PEER = String.raw`
import csv, sys
from collections import defaultdict
series = defaultdict(list)
n = 0
with open(sys.argv[1], newline="") as f:
    for r in csv.DictReader(f):
        step = int(r["step"])
        layer = r["layer"]
        for k, v in r.items():
            if k in ("step", "layer", "shape", "numel") or v == "":
                continue
            series[(layer, k)].append((step, float(v)))
            n += 1
print(n)
`;

function hasModule(m: string): boolean {
  return spawnSync(PYTHON, ['-c', `import ${m}`]).status === 0;
}

function mbps(bytes: number, s: number): string {
  return `${(bytes / 1e6 / s).toFixed(0)} MB/s`;
}

export function benchLogFiles(): LogBenchRow[] {
  const rows: LogBenchRow[] = [];
  const add = (name: string, value: string, note = ''): void => {
    rows.push({ name, value, note });
    console.log(`${name.padEnd(58)} ${value.padStart(14)}  ${note}`);
  };
  const cases: {
    label: string;
    file: string;
    target: string;
    rssTarget: number;
    peers: { name: string; script: string; needs: string }[];
  }[] = [
    {
      label: 'TensorBoard scalars',
      file: ensureTbScalars(),
      target: '≥ 150 MB/s',
      rssTarget: 200,
      peers: [{ name: 'python protobuf Event loop', script: TB_PEER, needs: 'google.protobuf' }],
    },
    {
      label: 'JSONL long form',
      file: ensureLlamaJsonl(),
      target: '≥ 100 MB/s',
      rssTarget: 300,
      peers: [
        { name: 'python json.loads per line', script: JSONL_PEER, needs: 'json' },
        { name: 'pandas.read_json(lines=True)', script: PANDAS_PEER, needs: 'pandas' },
      ],
    },
    {
      label: 'CSV long form',
      file: ensureLlamaCsv(),
      target: '≥ 100 MB/s',
      rssTarget: 300,
      peers: [{ name: 'python csv.DictReader', script: CSV_PEER, needs: 'csv' }],
    },
  ];
  for (const c of cases) {
    const bytes = statSync(c.file).size;
    // Warm the page cache so every tool reads from memory.
    spawnSync('cat', [c.file], { stdio: ['ignore', 'ignore', 'ignore'] });
    const ours = best(process.execPath, [CLI, 'analyze', c.file, '--json']);
    const size = `${(bytes / 1e6).toFixed(0)} MB`;
    if (!ours.ok) {
      add(`CLI analyze ${c.label} (${size})`, 'failed');
      continue;
    }
    add(`CLI analyze ${c.label} (${size})`, mbps(bytes, ours.cpu), `over CPU time; ${mbps(bytes, ours.wall)} wall; target ${c.target}`);
    add(`CLI analyze ${c.label}: peak RSS`, `${ours.rssMb.toFixed(0)} MB`, `target ≤ ${c.rssTarget} MB`);
    for (const p of c.peers) {
      if (!hasModule(p.needs)) {
        add(`  peer: ${p.name}`, 'skipped', `${PYTHON} has no ${p.needs}`);
        continue;
      }
      const script = join(DATA_DIR, `peer_${p.name.replace(/\W+/g, '_')}.py`);
      writeFileSync(script, p.script);
      const t = best(PYTHON, [script, c.file]);
      if (!t.ok) {
        add(`  peer: ${p.name}`, 'failed');
        continue;
      }
      add(
        `  peer: ${p.name}`,
        mbps(bytes, t.cpu),
        `${mbps(bytes, t.wall)} wall, peak RSS ${t.rssMb.toFixed(0)} MB; the CLI ${(t.cpu / ours.cpu).toFixed(1)}× its speed`,
      );
    }
  }
  return rows;
}

if (process.argv[1] && /bench[\\/]logs\.ts$/.test(process.argv[1])) benchLogFiles();
