// Run reports (src/fl/report.ts): the JSON holds every round's fields; the SVG charts are well-formed
// XML (checked by a small tag-balance parser: no XML library is a dependency), escape their text,
// draw one path per series, and label both axes; bad chart input is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  lineChartSvg,
  type RoundRecord,
  reportJson,
  roundsChartSvg,
  writeRunReport,
} from '../../src/fl/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'privagg-fl-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROUNDS: RoundRecord[] = [
  { round: 1, clients: 10, dropped: 0, accuracy: 0.62, loss: 1.4, epsilon: 0.8 },
  { round: 2, clients: 10, dropped: 1, accuracy: 0.75, loss: 1.0, epsilon: 1.3 },
  { round: 3, clients: 10, dropped: 2, accuracy: 0.81, loss: 0.8, epsilon: 1.7, trainLoss: 0.7 },
];

/** Throws unless `xml` is one well-formed element: tags balance, attributes quoted, entities known. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const token =
    /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|&(#\d+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);|[<&]/g;
  for (const m of body.matchAll(token)) {
    if (m[0] === '<' || m[0] === '&')
      assert.fail(`stray '${m[0]}' at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (m[2] === undefined) continue; // an entity
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element at ${m.index}`);
    else if (m[4] !== '/') stack.push(m[2]);
    if (stack.length === 0 && m.index + m[0].length < body.trimEnd().length)
      assert.fail('content after the root element');
  }
  assert.equal(stack.length, 0, `unclosed elements: ${stack}`);
}

describe('reports', () => {
  it('writes JSON with every round and an accuracy/ε chart', async () => {
    const report = { meta: { model: 'softmax', clients: 10 }, rounds: ROUNDS };
    const paths = await writeRunReport(join(dir, 'sub', 'run'), report, 'MNIST <softmax> & ε');
    assert.deepEqual(JSON.parse(readFileSync(paths.json, 'utf8')), report);
    const svg = readFileSync(paths.svg, 'utf8');
    assertWellFormed(svg);
    assert.ok(svg.includes('MNIST &#60;softmax&#62; &#38; ε'), 'the title is not escaped');
    assert.ok(svg.includes('test accuracy') && svg.includes('ε (cumulative)'), 'an axis label is missing');
    assert.equal(svg.match(/<path /g)?.length, 2, 'expected one accuracy and one ε line');
    assert.equal(reportJson(report).split('\n').length, 9, 'expected one line per round');
  });

  it('leaves the ε axis out of a run without differential privacy', () => {
    const svg = roundsChartSvg(ROUNDS.map((r) => ({ ...r, epsilon: null })));
    assertWellFormed(svg);
    assert.ok(!svg.includes('ε (cumulative)'), 'an ε axis was drawn without ε');
    assert.equal(svg.match(/<path /g)?.length, 1);
  });

  it('draws accuracy vs ε series on a categorical axis, with ∞ for the non-private baseline', () => {
    const series = ['central', 'central + SecAgg', 'distributed', 'distributed + SecAgg'].map((name, i) => ({
      name,
      points: [1, 2, 4, 8, Number.POSITIVE_INFINITY].map((eps): [number, number] => [
        eps,
        0.6 + 0.05 * i + Math.min(eps, 20) / 100,
      ]),
    }));
    const svg = lineChartSvg({
      title: 'Accuracy vs ε',
      xLabel: 'ε',
      yLabel: 'accuracy',
      series,
      xScale: 'category',
    });
    assertWellFormed(svg);
    assert.equal(svg.match(/<path /g)?.length, 4, 'expected one line per series');
    assert.ok(svg.includes('>∞</text>'), 'the infinite ε is not labelled ∞');
    for (const s of series) assert.ok(svg.includes(`>${s.name}</text>`), `the legend lacks ${s.name}`);
  });

  it('draws a log x axis with a tick per decade', () => {
    const svg = lineChartSvg({
      title: 't',
      xLabel: 'noise multiplier',
      yLabel: 'accuracy',
      xScale: 'log',
      series: [
        {
          name: 's',
          points: [
            [0.1, 0.9],
            [1, 0.8],
            [10, 0.5],
          ],
        },
      ],
    });
    assertWellFormed(svg);
    for (const tick of ['0.1', '1', '10'])
      assert.ok(svg.includes(`>${tick}</text>`), `no tick labelled ${tick}`);
  });

  it('refuses points a log or linear axis cannot place', () => {
    const chart = (xScale: 'log' | 'linear', x: number, y = 1) =>
      lineChartSvg({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        xScale,
        series: [{ name: 's', points: [[x, y]] }],
      });
    assert.throws(() => chart('log', 0), RangeError);
    assert.throws(() => chart('linear', Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => chart('linear', 1, Number.NaN), RangeError);
  });
});
