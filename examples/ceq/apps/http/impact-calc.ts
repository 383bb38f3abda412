// impact-calc, HTTP flavour: sends the $200,000 tree-planting grant for HWY-94 through its sidecar.
import { mesh } from '../../../../src';

async function sendGrant(project: string, usd: number): Promise<void> {
  const client = mesh.client('grant-pay', 'http'); // service discovery by name, via the sidecar
  const payload = { project, usd };
  const res = await client.post('/payout', payload, { timeoutMs: 2000 });
  console.log('Status:', res.status, 'Trace:', res.trace);
}

async function main(): Promise<void> {
  await mesh.init({ service: 'impact-calc', version: 'v1' });
  await sendGrant('HWY-94', 200_000);
  await mesh.close();
}

void main();
