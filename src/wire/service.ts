/**
 * The gRPC service definition the coordinator registers. It is the generated
 * `SecureAggregationService` except that requests arrive as raw bytes: the coordinator decodes them
 * itself with the strict converters, so a malformed frame becomes an INVALID_ARGUMENT status naming
 * the field instead of the INTERNAL error the generated deserializer would produce.
 * @module
 */
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ClientOptions,
  type Metadata,
  makeGenericClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { type ClientFrame, SecureAggregationService, type ServerFrame } from '../gen/privagg/v1/secagg.ts';

const serializeServerFrame = SecureAggregationService.participate.responseSerialize as (
  value: ServerFrame,
) => Buffer;

/** Participate with a bytes-in, frames-out codec. */
export const participateService: ServiceDefinition = {
  participate: {
    path: SecureAggregationService.participate.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: Uint8Array): Buffer => Buffer.from(value),
    requestDeserialize: (value: Buffer): Uint8Array => value,
    // A frame, or one already encoded (the coordinator encodes a message it sends to many clients
    // once: a PeerKeys frame holds every advertised key).
    responseSerialize: (value: ServerFrame | Uint8Array): Buffer =>
      value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : serializeServerFrame(value),
    responseDeserialize: SecureAggregationService.participate.responseDeserialize,
    originalName: 'participate',
  },
};

/** Bytes of serialized frames a client sent and received, as gRPC messages (before HTTP/2 framing). */
export interface TrafficMeter {
  sentBytes: number;
  receivedBytes: number;
}

/** A Participate client whose calls hand back raw server-frame bytes. */
export type ParticipateClientInstance = Client & {
  participate(
    metadata: Metadata,
    options?: Partial<CallOptions>,
  ): ClientDuplexStream<ClientFrame, Uint8Array>;
};

type ParticipateClientConstructor = new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => ParticipateClientInstance;

const serializeClientFrame = SecureAggregationService.participate.requestSerialize as (
  value: ClientFrame,
) => Buffer;

/**
 * A client class for Participate that hands back raw frame bytes, decoded by the strict converters.
 * With a `meter`, every frame serialized or received by any instance of the class is counted into it
 * (so give each client its own class when you want per-client counts; making one is cheap).
 */
export function participateClientClass(meter?: TrafficMeter): ParticipateClientConstructor {
  return makeGenericClientConstructor(
    {
      participate: {
        ...participateService.participate!,
        requestSerialize: meter
          ? (value: ClientFrame): Buffer => {
              const bytes = serializeClientFrame(value);
              meter.sentBytes += bytes.length;
              return bytes;
            }
          : serializeClientFrame,
        requestDeserialize: SecureAggregationService.participate.requestDeserialize,
        responseSerialize: (value: Uint8Array): Buffer => Buffer.from(value),
        responseDeserialize: meter
          ? (value: Buffer): Uint8Array => {
              meter.receivedBytes += value.length;
              return value;
            }
          : (value: Buffer): Uint8Array => value,
      },
    },
    'privagg.v1.SecureAggregation',
  ) as unknown as ParticipateClientConstructor;
}

/** A client for Participate that hands back raw frame bytes, decoded by the strict converters. */
export const ParticipateClient = participateClientClass();
