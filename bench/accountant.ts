/**
 * Cost of the RDP accountant (src/dp). Prints, for each case, the median wall time of several runs,
 * the cost per tracked order, and the ratio to a baseline measured in the same run: a loop of
 * log-add steps (one Math.exp and one Math.log1p each) as long as all integer-order binomial sums of
 * one compose together — the unavoidable core of the computation — so the ratio is comparable
 * across machines. Run with `node --import tsx bench/accountant.ts`.
 * @module
 */
import { calibrateSigma, DEFAULT_RDP_ORDERS, RdpAccountant } from '../src/dp/index.ts';

const RUNS = 15;

function median(fn: () => void): number {
  fn(); // warm-up, lets the JIT compile
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)]!;
}

// Baseline: as many log-add steps as the integer orders' binomial sums take in one compose.
const terms = DEFAULT_RDP_ORDERS.filter(Number.isInteger).reduce((n, a) => n + a + 1, 0);
let sink = 0;
const baseline = median(() => {
  let acc = 0;
  for (let i = 0; i < terms; i++)
    acc = Math.max(acc, -i * 1e-3) + Math.log1p(Math.exp(-Math.abs(acc + i * 1e-3)));
  sink += acc;
});

/** One line: median ms, ratio to the baseline, and µs per order per compose when `composes` is given. */
function report(name: string, ms: number, composes?: number): void {
  const perOrder =
    composes === undefined
      ? ''
      : `  ${((ms * 1000) / (composes * DEFAULT_RDP_ORDERS.length)).toFixed(1)} µs/order/compose`;
  console.log(
    `${name.padEnd(50)} ${ms.toFixed(2).padStart(8)} ms ${(ms / baseline).toFixed(0).padStart(5)}× baseline${perOrder}`,
  );
}

console.log(
  `baseline: ${terms} log-add steps in ${(baseline * 1000).toFixed(0)} µs; ${DEFAULT_RDP_ORDERS.length} orders; median of ${RUNS} runs`,
);

report(
  'epsilon, 10,000 steps (q=256/60000, σ=1.1)',
  median(() => {
    sink += new RdpAccountant().compose({ q: 256 / 60000, sigma: 1.1 }, 10000).epsilon(1e-5).epsilon;
  }),
  1,
);

report(
  'epsilon, 100 heterogeneous rounds',
  median(() => {
    const accountant = new RdpAccountant();
    for (let round = 0; round < 100; round++) {
      // Cohort size and noise drifting from round to round, as in cross-device FL.
      accountant.compose({ q: 0.001 + (round % 10) * 0.0005, sigma: 0.9 + (round % 7) * 0.05 });
    }
    sink += accountant.epsilon(1e-5).epsilon;
  }),
  100,
);

report(
  'calibrateSigma, ε ≤ 3 (q=256/60000, 14063 steps)',
  median(() => {
    sink += calibrateSigma({ targetEpsilon: 3, delta: 1e-5, q: 256 / 60000, steps: 14063 }).sigma;
  }),
);

if (Number.isNaN(sink)) console.log(''); // keeps the work observable to the optimiser
