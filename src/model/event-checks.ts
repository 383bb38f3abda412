/**
 * mesh.yml `events.sinks`: what the schema cannot say (MESH150). A webhook is
 * an http(s) URL; a file is a relative path that stays inside the control
 * plane's store folder (an apply must not make the control plane write
 * anywhere else on the machine); each entry is exactly one sink.
 */
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import type { MeshModel } from './types';

export function checkEventSinks(model: MeshModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of model.settings.events?.sinks ?? []) {
    if (s.kind === 'invalid') {
      out.push(diagAt(s.pos, 'error', 'MESH150', `an events sink is exactly one of webhook, file or stdout (spool_bytes only with webhook); this one has ${s.keys.join(', ')}`));
    } else if (s.kind === 'webhook') {
      let ok = false;
      try {
        const u = new URL(s.url);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.username === '' && u.password === '';
      } catch {
        ok = false;
      }
      if (!ok) out.push(diagAt(s.pos, 'error', 'MESH150', `webhook ${JSON.stringify(s.url.slice(0, 200))} is not an http:// or https:// URL (without credentials in it)`, { hint: 'e.g. webhook: https://ops.example/mesh-events' }));
    } else if (s.kind === 'file') {
      const parts = s.file.split(/[\\/]/);
      if (s.file === '' || s.file.startsWith('/') || /^[A-Za-z]:/.test(s.file) || parts.includes('..') || /[\u0000-\u001f]/.test(s.file)) {
        out.push(diagAt(s.pos, 'error', 'MESH150', `events file ${JSON.stringify(s.file.slice(0, 200))} must be a relative path inside the control plane's store folder (no leading /, no ..)`, { hint: 'e.g. file: events.jsonl (written to <store>/events.jsonl)' }));
      }
    }
  }
  return out;
}
