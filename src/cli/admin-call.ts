/** One admin API call whose non-200 answer becomes a coded user error (the server's code when it gave one). */
import { UserError } from '../diag/errors';
import { adminRequest, type AdminClientOptions } from '../xds/admin-client';

export async function adminCall<T>(client: AdminClientOptions, method: string, path: string, body?: unknown): Promise<T> {
  const res = await adminRequest<T & { error?: string; code?: string }>(client, method, path, body);
  if (res.status !== 200) throw new UserError(res.body?.code ?? 'MESH096', `control plane refused ${method} ${path} (${res.status}): ${res.body?.error ?? JSON.stringify(res.body)}`);
  return res.body;
}
