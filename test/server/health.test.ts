/**
 * The grpc.health.v1 service (src/server/health.ts) over loopback gRPC: Check answers known services
 * and NOT_FOUND otherwise; Watch sends the status at once, then each change, and ends on shutdown.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import {
  type HealthCheckResponse,
  HealthClient,
  HealthCheckResponse_ServingStatus as Serving,
} from '../../src/gen/grpc/health/v1/health.ts';
import { HealthService, healthServiceDefinition } from '../../src/server/health.ts';

describe('grpc.health.v1.Health', () => {
  const health = new HealthService(['privagg.v1.SecureAggregation'], 'SERVING');
  const server = new Server();
  let client: HealthClient;

  before(async () => {
    server.addService(healthServiceDefinition, health.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  const check = (service: string) =>
    new Promise<HealthCheckResponse>((resolve, reject) =>
      client.check({ service }, (error, response) => (error ? reject(error) : resolve(response))),
    );

  it('Check: SERVING for the server and the coordinator service, NOT_FOUND for others', async () => {
    assert.equal((await check('')).status, Serving.SERVING);
    assert.equal((await check('privagg.v1.SecureAggregation')).status, Serving.SERVING);
    await assert.rejects(
      check('grpc.other.Service'),
      (error: { code?: number }) => error.code === status.NOT_FOUND,
    );
  });

  it('Watch: the status now, each change, SERVICE_UNKNOWN for an unknown name; shutdown ends it', async () => {
    const watch = client.watch({ service: '' });
    const unknown = client.watch({ service: 'nope' });
    const seen: number[] = [];
    watch.on('data', (response: HealthCheckResponse) => seen.push(response.status));
    const [first] = (await once(unknown, 'data')) as [HealthCheckResponse];
    assert.equal(first.status, Serving.SERVICE_UNKNOWN);
    while (seen.length < 1) await new Promise((resolve) => setImmediate(resolve));
    health.setAll('NOT_SERVING');
    while (seen.length < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [Serving.SERVING, Serving.NOT_SERVING]);
    assert.equal((await check('')).status, Serving.NOT_SERVING);
    const ended = Promise.all([once(watch, 'end'), once(unknown, 'end')]);
    health.shutdown();
    await ended;
    health.setAll('SERVING');
  });
});
