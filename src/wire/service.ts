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

/** Participate with a bytes-in, frames-out codec. */
export const participateService: ServiceDefinition = {
  participate: {
    path: SecureAggregationService.participate.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: Uint8Array): Buffer => Buffer.from(value),
    requestDeserialize: (value: Buffer): Uint8Array => value,
    responseSerialize: SecureAggregationService.participate.responseSerialize as (
      value: ServerFrame,
    ) => Buffer,
    responseDeserialize: SecureAggregationService.participate.responseDeserialize,
    originalName: 'participate',
  },
};

/** A client for Participate that hands back raw frame bytes, decoded by the strict converters. */
export const ParticipateClient = makeGenericClientConstructor(
  {
    participate: {
      ...participateService.participate!,
      requestSerialize: SecureAggregationService.participate.requestSerialize as (
        value: ClientFrame,
      ) => Buffer,
      requestDeserialize: SecureAggregationService.participate.requestDeserialize,
      responseSerialize: (value: Uint8Array): Buffer => Buffer.from(value),
      responseDeserialize: (value: Buffer): Uint8Array => value,
    },
  },
  'privagg.v1.SecureAggregation',
) as unknown as new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => Client & {
  participate(
    metadata: Metadata,
    options?: Partial<CallOptions>,
  ): ClientDuplexStream<ClientFrame, Uint8Array>;
};
