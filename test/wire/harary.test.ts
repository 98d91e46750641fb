/**
 * The Harary graph on the wire (proto `NeighbourGraph.harary`, PROTOCOL.md §2.2): an announcement
 * round-trips, the client recomputes the coordinator's configHash, and malformed graph fields are
 * rejected by name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pb from '../../src/gen/privagg/v1/secagg.ts';
import { planGraph } from '../../src/secagg/graph-plan.ts';
import { roundParams } from '../../src/secagg/params.ts';
import type { ClientId } from '../../src/secagg/types.ts';
import { parseServerFrame, roundAnnouncementToFrame } from '../../src/wire/convert.ts';
import { WireFormatError } from '../../src/wire/errors.ts';

const N = 500;
const PLAN = planGraph({ n: N, dropoutRate: 0.1, adversarialRate: 0.05 });
const SELF = 7 as ClientId;
const params = roundParams({
  round: 3,
  serverModel: 'semi-honest',
  threshold: PLAN.threshold,
  maxCorruptClients: PLAN.maxCorruptClients,
  clients: Array.from({ length: N }, (_, i) => i + 1),
  vectors: [{ name: 'v', length: 10, bits: 20 }],
  graph: PLAN.graph,
});

const encode = (frame: pb.ServerFrame) => pb.ServerFrame.encode(frame).finish();

describe('a Harary announcement on the wire', () => {
  it('round-trips, and the client recomputes the same configHash', () => {
    const back = parseServerFrame(encode(roundAnnouncementToFrame(params, SELF)));
    assert.equal(back.type, 'round');
    if (back.type !== 'round') return;
    assert.deepEqual(back.parameters.graph, PLAN.graph);
    const again = roundParams(back.parameters);
    assert.deepEqual(again.configHash, params.configHash);
    assert.equal(again.minSurvivors, PLAN.minSurvivors);
  });

  it('carries degree, min_survivors and security_bits in the harary case', () => {
    const frame = roundAnnouncementToFrame(params, SELF);
    const graph = (frame.frame?.value as pb.RoundAnnouncement).parameters?.graph;
    assert.equal(graph?.kind?.$case, 'harary');
    const harary = PLAN.graph as { degree: number; minSurvivors: number; securityBits: number };
    assert.deepEqual(graph?.kind?.value, {
      degree: harary.degree,
      minSurvivors: harary.minSurvivors,
      securityBits: harary.securityBits,
    });
  });

  for (const [field, value, pattern] of [
    ['degree', 0, /graph\.harary\.degree/],
    ['degree', 1, /graph\.harary\.degree/],
    ['minSurvivors', 0, /graph\.harary\.min_survivors/],
    ['securityBits', 0, /graph\.harary\.security_bits/],
    ['securityBits', 256, /graph\.harary\.security_bits/],
  ] as const) {
    it(`rejects harary.${field} = ${value}`, () => {
      const frame = structuredClone(roundAnnouncementToFrame(params, SELF));
      const graph = (
        frame.frame!.value as unknown as {
          parameters: { graph: { kind: { value: Record<string, number> } } };
        }
      ).parameters.graph;
      graph.kind.value[field] = value;
      assert.throws(
        () => parseServerFrame(encode(frame)),
        (error: unknown) => {
          assert.ok(error instanceof WireFormatError);
          assert.match(error.message, pattern);
          return true;
        },
      );
    });
  }

  it('rejects a graph with no kind', () => {
    const frame = structuredClone(roundAnnouncementToFrame(params, SELF));
    (frame.frame!.value as unknown as { parameters: { graph: object } }).parameters.graph = {};
    assert.throws(() => parseServerFrame(encode(frame)), /graph\.kind/);
  });
});
