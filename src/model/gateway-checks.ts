/**
 * Semantic rules of `gateways:` (MESH220-229). Conflicts name both
 * declarations: the diagnostic sits on the later one and its message gives
 * the earlier one's file:line:col. Default deny holds for gateways as for any
 * caller: a route to a service whose access policy does not list the gateway
 * is an error (MESH226), not a route that silently 403s.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Forge from 'node-forge';
import { diagAt, type Diagnostic, type SourcePos } from '../diag/diagnostic';
import { didYouMean } from '../util/suggest';
import type { Gateway, GatewayListener, MeshModel, ServicePolicies } from './types';

const at = (p: SourcePos): string => `${p.file}:${p.line}:${p.col}`;

/** Do two hostnames (each exact or *.<suffix>, one label) share a name a client could send? */
export function hostnamesOverlap(a: string, b: string): boolean {
  return a === b || wildcardCovers(a, b) || wildcardCovers(b, a);
}

/** `*.x` covers `y.x` (one label more, as TLS wildcards do: RFC 6125 6.4.3), never `x` or `z.y.x`. */
function wildcardCovers(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.') || name.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('.') && name.length > suffix.length;
}

/** Does a certificate DNS name serve `hostname`? A declared wildcard needs the same wildcard in the certificate. */
export function certNameCovers(certName: string, hostname: string): boolean {
  const c = certName.toLowerCase();
  return c === hostname || wildcardCovers(c, hostname);
}

export function gatewayRules(model: MeshModel, policyOf: ReadonlyMap<string, ServicePolicies>): Diagnostic[] {
  const gateways = model.gateways ?? [];
  if (gateways.length === 0) return [];
  const services = new Set(model.services.map((s) => s.name));
  const externals = new Set((model.externals ?? []).map((e) => e.name));
  return [
    ...gateways.flatMap((g) => [
      ...names(g, services, externals),
      ...listenerConflicts(g),
      ...routeConflicts(g),
      ...routeTargets(g, services, externals, policyOf, model),
      ...g.listeners.flatMap((l) => certificateCoverage(model.dir, l)),
    ]),
    ...crossGatewayHostnames(gateways),
  ];
}

function names(g: Gateway, services: ReadonlySet<string>, externals: ReadonlySet<string>): Diagnostic[] {
  const what = services.has(g.name) ? 'a service' : externals.has(g.name) ? 'an external system' : undefined;
  return what ? [diagAt(g.pos, 'error', 'MESH220', `gateway "${g.name}" has the name of ${what}: its identity spiffe://<trust-domain>/svc/${g.name} and access rules naming it could not tell them apart`, { hint: 'rename the gateway' })] : [];
}

function listenerConflicts(g: Gateway): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byName = new Map<string, GatewayListener>();
  for (const [i, l] of g.listeners.entries()) {
    const prevName = byName.get(l.name);
    if (prevName) out.push(diagAt(l.pos, 'error', 'MESH229', `gateways.${g.name}: listener name "${l.name}" is already used at ${at(prevName.pos)}`, { hint: 'listener names are unique per gateway' }));
    else byName.set(l.name, l);
    for (const earlier of g.listeners.slice(0, i)) {
      if (earlier.port !== l.port) continue;
      for (const h of l.hostnames) {
        const clash = earlier.hostnames.find((e) => hostnamesOverlap(e.name, h.name));
        if (clash) {
          out.push(diagAt(h.pos, 'error', 'MESH221', `gateways.${g.name}: listeners "${earlier.name}" and "${l.name}" both take port ${l.port} for "${h.name}" (overlapping "${clash.name}" at ${at(clash.pos)}): the TLS server name could not pick one`, { hint: 'give one of them another port, or move the hostname into one listener' }));
        }
      }
    }
  }
  return out;
}

function routeConflicts(g: Gateway): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, SourcePos>();
  for (const r of g.routes) {
    const key = `${r.host}\0${r.path.kind}\0${r.path.value}`;
    const prev = seen.get(key);
    if (prev) out.push(diagAt(r.pos, 'error', 'MESH222', `gateways.${g.name}: a route for ${r.host} with path ${r.path.kind} ${r.path.value} is already declared at ${at(prev)}: only the first could ever match`, { hint: 'remove one, or change its path' }));
    else seen.set(key, r.pos);
  }
  return out;
}

function routeTargets(g: Gateway, services: ReadonlySet<string>, externals: ReadonlySet<string>, policyOf: ReadonlyMap<string, ServicePolicies>, model: MeshModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const hosts = g.listeners.flatMap((l) => l.hostnames.map((h) => h.name));
  for (const r of g.routes) {
    if (!hosts.includes(r.host)) {
      out.push(diagAt(r.hostPos, 'error', 'MESH228', `gateways.${g.name}: no listener of the gateway serves host "${r.host}"${didYouMean(r.host, hosts)}`, { hint: `add it to a listener's hostnames (served: ${hosts.join(', ')})` }));
    }
    if (!services.has(r.to)) {
      const why = externals.has(r.to) ? ` ("${r.to}" is an external system: a gateway routes into the mesh only)` : didYouMean(r.to, services);
      out.push(diagAt(r.toPos, 'error', 'MESH227', `gateways.${g.name} routes to unknown service "${r.to}"${why}`));
      continue;
    }
    const access = policyOf.get(r.to)?.access;
    if (access?.allow.some((a) => a.caller === g.name)) continue;
    const where = access?.pos ? `its access policy at ${at(access.pos)}` : `it has no access policy in ${path.join(model.displayDir, 'mesh_policies.yml')}`;
    out.push(diagAt(r.toPos, 'error', 'MESH226', `gateways.${g.name} routes to "${r.to}", but ${where} does not allow the gateway (default deny)`, {
      hint: `add ${g.name} to access.${r.to}.allow in mesh_policies.yml, or remove the route`,
      subject: r.to,
    }));
  }
  return out;
}

/** The same hostname on the same port of two gateways: whichever binds second fails, or both serve it. */
function crossGatewayHostnames(gateways: readonly Gateway[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen: { gateway: string; port: number; name: string; pos: SourcePos }[] = [];
  for (const g of gateways) {
    const own: typeof seen = [];
    for (const l of g.listeners) {
      for (const h of l.hostnames) {
        const clash = seen.find((s) => s.port === l.port && hostnamesOverlap(s.name, h.name));
        if (clash) out.push(diagAt(h.pos, 'error', 'MESH225', `"${h.name}" on port ${l.port} is served by gateway "${clash.gateway}" too ("${clash.name}" at ${at(clash.pos)})`, { hint: 'one hostname and port belong to one gateway' }));
        own.push({ gateway: g.name, port: l.port, name: h.name, pos: h.pos });
      }
    }
    seen.push(...own);
  }
  return out;
}

/**
 * A listener with its own certificate file: the certificate (the first of
 * the PEM file, the leaf) must name every hostname in its DNS SANs. Read here
 * with node-forge, loaded on demand; Envoy reads the file itself at run time.
 */
function certificateCoverage(meshDir: string, l: GatewayListener): Diagnostic[] {
  const tls = l.tls;
  if (tls.kind !== 'files') return [];
  const file = path.resolve(meshDir, tls.certFile);
  let dns: string[];
  try {
    dns = certificateDnsNames(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return [diagAt(tls.certPos, 'error', 'MESH224', `listener "${l.name}": cannot read a PEM certificate from ${tls.certFile}: ${(err as Error).message.split('\n')[0]}`, { hint: 'cert_file is relative to the mesh directory, or absolute' })];
  }
  return l.hostnames
    .filter((h) => !dns.some((d) => certNameCovers(d, h.name)))
    .map((h) => diagAt(h.pos, 'error', 'MESH223', `listener "${l.name}": the certificate ${tls.certFile} (cert_file at ${at(tls.certPos)}) does not cover "${h.name}" (its DNS names: ${dns.length ? dns.join(', ') : 'none'}): clients would refuse it`, { hint: 'use a certificate for this hostname, or tls: { mesh_ca: true }' }));
}

export function certificateDnsNames(pem: string): string[] {
  const forge = require('node-forge') as typeof Forge;
  const cert = forge.pki.certificateFromPem(pem);
  const ext = cert.getExtension('subjectAltName') as { altNames?: { type: number; value: string }[] } | undefined;
  // type 2 = dNSName (RFC 5280 4.2.1.6). No fallback to the subject CN: clients ignore it (RFC 6125 6.4.4).
  return (ext?.altNames ?? []).filter((a) => a.type === 2).map((a) => a.value);
}
