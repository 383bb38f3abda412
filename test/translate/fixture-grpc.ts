/**
 * A mesh with proxyless gRPC members:
 *   ledger (grpc) calls audit (grpc) and grant-pay (http, split 90/10, the ceq
 *   retry and circuit breaker policies);
 *   audit (grpc) allows ledger and has a rate limit (a gap: gRPC cannot limit);
 *   impact-calc (http) calls ledger (an Envoy cluster to a gRPC upstream) and
 *   report (grpc), which allows nobody (the edge must vanish).
 */
import type { MeshModel } from '../../src/model/types';
import { ceqModel } from './fixture-model';
import { POLICIES_FILE as P, allow, defaultPolicies, inFile, pos, service, settings } from './model-builder';

export function grpcModel(): MeshModel {
  const ceq = ceqModel();
  const grantPay = ceq.policies.find((p) => p.service === 'grant-pay')!;
  return {
    dir: '/mesh/grpc',
    displayDir: '.',
    settings: settings({ name: 'ledgers' }),
    services: [
      service({ name: 'audit', protocol: 'grpc', port: 9200, endpoints: [{ address: '10.0.0.7', port: 9200 }] }),
      service({ name: 'grant-pay', version: 'v2', versions: ['v1', 'v2'], port: 9000, meshPort: 15090,
        endpoints: [{ address: '127.0.0.1', port: 15090, version: 'v2' }, { address: '127.0.0.1', port: 15091, version: 'v1' }] }),
      service({ name: 'impact-calc', port: 8081, meshPort: 15081, calls: ['ledger', 'report'] }),
      service({ name: 'ledger', protocol: 'grpc', port: 9100, calls: ['audit', 'grant-pay'],
        endpoints: [{ address: '127.0.0.1', port: 9100 }] }),
      service({ name: 'report', protocol: 'grpc', port: 9300 }),
    ],
    policies: [
      {
        ...defaultPolicies('audit'),
        access: allow({ caller: 'ledger', line: 40 }),
        rateLimit: { rps: inFile(10, P, 45, 5), burst: inFile(20, P, 46, 5), pos: pos(P, 44, 3) },
      },
      { ...grantPay, access: allow({ caller: 'impact-calc', line: 13 }, { caller: 'ledger', line: 13 }) },
      defaultPolicies('impact-calc'),
      { ...defaultPolicies('ledger'), access: allow({ caller: 'impact-calc', line: 50 }) },
      defaultPolicies('report'),
    ],
  };
}
