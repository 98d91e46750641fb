// The announced privacy of a round (src/dp/announced.ts, src/dp/round-planner.ts) and its context
// bytes (src/wire/context.ts): both sides derive the same vectors; a client refuses announcements
// that are inconsistent with the round or below its floor; clients' encodings decode to the sum of
// the clipped updates plus noise of the promised size; the ledger gets the mechanism's RDP; the
// calibration meets its target and no less noise would.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AnnouncedPrivacy,
  checkAnnouncedPrivacy,
  decodeRelease,
  encodeClientUpdate,
  PrivacyParameterError,
  planMechanism,
  privacyPlan,
} from '../../src/dp/announced.ts';
import { roundCost } from '../../src/dp/budget.ts';
import { DEFAULT_RDP_ORDERS } from '../../src/dp/orders.ts';
import { PrivacyRounds } from '../../src/dp/round-planner.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { roundContext } from '../../src/wire/context.ts';

const rng = (label: string) => new DeterministicRng(`test/dp/announced/${label}`);
const SHAPE = { clients: 10, threshold: 7, maxCorruptClients: 1 };
const D = 100;

function announce(
  mechanism: AnnouncedPrivacy['mechanism'],
  extra: Partial<ConstructorParameters<typeof PrivacyRounds>[0]> = {},
): AnnouncedPrivacy {
  return new PrivacyRounds(
    { mechanism, dimension: D, clip: 1, noiseMultiplier: 1, ...extra },
    rng(`seed-${mechanism}`),
  ).announce(SHAPE);
}

/** The round shape a client sees: vectors as the plan derives them. */
function roundOf(announced: AnnouncedPrivacy, shape = SHAPE) {
  const clients = Array.from({ length: shape.clients }, (_, i) => i + 1);
  return { ...shape, clients, vectors: privacyPlan(announced, shape.clients).vectors };
}

function update(label: string, norm: number): Map<string, Float64Array> {
  const r = rng(label).randomBytes(D);
  const v = Float64Array.from(r, (b) => b / 255 - 0.5);
  const n = Math.hypot(...v);
  for (let i = 0; i < D; i++) v[i] = (v[i]! * norm) / n;
  return new Map([
    ['w', v.subarray(0, 60)],
    ['b', v.subarray(60)],
  ]);
}

function addMod(a: Uint32Array, b: Uint32Array, bits: number): void {
  const mod = 2 ** bits;
  for (let i = 0; i < a.length; i++) a[i] = (a[i]! + b[i]!) % mod;
}

describe('announced privacy', () => {
  it('derives the vectors: clip_count first when adaptive, update padded for distributed DP', () => {
    const d = privacyPlan(announce('distributed-skellam'), SHAPE.clients);
    assert.deepEqual(
      d.vectors.map((v) => [v.name, v.length, v.bits]),
      [['update', 128, 20]],
    );
    const adaptive = announce('distributed-skellam', {
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 2 },
    });
    assert.deepEqual(
      privacyPlan(adaptive, SHAPE.clients).vectors.map((v) => v.name),
      ['clip_count', 'update'],
    );
    const c = privacyPlan(announce('central-gaussian'), SHAPE.clients);
    assert.deepEqual(
      c.vectors.map((v) => [v.name, v.length]),
      [['update', D]],
    );
    // h = t − n_C, and every round gets a fresh rotation seed.
    const a = announce('distributed-skellam');
    assert.equal(a.mechanism === 'distributed-skellam' && a.minNoisyClients, 6);
    const planner = new PrivacyRounds(
      { mechanism: 'distributed-skellam', dimension: D, clip: 1, noiseMultiplier: 1 },
      rng('fresh'),
    );
    const first = planner.announce(SHAPE);
    const second = planner.announce(SHAPE);
    assert.ok(
      first.mechanism === 'distributed-skellam' &&
        second.mechanism === 'distributed-skellam' &&
        Buffer.compare(first.rotationSeed, second.rotationSeed) !== 0,
      'a fresh rotation seed per round',
    );
  });

  it('binds every announced number into the context bytes', () => {
    const base = announce('distributed-skellam');
    assert.ok(base.mechanism === 'distributed-skellam');
    const digest = new Uint8Array(32).fill(7);
    const reference = roundContext(base, digest);
    assert.deepEqual(roundContext(base, digest), reference, 'deterministic');
    assert.equal(roundContext(undefined, undefined).length, 0, 'a plain round has an empty context');
    const variants: AnnouncedPrivacy[] = [
      { ...base, clip: 1.0000001 },
      { ...base, noiseMultiplier: 0.99 },
      { ...base, scale: base.scale * 2 },
      { ...base, bits: 21 },
      { ...base, minNoisyClients: 5 },
      { ...base, dimension: D + 1 },
      { ...base, rotationSeed: new Uint8Array(32) },
      { ...base, clipCount: { bits: 16, bitNoiseStddev: 2 } },
      { ...announce('central-gaussian') },
    ];
    for (const v of variants) {
      assert.notDeepEqual(
        roundContext(v, digest),
        reference,
        `a change must change the context: ${JSON.stringify(v)}`,
      );
    }
    assert.notDeepEqual(roundContext(base, new Uint8Array(32).fill(8)), reference, 'the task digest');
    assert.notDeepEqual(roundContext(base, undefined), reference, 'no task');
  });

  it('a client refuses inconsistent announcements and less noise than its floor', () => {
    const a = announce('distributed-skellam');
    const round = roundOf(a);
    assert.equal(checkAnnouncedPrivacy(a, round), undefined, 'consistent, no policy');
    assert.equal(checkAnnouncedPrivacy(a, round, { minNoiseMultiplier: 1 }), undefined, 'at the floor');
    assert.match(
      checkAnnouncedPrivacy(a, round, { minNoiseMultiplier: 1.01 }) ?? '',
      /below this client's floor/,
    );
    assert.ok(a.mechanism === 'distributed-skellam');
    // A coordinator claiming more noisy clients than t − n_C makes each client add too little noise.
    const inflated = { ...a, minNoisyClients: 7 };
    assert.match(checkAnnouncedPrivacy(inflated, roundOf(inflated)) ?? '', /exceeds t - n_C = 6/);
    assert.match(
      checkAnnouncedPrivacy(a, { ...round, vectors: [{ name: 'update', length: 128, bits: 32 }] }) ?? '',
      /do not match/,
    );
    assert.match(checkAnnouncedPrivacy({ ...a, scale: a.scale * 4 }, round) ?? '', /scale/);
    const central = announce('central-gaussian');
    assert.match(
      checkAnnouncedPrivacy(central, roundOf(central), { minNoiseMultiplier: 0.5 }) ?? '',
      /not accepted/,
    );
    assert.equal(
      checkAnnouncedPrivacy(central, roundOf(central), {
        minNoiseMultiplier: 0.5,
        mechanisms: ['central-gaussian'],
      }),
      undefined,
    );
    assert.match(
      checkAnnouncedPrivacy(undefined, round, { minNoiseMultiplier: 0.5 }) ?? '',
      /no differential privacy/,
    );
    assert.equal(checkAnnouncedPrivacy(undefined, round), undefined, 'no policy, no privacy: allowed');
    // Adaptive clipping: the floor applies to the effective multiplier of update and count together.
    const adaptive = announce('distributed-skellam', {
      adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 2 },
    });
    assert.equal(
      checkAnnouncedPrivacy(adaptive, roundOf(adaptive), { minNoiseMultiplier: 0.999 }),
      undefined,
    );
    assert.ok(privacyPlan(adaptive, 10).effectiveNoiseMultiplier < adaptive.noiseMultiplier, 'split');
    assert.throws(() => privacyPlan({ ...a, rotationSeed: new Uint8Array(31) }, 10), PrivacyParameterError);
  });

  it('central DP: the plan refuses a scale that quantize would refuse, judged in exact arithmetic', () => {
    // 0.1 · 1270 is 127 in binary64 but a little more in exact arithmetic (the double 0.1 exceeds
    // 1/10): a plan that accepted it would let a client accept the round and then fail to encode.
    const central = (scale: number): AnnouncedPrivacy => ({
      mechanism: 'central-gaussian',
      dimension: 2,
      clip: 0.1,
      noiseMultiplier: 1,
      bits: 8,
      scale,
    });
    assert.throws(() => privacyPlan(central(1270), 1), { name: 'PrivacyParameterError', message: /wrap/ });
    const below = 1269.9999999999998; // maxScale(8, 0.1, 1)
    const plan = privacyPlan(central(below), 1);
    // An update of norm exactly C: fl(C·s) is just below 127, so it rounds to 126 or 127, never beyond.
    const { vectors } = encodeClientUpdate(plan, new Map([['w', Float64Array.of(0.1, 0)]]), rng('edge'));
    const [first, second] = vectors[0]!;
    assert.ok(first === 126 || first === 127, `${first}`);
    assert.equal(second, 0);
  });

  for (const mechanism of ['distributed-skellam', 'central-gaussian'] as const) {
    it(`${mechanism}: the decoded release is the sum of the clipped updates plus the promised noise`, () => {
      const a = announce(mechanism, {
        adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 2 },
      });
      const plan = privacyPlan(a, SHAPE.clients);
      const survivors = 8;
      const norms = [0.2, 0.5, 0.9, 1.5, 3, 0.1, 2, 0.7];
      const sums = plan.vectors.map((v) => new Uint32Array(v.length));
      const expected = new Float64Array(D);
      for (let c = 0; c < survivors; c++) {
        const u = update(`u${c}`, norms[c]!);
        const factor = Math.min(1, a.clip / norms[c]!);
        let i = 0;
        for (const t of u.values()) for (const x of t) expected[i++]! += x * factor;
        const encoded = encodeClientUpdate(plan, u, rng(`noise-${mechanism}-${c}`));
        assert.equal(encoded.clipped, norms[c]! > a.clip, `client ${c} clipped iff its norm exceeds C`);
        for (const [k, v] of encoded.vectors.entries()) addMod(sums[k]!, v, plan.vectors[k]!.bits);
      }
      const release = decodeRelease(plan, sums, survivors, rng(`central-${mechanism}`));
      const stddev =
        mechanism === 'distributed-skellam'
          ? plan.skellam!.noiseStddev
          : a.noiseMultiplier * (a.clip + Math.sqrt(D) / a.scale);
      let squared = 0;
      for (let i = 0; i < D; i++) squared += (release.sum[i]! - expected[i]!) ** 2;
      const rms = Math.sqrt(squared / D);
      // The error is the noise (≥ the promised σ; distributed noise from 8 > h clients is a bit more)
      // plus rounding: between 0.8σ and 1.6σ over 100 coordinates.
      assert.ok(rms > 0.8 * stddev && rms < 1.6 * stddev, `rms error ${rms} vs noise σ ${stddev}`);
      // 5 of 8 updates are within C: the noisy fraction is near 5/8.
      const fraction = release.unclippedFraction;
      assert.ok(
        fraction !== undefined && Math.abs(fraction - 5 / 8) < 0.75,
        `unclipped fraction ${fraction}`,
      );
    });
  }

  // Calibration against what the ledger charges: test/dp/calibration.test.ts.
  it('gives the ledger the round RDP: Skellam for distributed, Gaussian for central', () => {
    const orders = DEFAULT_RDP_ORDERS;
    const d = planMechanism(privacyPlan(announce('distributed-skellam'), 10), 1, orders);
    assert.equal(d.kind, 'precomputed');
    const cost = roundCost(d, orders);
    const gaussian = roundCost({ kind: 'gaussian-central', sigma: 1, sensitivity: 1 }, orders);
    // Skellam costs about the Gaussian of the same multiplier at this scale (exactly computed, it can
    // be a hair below it). At integer orders: fractional ones interpolate.
    let compared = 0;
    cost.rdp.forEach((r, i) => {
      if (!Number.isInteger(orders[i]) || orders[i]! > 64) return;
      compared++;
      const g = gaussian.rdp[i]!;
      assert.ok(r >= g * 0.99 && r <= g * 1.1, `order ${orders[i]}: Skellam ${r}, Gaussian ${g}`);
    });
    assert.ok(compared > 10, `compared ${compared} orders`);
    // …and a PLD: the dominating Gaussian mechanism, σ within 1% of z = 1 at this scale.
    assert.ok(cost.pld && cost.pld.event.kind === 'gaussian' && Math.abs(cost.pld.event.sigma - 1) < 0.01);
    assert.equal(d.kind === 'precomputed' && d.params['relation'], 'zero-out');
    const c = planMechanism(privacyPlan(announce('central-gaussian'), 10), 0.1, orders);
    assert.equal(c.kind, 'subsampled-gaussian');
  });

  it('adaptive clipping moves the clip norm toward the target quantile', () => {
    const planner = new PrivacyRounds(
      {
        mechanism: 'distributed-skellam',
        dimension: D,
        clip: 1,
        noiseMultiplier: 1,
        adaptive: { targetQuantile: 0.5, learningRate: 0.2, bitNoiseStddev: 2 },
      },
      rng('adaptive'),
    );
    planner.observe({ sum: new Float64Array(D), unclippedFraction: 1 });
    assert.ok(planner.clip < 1, 'all unclipped: the clip norm shrinks');
    const shrunk = planner.clip;
    planner.observe({ sum: new Float64Array(D), unclippedFraction: 0 });
    assert.ok(planner.clip > shrunk, 'all clipped: it grows');
    const next = planner.announce(SHAPE);
    assert.equal(next.clip, planner.clip, 'the next round announces the new clip norm');
  });
});
