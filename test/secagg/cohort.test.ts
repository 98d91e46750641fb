/**
 * The malicious setting's cohort (docs/PROTOCOL.md §2.3): names and identity keys per id, validated by
 * `roundParams`, bound into configHash, and the keys every signature is checked against. An impostor —
 * a client that took an enrolled name without its key — is dropped at the advertise stage and the
 * round goes on without it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CohortMember, encodeCohort } from '../../src/secagg/cohort.ts';
import { Ed25519Signer } from '../../src/secagg/crypto/ed25519.ts';
import { concatBytes, str, u32 } from '../../src/secagg/encoding.ts';
import { ProtocolViolation } from '../../src/secagg/errors.ts';
import type { AdvertiseKeysMessage } from '../../src/secagg/messages.ts';
import { ParameterError, roundParams } from '../../src/secagg/params.ts';
import { DeterministicRng } from '../../src/secagg/rng.ts';
import { advertiseTranscript } from '../../src/secagg/transcript.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { simulateRound } from '../../src/sim/round.ts';
import { makeInputs, plainSum, rngFor, TWO_VECTORS } from './harness.ts';

const IDS = [1, 2, 3, 4, 5, 6] as ClientId[];
const LABEL = 'cohort-test';

/** The identity key the simulator will draw for each client: the first 32 bytes of its stream. */
function cohortOf(ids: readonly ClientId[], label = LABEL): CohortMember[] {
  return ids.map((id) => ({
    id,
    name: `client-${id}`,
    identityKey: Ed25519Signer.generate(new DeterministicRng(`${label}/client/${id}`)).publicKey,
  }));
}

const base = {
  round: 3,
  serverModel: 'malicious' as const,
  threshold: 4,
  clients: IDS,
  vectors: TWO_VECTORS,
};

const invalid = (pattern: RegExp) => (error: unknown) =>
  error instanceof ParameterError && error.problem === 'invalid' && pattern.test(error.message);

describe('the cohort in the round parameters (§2.3)', () => {
  it('is sorted by id, copied, and appended to the configHash preimage', () => {
    const cohort = cohortOf(IDS);
    const params = roundParams({ ...base, cohort: [...cohort].reverse() });
    assert.deepEqual(
      params.cohort?.map((m) => m.id),
      IDS,
    );
    cohort[0]!.identityKey.fill(7);
    assert.notDeepEqual(params.cohort?.[0]?.identityKey, cohort[0]!.identityKey, 'the keys are copies');
    const without = roundParams(base);
    assert.equal(without.cohort, undefined);
    assert.notDeepEqual(params.configHash, without.configHash);
    const fresh = cohortOf(IDS);
    assert.deepEqual(
      encodeCohort(params.cohort!),
      concatBytes(u32(6), ...fresh.flatMap((m) => [u32(m.id), str(m.name), m.identityKey])),
    );
  });

  it('binds every name and key: changing one changes configHash', () => {
    const hash = roundParams({ ...base, cohort: cohortOf(IDS) }).configHash;
    const renamed = cohortOf(IDS).map((m) => (m.id === 4 ? { ...m, name: 'mallory' } : m));
    const rekeyed = cohortOf(IDS).map((m) => (m.id === 4 ? { ...m, identityKey: new Uint8Array(32) } : m));
    // Two names swapped between ids: the same set of members, another table.
    const swapped = cohortOf(IDS).map((m) => ({
      ...m,
      name: m.id === 1 ? 'client-2' : m.id === 2 ? 'client-1' : m.name,
    }));
    for (const cohort of [renamed, rekeyed, swapped]) {
      assert.notDeepEqual(roundParams({ ...base, cohort }).configHash, hash);
    }
  });

  it('refuses malformed cohorts, and any cohort in the semi-honest setting', () => {
    const cohort = cohortOf(IDS);
    const cases: [CohortMember[], RegExp][] = [
      [cohort.slice(1), /5 members but the round has 6 clients/],
      [cohort.map((m) => (m.id === 3 ? { ...m, id: 7 as ClientId } : m)), /expected client/],
      [cohort.map((m) => (m.id === 3 ? { ...m, name: '' } : m)), /name of client 3 must be 1\.\.255/],
      [cohort.map((m) => (m.id === 3 ? { ...m, name: 'é'.repeat(128) } : m)), /1\.\.255 UTF-8 bytes/],
      [cohort.map((m) => (m.id === 3 ? { ...m, name: 'client-2' } : m)), /named the same/],
      [cohort.map((m) => (m.id === 3 ? { ...m, identityKey: new Uint8Array(31) } : m)), /must be 32 bytes/],
      [
        cohort.map((m) => (m.id === 3 ? { ...m, identityKey: cohort[0]!.identityKey } : m)),
        /client 3 has the same identity key as another/,
      ],
    ];
    for (const [bad, pattern] of cases) {
      assert.throws(() => roundParams({ ...base, cohort: bad }), invalid(pattern), String(pattern));
    }
    assert.throws(
      () => roundParams({ ...base, serverModel: 'semi-honest', cohort }),
      invalid(/malicious setting only/),
    );
  });
});

describe('a malicious round with a cohort', () => {
  it('completes with the keys the cohort announces, and sums exactly', () => {
    const params = roundParams({ ...base, cohort: cohortOf(IDS) });
    const inputs = makeInputs(params, 'cohort-inputs');
    const report = simulateRound({ params, inputs, rngFor: rngFor(LABEL) });
    assert.equal(report.result.status, 'ok');
    assert.deepEqual(report.clientErrors.size, 0);
    if (report.result.status === 'ok') assert.deepEqual(report.result.sums, plainSum(params, inputs, IDS));
  });

  it('drops an impostor (the name without the key) at advertise; the others complete without it', () => {
    const params = roundParams({ ...base, cohort: cohortOf(IDS) });
    const inputs = makeInputs(params, 'cohort-inputs');
    // Client 5's seat is taken by someone who holds another key: its advertisement is signed with it.
    const impostor = Ed25519Signer.generate(new DeterministicRng('impostor'));
    const report = simulateRound({
      params,
      inputs,
      rngFor: rngFor(LABEL),
      forge: (from, message) => {
        if (from !== 5 || message.type !== 'advertise') return message;
        const advert = message as AdvertiseKeysMessage;
        const signed = advertiseTranscript(params.configHash, from, advert.cPk, advert.sPk);
        return { ...advert, signature: impostor.sign(signed) };
      },
    });
    assert.equal(report.result.status, 'ok');
    assert.equal(report.result.dropped.get(5 as ClientId), 'advertise');
    assert.ok(
      report.violations.some(
        (v) => v instanceof ProtocolViolation && v.client === 5 && /signature/.test(v.message),
      ),
    );
    const survivors = IDS.filter((id) => id !== 5);
    if (report.result.status === 'ok') {
      assert.deepEqual(report.result.survivors, survivors);
      assert.deepEqual(report.result.sums, plainSum(params, inputs, survivors));
    }
  });

  it('a client that sends a garbage consistency signature is dropped at that stage, not the round', () => {
    const params = roundParams({ ...base, cohort: cohortOf(IDS) });
    const inputs = makeInputs(params, 'cohort-inputs');
    const report = simulateRound({
      params,
      inputs,
      rngFor: rngFor(LABEL),
      forge: (from, message) =>
        from === 3 && message.type === 'consistency'
          ? { ...message, signature: new Uint8Array(64).fill(9) }
          : message,
    });
    assert.equal(report.result.status, 'ok');
    assert.ok(report.violations.some((v) => v.client === 3 && /consistency signature/.test(v.message)));
    assert.equal(report.clientErrors.size, 0, 'no honest client refused');
    // Its masked input was already in (it is in U3): the others' shares remove its self mask.
    if (report.result.status === 'ok') assert.deepEqual(report.result.sums, plainSum(params, inputs, IDS));
  });

  it('a client whose own key is not the cohort’s cannot even start (local misuse, nothing sent)', () => {
    const cohort = cohortOf(IDS).map((m) =>
      m.id === 2 ? { ...m, identityKey: cohortOf([9 as ClientId])[0]!.identityKey } : m,
    );
    const params = roundParams({ ...base, cohort });
    assert.throws(
      () => simulateRound({ params, inputs: makeInputs(params), rngFor: rngFor(LABEL) }),
      /identity key listed for client 2 is not this client's|the identity key given for client 2 is not the cohort's/,
    );
  });
});
