// grant-pay, gRPC flavour: a proxyless mesh member (no sidecar). HMS-ACH is a log line.
import { mesh } from '../../../../src'; // first: sets what @grpc/grpc-js-xds reads when it loads
import * as grpc from '@grpc/grpc-js';
import { XdsServer, XdsServerCredentials } from '@grpc/grpc-js-xds';
import { GrantPay, type PayoutReply, type PayoutRequest } from './api';

async function main(): Promise<void> {
  const version = process.env.VERSION ?? 'v2';
  const me = await mesh.init({ service: 'grant-pay', version }); // registers; deregisters on exit
  const server = new XdsServer(); // its listener (mTLS, who may call) comes from the control plane
  server.addService(GrantPay.service, {
    Payout: mesh.unary<PayoutRequest, PayoutReply>((req, call) => {
      console.log(`[ACH] paying $${req.usd} for ${req.project} (caller ${call.caller}, trace ${call.trace})`);
      return { ok: true, version };
    }),
  });
  await me.serve(server, new XdsServerCredentials(grpc.ServerCredentials.createInsecure()));
  console.log(`grant-pay ${version} serving on ${me.listenAddress}`);
}

void main();
