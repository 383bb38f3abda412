/**
 * The identities the PKI issues, and what each one's certificate says.
 *
 *   svc            spiffe://<td>/svc/<name>       DNS <name>, <name>.svc
 *   admin          spiffe://<td>/admin/<name>     no DNS (a client of the admin API)
 *   control-plane  spiffe://<td>/control-plane    DNS localhost, IP 127.0.0.1 (the xDS server)
 *
 * Every leaf carries both serverAuth and clientAuth: the X509-SVID spec
 * (section 4.4) requires both when the extension is present. What a peer may
 * do is decided by its SPIFFE ID, never by its key usages.
 *
 * Each identity lives in its own folder of the store (see store.ts), so the
 * folder name is derived here too: one table, no string building elsewhere.
 */
import { spiffeId } from '../model/types';
import { PkiCode, pkiError } from './errors';

export type Identity =
  /** `dns`: more DNS names, for an ingress gateway's public hostnames (its listeners with tls.mesh_ca). */
  | { readonly kind: 'svc'; readonly name: string; readonly dns?: readonly string[] }
  | { readonly kind: 'admin'; readonly name: string }
  | { readonly kind: 'control-plane' };

export type IdentityKind = Identity['kind'];

export interface SubjectAltNames {
  readonly uri: string;
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

export const service = (name: string): Identity => ({ kind: 'svc', name });
/** A service identity whose certificate also names `dns` (an ingress gateway's public hostnames). */
export const serviceWithDns = (name: string, dns: readonly string[] = []): Identity => (dns.length ? { kind: 'svc', name, dns: [...new Set(dns)].sort() } : { kind: 'svc', name });
export const admin = (name: string): Identity => ({ kind: 'admin', name });
export const controlPlane: Identity = { kind: 'control-plane' };

/** DNS label (RFC 1123): also safe as a folder name and as a SPIFFE path segment. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE-ID spec, section 2.1). */
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

export function assertTrustDomain(td: string): void {
  if (!TRUST_DOMAIN.test(td)) {
    throw pkiError(PkiCode.badName, `invalid trust domain '${td}': use lowercase letters, digits, '.', '-' and '_'`);
  }
}

export function assertIdentity(id: Identity): void {
  if (id.kind === 'control-plane') return;
  if (!LABEL.test(id.name)) {
    throw pkiError(
      PkiCode.badName,
      `invalid ${id.kind} name '${id.name}': use a DNS label (a-z, 0-9 and '-', at most 63 characters, no leading or trailing '-')`,
    );
  }
}

export function identitySpiffeId(trustDomain: string, id: Identity): string {
  switch (id.kind) {
    case 'svc':
      return spiffeId(trustDomain, id.name);
    case 'admin':
      return `spiffe://${trustDomain}/admin/${id.name}`;
    case 'control-plane':
      return `spiffe://${trustDomain}/control-plane`;
  }
}

export function identitySans(trustDomain: string, id: Identity): SubjectAltNames {
  const uri = identitySpiffeId(trustDomain, id);
  switch (id.kind) {
    case 'svc':
      // <name> and <name>.svc let plain-DNS clients (and Envoy's SAN matchers) name the service too;
      // a gateway's certificate also carries the hostnames citizens reach it by.
      return { uri, dns: [id.name, `${id.name}.svc`, ...(id.dns ?? [])], ip: [] };
    case 'admin':
      return { uri, dns: [], ip: [] };
    case 'control-plane':
      // The xDS server is reached on 127.0.0.1 (mesh.yml control_plane.address); clients may use either name.
      return { uri, dns: ['localhost'], ip: ['127.0.0.1'] };
  }
}

/** Folder of the identity inside the store, relative and with '/' separators. */
export function identityDir(id: Identity): string {
  return id.kind === 'control-plane' ? 'control-plane' : `${id.kind}/${id.name}`;
}

/** The `mesh certs issue` that issues exactly this identity (plain `mesh certs issue` issues services only). */
export function issueCommand(id: Identity): string {
  switch (id.kind) {
    case 'svc':
      return `mesh certs issue ${id.name}`;
    case 'admin':
      return `mesh certs issue --admin ${id.name}`;
    case 'control-plane':
      return 'mesh certs issue --control-plane';
  }
}

/** "svc/grant-pay", "admin/ops", "control-plane": the name shown in tables and messages. */
export function identityLabel(id: Identity): string {
  return identityDir(id);
}

export interface ParsedSpiffeId {
  readonly trustDomain: string;
  /** Absent when the path is not one of the identities the mesh issues. */
  readonly identity?: Identity;
}

/** Splits spiffe://td/path; undefined when it is not a valid SPIFFE ID at all. */
export function parseSpiffeId(uri: string): ParsedSpiffeId | undefined {
  // Path segments may only use letters, digits, '.', '-' and '_' (SPIFFE-ID spec, section 2.2).
  const m = /^spiffe:\/\/([^/?#]+)((?:\/[A-Za-z0-9._-]+)*)$/.exec(uri);
  if (!m || !TRUST_DOMAIN.test(m[1])) return undefined;
  const path = m[2] ?? '';
  const svc = /^\/svc\/([^/]+)$/.exec(path);
  const adm = /^\/admin\/([^/]+)$/.exec(path);
  let identity: Identity | undefined;
  if (svc && LABEL.test(svc[1])) identity = service(svc[1]);
  else if (adm && LABEL.test(adm[1])) identity = admin(adm[1]);
  else if (path === '/control-plane') identity = controlPlane;
  return { trustDomain: m[1], identity };
}

/** Stable order for output: by label, i.e. admin/*, control-plane, svc/* (each by name). */
export function compareIdentities(a: Identity, b: Identity): number {
  const la = identityLabel(a);
  const lb = identityLabel(b);
  return la < lb ? -1 : la > lb ? 1 : 0;
}
