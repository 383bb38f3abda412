// impact-calc, gRPC flavour: sends the $200,000 tree-planting grant for HWY-94 through grant-pay.
import { mesh, MeshCallError } from '../../../../src';
import { GrantPay, type PayoutReply } from './api';

async function sendGrant(project: string, usd: number): Promise<void> {
  const grantPay = mesh.client('grant-pay', GrantPay); // xds:///grant-pay: discovery, mTLS, retries from the mesh
  try {
    const res = await grantPay.call<PayoutReply>('Payout', { project, usd }, { timeoutMs: 2000 });
    console.log('Status: OK', 'Trace:', res.trace, `(grant-pay ${res.response.version}, ${res.elapsedMs.toFixed(0)} ms)`);
  } catch (err) {
    if (!(err instanceof MeshCallError)) throw err;
    console.log('Status:', err.codeName, 'Trace:', err.trace, `(${err.elapsedMs.toFixed(0)} ms: ${err.details})`);
  }
}

async function main(): Promise<void> {
  await mesh.init({ service: 'impact-calc', version: 'v1' });
  const every = Number(process.env.EVERY_MS ?? 0); // the lab sends a payout every EVERY_MS ms
  if (every > 0) setInterval(() => void sendGrant('HWY-94', 200_000), every);
  else await sendGrant('HWY-94', 200_000).finally(() => mesh.close());
}

void main();
