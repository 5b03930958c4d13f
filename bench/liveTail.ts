// A followed log growing at 1 MB/s in the analysis process, as the extension drives it (client.ts): the
// 291-tensor × 2,000-step JSONL log (scripts/llama-log.mjs) opened in follow mode, then one 291-line step
// (≈ 127 KB) appended every 125 ms and a tail request every 400 ms (the host's debounce is 300 ms), with a
// whole-run pass every 30 s as the host asks for a log that never pauses. Prints per request kind the
// answer time (wall) and the analysis process's and this process's CPU time. Run: node --import tsx bench/liveTail.ts

import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnalysisProcess } from '../src/extension/analysis/client';
import { DEFAULT_LIMITS } from '../src/extension/analysis/limits';
import { buildAnalysisProcess } from '../test/support/analysisBundle';
// @ts-expect-error: a plain .mjs script without types
import { llamaStepText, writeLlamaLog } from '../scripts/llama-log.mjs';

const SECONDS = Number(process.env.LIVE_SECONDS ?? 30);

function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime in clock ticks (100 Hz)
}

function stats(xs: number[]): string {
  if (!xs.length) return '—';
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[s.length >> 1].toFixed(0)} ms, ${s[0].toFixed(0)}–${s[s.length - 1].toFixed(0)} ms (${s.length})`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ol-live-'));
  try {
    const modulePath = await buildAnalysisProcess(dir);
    const log = join(dir, 'optimizer_lens.jsonl');
    writeLlamaLog(log);
    const proc = new AnalysisProcess(modulePath, DEFAULT_LIMITS);
    let t = Date.now();
    await proc.analyze([log], {}, true);
    console.log(`first analysis: ${Date.now() - t} ms`);
    let next = 20010;
    const writer = setInterval(() => {
      appendFileSync(log, llamaStepText(next, { last: 20000 }));
      next += 10;
    }, 125);
    const fast: number[] = [];
    const full: number[] = [];
    const childCpu0 = cpuMsOf(proc.pid!);
    const hostCpu0 = process.cpuUsage();
    const end = Date.now() + SECONDS * 1000;
    let lastFull = Date.now();
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 400));
      const wantFull = Date.now() - lastFull > 30_000;
      t = Date.now();
      const a = await proc.tail(wantFull);
      (wantFull ? full : fast).push(Date.now() - t);
      if (wantFull) lastFull = Date.now();
      if (!a.analysis.result.steps.length) throw new Error('no steps');
    }
    clearInterval(writer);
    const host = process.cpuUsage(hostCpu0);
    console.log(`fast refresh: ${stats(fast)}`);
    console.log(`whole-run pass: ${stats(full)}`);
    console.log(
      `CPU over ${SECONDS} s: analysis process ${(cpuMsOf(proc.pid!) - childCpu0).toFixed(0)} ms, host ${((host.user + host.system) / 1000).toFixed(0)} ms`,
    );
    proc.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
