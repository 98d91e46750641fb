// Log-space helpers of src/dp/logmath.ts against values computed independently at 50 digits
// (mpmath: log(erfc(x)), test/dp/gen-rdp-vectors.py), across the switch points of logErfc's
// three regimes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { log1mExp, logAdd, logErfc, logSub } from '../../src/dp/logmath.ts';

// [x, log(erfc(x))], mpmath.mp.dps = 50 (test/dp/gen-rdp-vectors.py).
const LOG_ERFC: readonly (readonly [number, number])[] = [
  [-30, Math.LN2], // log 2 to double precision
  [-3, 0.6931361352504468],
  [-2.0001, 0.690806609210722],
  [-1, 0.6112323176780705],
  [-0.3, 0.28414589714140825],
  [0, 0],
  [1e-8, -1.1283791734617103e-8],
  [0.5, -0.7350111298370844],
  [1.5, -3.3844920895515527],
  [1.9999, -5.3644994577735305],
  [2, -5.364941264616638],
  [2.0001, -5.365383089934763],
  [3, -10.720363041981113],
  [5, -27.200889545537436],
  [10, -102.87988902484489],
  [27, -732.8688865078974], // erfc(27) underflows a double; its log does not
  [100, -10005.177585122665],
  [1e6, -1000000000014.3878],
];

describe('logErfc', () => {
  it('matches 50-digit reference values to 1e-13 relative', () => {
    for (const [x, expected] of LOG_ERFC) {
      const got = logErfc(x);
      const err = expected === 0 ? Math.abs(got) : Math.abs((got - expected) / expected);
      assert.ok(err < 1e-13, `logErfc(${x}) = ${got}, expected ${expected} (rel err ${err})`);
    }
  });

  it('is monotone decreasing across the regime switches', () => {
    let prev = logErfc(-5);
    for (let x = -5; x <= 40; x += 0.001) {
      const v = logErfc(x);
      assert.ok(v <= prev, `logErfc not decreasing at ${x}`);
      prev = v;
    }
  });

  it('handles the infinities and NaN', () => {
    assert.equal(logErfc(Infinity), -Infinity);
    assert.equal(logErfc(-Infinity), Math.LN2);
    assert.ok(Number.isNaN(logErfc(Number.NaN)));
  });
});

describe('logAdd / logSub / log1mExp', () => {
  it('add and subtract in log space, with log 0 = −∞', () => {
    assert.ok(Math.abs(logAdd(Math.log(2), Math.log(3)) - Math.log(5)) < 1e-15);
    assert.equal(logAdd(-Infinity, 1.5), 1.5);
    assert.equal(logAdd(-Infinity, -Infinity), -Infinity);
    assert.equal(logAdd(1000, 1000), 1000 + Math.LN2); // no overflow
    assert.ok(Math.abs(logSub(Math.log(5), Math.log(3)) - Math.log(2)) < 1e-15);
    assert.equal(logSub(2, 2), -Infinity);
    assert.equal(logSub(2, -Infinity), 2);
    assert.ok(Number.isNaN(logSub(1, 2)));
  });

  it('log1mExp keeps relative accuracy near 0 and far out', () => {
    assert.ok(Math.abs(log1mExp(-1e-20) - Math.log(1e-20)) < 1e-12);
    assert.ok(Math.abs(log1mExp(-50) + Math.exp(-50)) < 1e-35);
    assert.ok(Number.isNaN(log1mExp(1)));
  });
});
