/**
 * One JSON POST to the control plane's admin API with the member's own
 * certificate; the server must present spiffe://<td>/control-plane. Shared by
 * the registry (registration.ts) and the tap (tap.ts); free of src/xds imports
 * so the SDK stays light.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';

export interface AdminReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface MemberTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export const REQUEST_TIMEOUT_MS = 5_000;

export function postToAdmin(adminUrl: string, trustDomain: string, memberTls: MemberTls | undefined, urlPath: string, body: unknown): Promise<AdminReply> {
  const url = new URL(urlPath, adminUrl);
  const payload = Buffer.from(JSON.stringify(body));
  const headers = { 'content-type': 'application/json', 'content-length': payload.length };
  const expected = `spiffe://${trustDomain}/control-plane`;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          /* not JSON: keep {} */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    };
    const req = memberTls
      ? https.request(url, {
          method: 'POST',
          headers,
          ...memberTls,
          // The control plane's identity is its SPIFFE ID, not a host name.
          checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
            (cert.subjectaltname ?? '').split(/,\s*/).includes(`URI:${expected}`) ? undefined : new Error(`the admin API presented ${cert.subjectaltname ?? 'no SAN'}, not ${expected}`),
        }, onResponse)
      : http.request(url, { method: 'POST', headers }, onResponse);
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
