/**
 * Client side of the admin API, for `mesh apply`, `mesh status` and the SDK's
 * registry calls: HTTPS with the caller's own mesh certificate, and the server
 * must prove it is the control plane (URI SAN spiffe://<td>/control-plane).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { UserError } from '../diag/errors';
import { spiffeIdOfSan } from './server';

export interface AdminClientOptions {
  /** e.g. https://127.0.0.1:18001 (http:// only against an --insecure server). */
  readonly server: string;
  readonly tls?: { readonly caPem: string; readonly certPem: string; readonly keyPem: string };
  readonly timeoutMs?: number;
}

export interface AdminResponse<T> {
  readonly status: number;
  readonly body: T;
}

export function adminRequest<T>(opts: AdminClientOptions, method: string, path: string, body?: unknown): Promise<AdminResponse<T>> {
  const url = new URL(path, opts.server);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('application/json')) {
          try {
            parsed = JSON.parse(text);
          } catch {
            /* leave as text */
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed as T });
      });
    };
    let req: http.ClientRequest;
    if (url.protocol === 'https:') {
      if (!opts.tls) return reject(new UserError('MESH096', `${opts.server} needs a client certificate (--pki and --admin)`));
      req = https.request(url, {
        method,
        headers,
        ca: opts.tls.caPem,
        cert: opts.tls.certPem,
        key: opts.tls.keyPem,
        checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => {
          const id = spiffeIdOfSan(cert.subjectaltname);
          return id && /\/control-plane$/.test(id) ? undefined : new Error(`the server presented ${id ?? 'no SPIFFE ID'}, not the control-plane identity`);
        },
      }, onResponse);
    } else {
      req = http.request(url, { method, headers }, onResponse);
    }
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer from ${opts.server} within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', (err) => reject(new UserError('MESH096', `cannot reach the control plane at ${opts.server}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    req.end(payload);
  });
}
