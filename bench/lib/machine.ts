/** The machine a benchmark ran on, for the report. @module */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export function machineLine(): string {
  const list = cpus();
  const model = list[0]?.model.trim() ?? 'unknown CPU';
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${model}, ${list.length} logical cores (availableParallelism ${availableParallelism()}), ${gib} GiB, Node ${process.version} ${process.platform}-${process.arch}`;
}

/** The 1-minute load average, a hint of noise from other processes. */
export function loadLine(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
}
