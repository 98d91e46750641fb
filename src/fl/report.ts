/**
 * Run reports: one JSON file of per-round figures, and self-contained SVG charts (no scripts, fonts
 * or external references) that open in any browser and render on GitHub. The SVG is written by hand
 * as strings — a chart library would be a large dependency for two line charts — and every piece of
 * text is XML-escaped, so a series named `a < b & c` still gives a well-formed file.
 *
 * - {@link roundsChartSvg}: test accuracy (left axis, 0–1) and cumulative ε (right axis) by round.
 * - {@link lineChartSvg}: a generic multi-series line chart, e.g. accuracy against ε for the
 *   privacy benchmark (central vs distributed noise, with and without secure aggregation), with a
 *   linear, logarithmic or categorical x axis. The categorical axis spaces the distinct x values
 *   evenly, which reads well for ε ∈ {0.5, 1, 2, 4, 8, ∞}: the non-private baseline (x = Infinity)
 *   becomes the last category, labelled ∞.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One round of a run. */
export interface RoundRecord {
  /** 1-based round number. */
  readonly round: number;
  /** Clients selected for the round. */
  readonly clients: number;
  /** Selected clients whose update did not make it into the aggregate. */
  readonly dropped: number;
  /** Test accuracy after the round, in [0, 1]. */
  readonly accuracy: number;
  /** Test loss after the round. */
  readonly loss: number;
  /** Cumulative ε spent after the round, or null without differential privacy. */
  readonly epsilon: number | null;
  /** Mean training loss of the clients that reported, if known. */
  readonly trainLoss?: number;
}

/** A run: its settings (free-form, JSON-serialisable) and its rounds. */
export interface RunReport {
  readonly meta: Readonly<Record<string, unknown>>;
  readonly rounds: readonly RoundRecord[];
}

/** One line of a {@link lineChartSvg}. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [x: number, y: number])[];
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** 'linear' (default), 'log' (x > 0), or 'category' (distinct x values evenly spaced). */
  readonly xScale?: 'linear' | 'log' | 'category';
  /** Fixed y range; by default [0, 1] when every y is in it (accuracies), else the data's range. */
  readonly yRange?: readonly [number, number];
}

const WIDTH = 640;
const HEIGHT = 380;
const MARGIN = { left: 64, right: 64, top: 40, bottom: 84 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const LEGEND_PER_ROW = 3;
const LEGEND_ROW = 16;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

/** The report as pretty JSON (rounds one per line, for diffs). */
export function reportJson(report: RunReport): string {
  const rounds = report.rounds.map((r) => `    ${JSON.stringify(r)}`).join(',\n');
  return `{\n  "meta": ${JSON.stringify(report.meta)},\n  "rounds": [\n${rounds}\n  ]\n}\n`;
}

/**
 * Writes `<base>.json` (the report) and `<base>.svg` (the accuracy/ε chart), creating the directory.
 * @returns the two paths
 */
export async function writeRunReport(
  base: string,
  report: RunReport,
  title = 'Federated training',
): Promise<{ json: string; svg: string }> {
  const json = `${base}.json`;
  const svg = `${base}.svg`;
  await mkdir(dirname(json), { recursive: true });
  await writeFile(json, reportJson(report));
  await writeFile(svg, roundsChartSvg(report.rounds, title));
  return { json, svg };
}

/**
 * Accuracy (left axis, 0–1) and ε (right axis, from 0) by round, as one SVG document. Rounds with
 * ε = null draw no ε point; with no ε at all the right axis is left out.
 */
export function roundsChartSvg(rounds: readonly RoundRecord[], title = 'Federated training'): string {
  const xs = rounds.map((r) => r.round);
  const [x0, x1] = xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const xTicks = niceTicks(x0, x1 === x0 ? x0 + 1 : x1, 8).filter(
    (t) => Number.isInteger(t) && t >= x0 && t <= x1,
  );
  const xPos = linear(x0, x1 === x0 ? x0 + 1 : x1, MARGIN.left, MARGIN.left + PLOT_W);
  const accY = linear(0, 1, MARGIN.top + PLOT_H, MARGIN.top);
  const eps = rounds.filter((r) => r.epsilon !== null && Number.isFinite(r.epsilon));
  const epsMax = Math.max(0, ...eps.map((r) => r.epsilon!));
  const epsTicks = niceTicks(0, epsMax > 0 ? epsMax : 1, 5);
  const epsY = linear(0, epsTicks.at(-1)!, MARGIN.top + PLOT_H, MARGIN.top);

  const parts: string[] = [frame()];
  parts.push(...xTicks.map((t) => xTick(xPos(t), fmt(t))));
  parts.push(...niceTicks(0, 1, 5).map((t) => yTick(accY(t), fmt(t), 'left')));
  parts.push(axisLabel('x', 'round'), axisLabel('left', 'test accuracy', COLOURS[0]!));
  parts.push(
    path(
      rounds.map((r) => [xPos(r.round), accY(r.accuracy)]),
      COLOURS[0]!,
      '',
    ),
  );
  const legend: [string, string, string][] = [['accuracy', COLOURS[0]!, '']];
  if (eps.length > 0) {
    parts.push(...epsTicks.map((t) => yTick(epsY(t), fmt(t), 'right')));
    parts.push(axisLabel('right', 'ε (cumulative)', COLOURS[1]!));
    parts.push(
      path(
        eps.map((r) => [xPos(r.round), epsY(r.epsilon!)]),
        COLOURS[1]!,
        DASHES[1]!,
      ),
    );
    legend.push(['ε', COLOURS[1]!, DASHES[1]!]);
  }
  parts.push(legendBox(legend), '</svg>\n');
  return [svgOpen(title, legend.length), ...parts].join('\n');
}

/**
 * A multi-series line chart as one SVG document.
 * @throws RangeError for a log axis with an x ≤ 0, or a non-finite y
 * @example
 * ```ts
 * lineChartSvg({ title: 'Accuracy vs ε', xLabel: 'ε', yLabel: 'accuracy', xScale: 'category',
 *   series: [{ name: 'central DP', points: [[1, 0.80], [8, 0.88], [Infinity, 0.9]] }] });
 * ```
 */
export function lineChartSvg(options: LineChartOptions): string {
  const { title, xLabel, yLabel, series } = options;
  const scale = options.xScale ?? 'linear';
  const all = series.flatMap((s) => s.points);
  for (const [x, y] of all) {
    if (!Number.isFinite(y)) throw new RangeError(`every y must be finite, got ${y}`);
    if (scale !== 'category' && !Number.isFinite(x))
      throw new RangeError(`x must be finite on a ${scale} axis, got ${x}`);
    if (scale === 'log' && !(x > 0)) throw new RangeError(`x must be > 0 on a log axis, got ${x}`);
  }
  const ys = all.map(([, y]) => y);
  const [yMin, yMax] =
    options.yRange ??
    (ys.length > 0 && ys.every((y) => y >= 0 && y <= 1) ? [0, 1] : [Math.min(0, ...ys), Math.max(1, ...ys)]);
  const yTicks = niceTicks(yMin, yMax, 5);
  const yPos = linear(yTicks[0]!, yTicks.at(-1)!, MARGIN.top + PLOT_H, MARGIN.top);

  let xPos: (x: number) => number;
  let ticks: [number, string][];
  if (scale === 'category') {
    const values = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
    const step = PLOT_W / Math.max(values.length, 1);
    const at = new Map(values.map((v, i) => [v, MARGIN.left + step * (i + 0.5)]));
    xPos = (x) => at.get(x)!;
    ticks = values.map((v) => [xPos(v), v === Infinity ? '∞' : fmt(v)]);
  } else if (scale === 'log') {
    const xs = all.map(([x]) => Math.log10(x));
    const lo = Math.floor(Math.min(0, ...xs));
    const hi = Math.ceil(Math.max(lo + 1, ...xs));
    const pos = linear(lo, hi, MARGIN.left, MARGIN.left + PLOT_W);
    xPos = (x) => pos(Math.log10(x));
    ticks = [];
    for (let e = lo; e <= hi; e++) ticks.push([pos(e), fmt(10 ** e)]);
  } else {
    const xs = all.map(([x]) => x);
    const t = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs), 8);
    const pos = linear(t[0]!, t.at(-1)!, MARGIN.left, MARGIN.left + PLOT_W);
    xPos = pos;
    ticks = t.map((v) => [pos(v), fmt(v)]);
  }

  const parts: string[] = [frame()];
  parts.push(...ticks.map(([x, label]) => xTick(x, label)));
  parts.push(...yTicks.map((t) => yTick(yPos(t), fmt(t), 'left')));
  parts.push(axisLabel('x', xLabel), axisLabel('left', yLabel));
  const legend: [string, string, string][] = [];
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[Math.floor(i / COLOURS.length) % DASHES.length]!;
    const points = [...s.points]
      .sort((a, b) => a[0] - b[0])
      .map(([x, y]): [number, number] => [xPos(x), yPos(y)]);
    parts.push(path(points, colour, dash));
    legend.push([s.name, colour, dash]);
  });
  parts.push(legendBox(legend), '</svg>\n');
  return [svgOpen(title, legend.length), ...parts].join('\n');
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The document's opening: its size grows by a legend row for every three series beyond six. */
function svgOpen(title: string, legendEntries: number): string {
  const height = HEIGHT + Math.max(0, Math.ceil(legendEntries / LEGEND_PER_ROW) - 2) * LEGEND_ROW;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `font-family="sans-serif" font-size="12">\n<title>${escapeXml(title)}</title>\n` +
    `<rect width="${WIDTH}" height="${height}" fill="white"/>\n` +
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`
  );
}

function frame(): string {
  return `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#444"/>`;
}

function xTick(x: number, label: string): string {
  const y = MARGIN.top + PLOT_H;
  return (
    `<line x1="${r(x)}" y1="${y}" x2="${r(x)}" y2="${y + 5}" stroke="#444"/>` +
    `<text x="${r(x)}" y="${y + 18}" text-anchor="middle">${escapeXml(label)}</text>`
  );
}

function yTick(y: number, label: string, side: 'left' | 'right'): string {
  const x = side === 'left' ? MARGIN.left : MARGIN.left + PLOT_W;
  const dx = side === 'left' ? -5 : 5;
  const anchor = side === 'left' ? 'end' : 'start';
  const grid =
    side === 'left'
      ? `<line x1="${MARGIN.left}" y1="${r(y)}" x2="${MARGIN.left + PLOT_W}" y2="${r(y)}" stroke="#e5e5e5"/>`
      : '';
  return (
    grid +
    `<line x1="${x}" y1="${r(y)}" x2="${x + dx}" y2="${r(y)}" stroke="#444"/>` +
    `<text x="${x + 2 * dx}" y="${r(y + 4)}" text-anchor="${anchor}">${escapeXml(label)}</text>`
  );
}

function axisLabel(axis: 'x' | 'left' | 'right', text: string, colour = '#000'): string {
  const t = escapeXml(text);
  if (axis === 'x') {
    return `<text x="${MARGIN.left + PLOT_W / 2}" y="${MARGIN.top + PLOT_H + 38}" text-anchor="middle">${t}</text>`;
  }
  const x = axis === 'left' ? 18 : WIDTH - 14;
  const y = MARGIN.top + PLOT_H / 2;
  return `<text x="${x}" y="${y}" text-anchor="middle" fill="${colour}" transform="rotate(-90 ${x} ${y})">${t}</text>`;
}

function path(points: readonly (readonly [number, number])[], colour: string, dash: string): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${r(x)} ${r(y)}`).join(' ');
  const dashAttr = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
  const dots = points
    .map(([x, y]) => `<circle cx="${r(x)}" cy="${r(y)}" r="2.5" fill="${colour}"/>`)
    .join('');
  return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dashAttr}/>${dots}`;
}

/** The legend, below the x axis label, three entries per row. */
function legendBox(entries: readonly [string, string, string][]): string {
  const y0 = MARGIN.top + PLOT_H + 56;
  const colW = PLOT_W / LEGEND_PER_ROW;
  return entries
    .map(([name, colour, dash], i) => {
      const x = MARGIN.left + (i % LEGEND_PER_ROW) * colW;
      const y = y0 + Math.floor(i / LEGEND_PER_ROW) * LEGEND_ROW;
      const dashAttr = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
      return (
        `<line x1="${r(x)}" y1="${y}" x2="${r(x + 24)}" y2="${y}" stroke="${colour}" stroke-width="2"${dashAttr}/>` +
        `<text x="${r(x + 30)}" y="${y + 4}">${escapeXml(name)}</text>`
      );
    })
    .join('\n');
}

/** A map from [d0, d1] to [r0, r1]. */
function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** About `count` round-numbered ticks covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}
