/**
 * examples/ceq as a hand-built MeshModel (positions follow the example files):
 *   impact-calc v1 calls grant-pay and public-docs;
 *   grant-pay v1/v2 split 90/10, circuit breaker 3 failures / 30 s, retries
 *   3 x 500 ms on connect-failure,refused-stream,unavailable,5xx, timeout 2 s,
 *   access allow impact-calc;
 *   public-docs timeout 5 s, access allow impact-calc;
 *   impact-calc rate limit 50 rps.
 */
import type { MeshModel } from '../../src/model/types';
import {
  POLICIES_FILE as P,
  builtinValue,
  allow,
  circuitBreaker,
  defaultPolicies,
  inFile,
  pos,
  service,
  settings,
} from './model-builder';

export function ceqModel(): MeshModel {
  const grantPay = defaultPolicies('grant-pay');
  return {
    dir: '/mesh/ceq',
    displayDir: '.',
    settings: settings(),
    services: [
      service({ name: 'grant-pay', version: 'v2', versions: ['v1', 'v2'], port: 9000, meshPort: 15090,
        endpoints: [{ address: '127.0.0.1', port: 15090, version: 'v2' }] }),
      service({ name: 'impact-calc', port: 8081, meshPort: 15081, calls: ['grant-pay', 'public-docs'] }),
      service({ name: 'public-docs', port: 8083, meshPort: 15083 }),
    ],
    policies: [
      {
        ...grantPay,
        circuitBreaker: circuitBreaker(3, 3, 30),
        access: allow({ caller: 'impact-calc', line: 13 }),
        retries: {
          attempts: inFile(3, P, 19, 5),
          perTryTimeoutMs: inFile(500, P, 20, 5),
          retryOn: inFile(['5xx', 'connect-failure', 'refused-stream', 'unavailable'], P, 21, 5),
          retryNonIdempotent: builtinValue(false),
          pos: pos(P, 18, 3),
        },
        timeouts: { requestMs: inFile(2000, P, 25, 5), pos: pos(P, 24, 3) },
        split: {
          weights: [
            { version: 'v1', weight: 90, pos: pos(P, 33, 7) },
            { version: 'v2', weight: 10, pos: pos(P, 34, 7) },
          ],
          pos: pos(P, 32, 5),
        },
      },
      {
        ...defaultPolicies('impact-calc'),
        rateLimit: { rps: inFile(50, P, 8, 5), burst: { value: 50, from: { kind: 'builtin' } }, pos: pos(P, 7, 3) },
      },
      {
        ...defaultPolicies('public-docs'),
        access: allow({ caller: 'impact-calc', line: 15 }),
        timeouts: { requestMs: inFile(5000, P, 27, 5), pos: pos(P, 26, 3) },
      },
    ],
  };
}
