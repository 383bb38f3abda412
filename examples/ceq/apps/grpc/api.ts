/** The GrantPay gRPC API shared by both apps, loaded from grant_pay.proto. */
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { EXAMPLES_DIR } from '../../../../src/paths';

export interface PayoutRequest {
  project: string;
  usd: number;
}

export interface PayoutReply {
  ok: boolean;
  version: string;
}

// The .proto is not copied to dist/: read it from the source tree.
const definition = protoLoader.loadSync(path.join(EXAMPLES_DIR, 'ceq', 'apps', 'grpc', 'grant_pay.proto'), { longs: Number, defaults: true });
const ceq = grpc.loadPackageDefinition(definition).ceq as grpc.GrpcObject;

export const GrantPay = ceq.GrantPay as grpc.ServiceClientConstructor;
