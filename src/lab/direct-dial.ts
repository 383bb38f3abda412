/**
 * After access is revoked, the caller's mesh config has no route to the
 * callee any more. To show the callee enforces the decision itself, the lab
 * dials grant-pay directly with impact-calc's own certificate, past the
 * mesh's routing: the TLS handshake succeeds (a valid mesh identity) and
 * grant-pay's RBAC answers PERMISSION_DENIED. Plain grpc-js, no xDS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';

export function dialWithIdentity(pkiDir: string, caller: string, callee: string, port: number): Promise<{ code: string; details: string }> {
  const creds = grpc.credentials.createSsl(
    fs.readFileSync(path.join(pkiDir, 'trust-bundle.pem')),
    fs.readFileSync(path.join(pkiDir, 'svc', caller, 'key.pem')),
    fs.readFileSync(path.join(pkiDir, 'svc', caller, 'chain.pem')),
  );
  // The callee's certificate names it by DNS SAN (and SPIFFE URI); we dialled an IP.
  const client = new grpc.Client(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': callee });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/ceq.GrantPay/Payout',
      () => Buffer.alloc(0), // an empty PayoutRequest
      (b: Buffer) => b,
      {},
      { deadline: Date.now() + 3000 },
      (err) => {
        client.close();
        resolve(err ? { code: grpc.status[err.code] ?? String(err.code), details: err.details } : { code: 'OK', details: '' });
      },
    );
  });
}
