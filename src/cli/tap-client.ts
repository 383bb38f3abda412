/** What `mesh trace`, `logs`, `stat` and `events` share: one GET to the admin API, refused answers as MESH153. */
import { UserError } from '../diag/errors';
import { escapeControls } from '../diag/excerpt';
import { adminRequest, type AdminClientOptions } from '../xds/admin-client';

export async function tapGet<T>(client: AdminClientOptions, urlPath: string): Promise<T> {
  const res = await adminRequest<T & { error?: string }>(client, 'GET', urlPath);
  if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) {
    const why = typeof res.body === 'object' && res.body !== null ? String(res.body.error ?? '') : String(res.body).slice(0, 200);
    throw new UserError('MESH153', `control plane answered GET ${urlPath.split('?')[0]} with ${res.status}: ${escapeControls(why)}`);
  }
  return res.body;
}

/** Polls `fetch` every `intervalMs` until the process is interrupted (the --follow of logs and events). */
export async function follow(intervalMs: number, fetch: () => Promise<void>): Promise<never> {
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    await fetch();
  }
}
