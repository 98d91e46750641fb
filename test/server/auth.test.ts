/**
 * Client authentication (src/server/auth.ts): the tokens file is validated strictly, a bearer token
 * names exactly its owner, and the coordinator's `authenticate` hook combines tokens and client
 * certificates. Calls are stand-ins with just the metadata and auth context the hook reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import {
  AuthConfigError,
  bearerToken,
  makeAuthenticate,
  parseTokens,
  tokenOwner,
} from '../../src/server/auth.ts';
import type { Authenticate } from '../../src/server/coordinator.ts';

const TOKENS = { alice: 'alice-token-0123456789abcdef', bob: 'bob-token-0123456789abcdef!' };

function call(authorization: string[] = [], cn?: unknown): Parameters<Authenticate>[0] {
  const metadata = new Metadata();
  for (const value of authorization) metadata.add('authorization', value);
  const certificate = cn === undefined ? undefined : { subject: { CN: cn } };
  return {
    metadata,
    getAuthContext: () => ({ sslPeerCertificate: certificate }),
  } as unknown as Parameters<Authenticate>[0];
}

describe('the tokens file', () => {
  it('maps each valid token to exactly its owner, and nothing else to anyone', () => {
    const table = parseTokens(TOKENS, 'test');
    assert.equal(tokenOwner(table, TOKENS.alice), 'alice');
    assert.equal(tokenOwner(table, TOKENS.bob), 'bob');
    assert.equal(tokenOwner(table, `${TOKENS.alice}x`), undefined);
    assert.equal(tokenOwner(table, TOKENS.alice.slice(0, -1)), undefined);
    assert.equal(tokenOwner(table, ''), undefined);
    assert.deepEqual(table.shortTokens, []);
    assert.deepEqual(parseTokens({ carol: 'short' }, 'test').shortTokens, ['carol']);
  });

  it('is refused when malformed, ambiguous or empty, without quoting any token', () => {
    const bad: [unknown, RegExp][] = [
      [[], /JSON object/],
      [null, /JSON object/],
      ['x', /JSON object/],
      [{}, /names no client/],
      [{ '': 'token-0123456789abcdef' }, /1\.\.255/],
      [{ ['x'.repeat(256)]: 'token-0123456789abcdef' }, /1\.\.255/],
      [{ a: '' }, /token of client 'a'/],
      [{ a: 42 }, /token of client 'a'/],
      [{ a: 'has space-0123456789' }, /visible ASCII/],
      [{ a: 'naïve-0123456789abcdef' }, /visible ASCII/],
      [{ a: 'same-token-0123456789', b: 'same-token-0123456789' }, /'a' and 'b' have the same token/],
    ];
    for (const [value, pattern] of bad) {
      assert.throws(
        () => parseTokens(value, 'test'),
        (error: unknown) =>
          error instanceof AuthConfigError && pattern.test(error.message) && !error.message.includes('-0123'),
        JSON.stringify(value),
      );
    }
  });
});

describe('bearer tokens in metadata', () => {
  it('accepts "Bearer <token>" with any case of the scheme, and nothing else', () => {
    const token = (values: string[]) => bearerToken(call(values).metadata);
    assert.deepEqual(token(['Bearer abc']), { ok: true, token: 'abc' });
    assert.deepEqual(token(['bearer abc']), { ok: true, token: 'abc' });
    assert.match((token([]) as { reason: string }).reason, /^missing bearer token/);
    for (const value of ['abc', 'Basic abc', 'Bearer ', 'Bearer a b', 'Bearerabc']) {
      assert.match((token([value]) as { reason: string }).reason, /^malformed authorization/, value);
    }
    assert.match((token(['Bearer a', 'Bearer b']) as { reason: string }).reason, /more than one/);
  });
});

describe('the authenticate hook', () => {
  const tokens = parseTokens(TOKENS, 'test');

  it('without tokens or client certificates, names nobody (the claimed name is used)', () => {
    assert.deepEqual(makeAuthenticate({})(call()), { ok: true, name: undefined });
  });

  it('with tokens: a valid token names its owner; a missing or wrong one is refused', () => {
    const authenticate = makeAuthenticate({ tokens });
    assert.deepEqual(authenticate(call([`Bearer ${TOKENS.bob}`])), { ok: true, name: 'bob' });
    assert.deepEqual(authenticate(call([`Bearer ${TOKENS.bob}x`])), {
      ok: false,
      reason: 'invalid bearer token',
    });
    const missing = authenticate(call());
    assert.equal(missing.ok, false);
  });

  it('with client certificates: the CN names the client; no certificate or a bad CN is refused', () => {
    const authenticate = makeAuthenticate({ clientCertificates: true });
    assert.deepEqual(authenticate(call([], 'alice')), { ok: true, name: 'alice' });
    assert.deepEqual(authenticate(call()), { ok: false, reason: 'no verified client certificate' });
    for (const cn of [['a', 'b'], '', 'x'.repeat(256), 7]) {
      const result = authenticate(call([], cn));
      assert.equal(result.ok, false, JSON.stringify(cn));
    }
  });

  it('with both: the token and the certificate must name the same client', () => {
    const authenticate = makeAuthenticate({ tokens, clientCertificates: true });
    assert.deepEqual(authenticate(call([`Bearer ${TOKENS.alice}`], 'alice')), { ok: true, name: 'alice' });
    const mismatch = authenticate(call([`Bearer ${TOKENS.bob}`], 'alice'));
    assert.equal(mismatch.ok, false);
    assert.match((mismatch as { reason: string }).reason, /certificate names 'alice'/);
    assert.equal(authenticate(call([`Bearer ${TOKENS.alice}`])).ok, false);
    assert.equal(authenticate(call([], 'alice')).ok, false);
  });
});
