/**
 * `gateways:` of mesh_policies.yml -> Gateway[] (src/model/types.ts). Runs on
 * a schema-valid file only. Listeners and routes keep file order: conflicts
 * (src/model/gateway-checks.ts) name the earlier declaration, and the
 * compiler orders routes itself (src/translate/gateway.ts).
 */
import type { SourcePos } from '../diag/diagnostic';
import type { Gateway, GatewayListener, GatewayRoute, MeshSettings } from '../model/types';
import { parseDurationMs } from './duration';
import { keyPos, valuePos } from './positions';
import type { SourceFile } from './source-file';

type Obj = Record<string, unknown>;

/** Public listeners take connections from other hosts. */
const ANY_ADDRESS = '0.0.0.0';

export function buildGateways(src: SourceFile | undefined, settings: MeshSettings): Gateway[] {
  const section = (src?.value as Obj | undefined)?.gateways as Record<string, Obj> | undefined;
  if (!src || !section) return [];
  return Object.keys(section).sort().map((name) => {
    const g = section[name]!;
    const base = ['gateways', name];
    const fieldPos: Record<string, SourcePos> = {};
    for (const k of Object.keys(g)) fieldPos[k] = valuePos(src, [...base, k]);
    return {
      name,
      adminPort: (g.admin_port as number | undefined) ?? settings.adminPort,
      listeners: (g.listeners as Obj[]).map((l, i) => listener(src, l, [...base, 'listeners', i])),
      routes: (g.routes as Obj[]).map((r, i) => route(src, r, i, [...base, 'routes', i])),
      pos: keyPos(src, base),
      fieldPos,
    };
  });
}

function listener(src: SourceFile, l: Obj, at: (string | number)[]): GatewayListener {
  const tls = l.tls as Obj;
  return {
    name: l.name as string,
    port: l.port as number,
    address: (l.address as string | undefined) ?? ANY_ADDRESS,
    hostnames: (l.hostnames as string[]).map((h, i) => ({ name: h, pos: valuePos(src, [...at, 'hostnames', i]) })),
    tls: tls.mesh_ca === true
      ? { kind: 'mesh' }
      : { kind: 'files', certFile: tls.cert_file as string, keyFile: tls.key_file as string, certPos: valuePos(src, [...at, 'tls', 'cert_file']) },
    pos: valuePos(src, at),
    portPos: valuePos(src, [...at, 'port']),
  };
}

function route(src: SourceFile, r: Obj, index: number, at: (string | number)[]): GatewayRoute {
  const p = r.path as Obj | undefined;
  const path = p?.exact !== undefined ? { kind: 'exact' as const, value: p.exact as string } : { kind: 'prefix' as const, value: (p?.prefix as string | undefined) ?? '/' };
  const timeout = r.timeout as string | undefined;
  return {
    host: r.host as string,
    path,
    to: r.to as string,
    ...(timeout !== undefined
      ? { timeoutMs: { value: timeout === 'none' ? 0 : parseDurationMs(timeout)!, from: { kind: 'file' as const, pos: valuePos(src, [...at, 'timeout']) } } }
      : {}),
    index,
    pos: valuePos(src, at),
    hostPos: valuePos(src, [...at, 'host']),
    toPos: valuePos(src, [...at, 'to']),
  };
}
