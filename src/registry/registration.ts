/**
 * What a registering instance may claim, checked before anything is stored.
 * The registry serves these strings verbatim to every caller in EDS, so a
 * registration is data from the network aimed at other nodes' routing: it
 * must be an IP literal (the mesh has no DNS endpoints: static endpoints are
 * `ipv4-or-ipv6` in schemas/service.schema.json), an address a caller can
 * actually reach as a unicast peer, and strings of a bounded size.
 *
 * Errors are data: a refusal carries a stable MESH code (src/diag/codes.ts)
 * and a message; the admin API turns it into HTTP 400.
 */
import { BlockList, isIP } from 'node:net';

/** A service or version name: DNS name length, the longest a manifest name could be. */
export const MAX_NAME_CHARS = 253;
/** The longest textual IPv6 address (IPv4-mapped, full form) is 45 characters. */
export const MAX_ADDRESS_CHARS = 45;
/** An instance id is `<service>@<address>:<port>` (Registry.register), so no longer than this. */
export const MAX_ID_CHARS = MAX_NAME_CHARS + 1 + MAX_ADDRESS_CHARS + 1 + 5;

export interface RegistrationPolicy {
  /** mesh.yml `registry.allow_link_local`: 169.254.0.0/16 and fe80::/10 (metadata addresses excepted). */
  readonly allowLinkLocal: boolean;
  /** mesh.yml `registry.allow_metadata_addresses`: the cloud instance-metadata endpoints. */
  readonly allowMetadata: boolean;
}

export const STRICT_POLICY: RegistrationPolicy = { allowLinkLocal: false, allowMetadata: false };

export interface RegistrationFields {
  readonly service: string;
  readonly version: string;
  readonly address: string;
  readonly port: number;
  readonly ttlMs?: number;
}

export interface Refusal {
  readonly code: 'MESH120' | 'MESH121' | 'MESH122' | 'MESH123';
  readonly message: string;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: Refusal };

const refuse = <T>(code: Refusal['code'], message: string): Checked<T> => ({ ok: false, refusal: { code, message } });

// Refused whatever the mesh says: no caller can use them as a peer address.
const unspecified = new Set(['0.0.0.0', '::']);
const multicast = new BlockList();
multicast.addSubnet('224.0.0.0', 4, 'ipv4');
multicast.addSubnet('ff00::', 8, 'ipv6');
multicast.addAddress('255.255.255.255', 'ipv4');

// The instance-metadata services (AWS, GCP, Azure, OCI on 169.254.169.254; AWS's IPv6 one):
// an endpoint there would point a caller's sidecar at credentials of the host it runs on.
const metadata = new BlockList();
metadata.addAddress('169.254.169.254', 'ipv4');
metadata.addAddress('fd00:ec2::254', 'ipv6');

const linkLocal = new BlockList();
linkLocal.addSubnet('169.254.0.0', 16, 'ipv4');
linkLocal.addSubnet('fe80::', 10, 'ipv6');

/**
 * A short, printable string, or a refusal naming the field. Checked before any
 * other use, so a 100 KB value is never echoed back or logged.
 */
export function checkString(field: string, value: unknown, max: number): Checked<string> {
  if (typeof value !== 'string' || value.length === 0) return refuse('MESH122', `${field} must be a non-empty string`);
  if (value.length > max) return refuse('MESH123', `${field} is ${value.length} characters long; at most ${max} are accepted`);
  // C0, DEL and C1 controls: they would corrupt logs and the text forms of EDS (config dumps).
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return refuse('MESH123', `${field} contains control characters`);
  return { ok: true, value };
}

/** An IP literal a caller can connect to, or why not. */
export function checkAddress(address: string, policy: RegistrationPolicy): Checked<string> {
  const shown = JSON.stringify(address);
  const family = isIP(address);
  // A zone id (fe80::1%eth0) names an interface of the registering host, meaningless to callers.
  if (family === 0 || address.includes('%')) return refuse('MESH120', `address ${shown} is not an IPv4 or IPv6 literal (the registry accepts IP addresses only)`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:169.254.169.254) against the IPv4 rules too.
  if (unspecified.has(address) || /^[0:]+$/.test(address)) return refuse('MESH121', `address ${shown} is the unspecified address; register the address callers should connect to`);
  if (multicast.check(address, type)) return refuse('MESH121', `address ${shown} is a multicast or broadcast address, not an instance`);
  if (metadata.check(address, type) && !policy.allowMetadata) {
    return refuse('MESH121', `address ${shown} is a cloud instance-metadata address; refused unless mesh.yml sets registry.allow_metadata_addresses: true`);
  }
  if (linkLocal.check(address, type) && !metadata.check(address, type) && !policy.allowLinkLocal) {
    return refuse('MESH121', `address ${shown} is link-local (169.254.0.0/16, fe80::/10); refused unless mesh.yml sets registry.allow_link_local: true`);
  }
  return { ok: true, value: address };
}

/** The body of POST /v1/registry/register, for the service the caller speaks for. */
export function checkRegistration(body: Readonly<Record<string, unknown>>, policy: RegistrationPolicy): Checked<RegistrationFields> {
  const service = checkString('service', body.service, MAX_NAME_CHARS);
  if (!service.ok) return service;
  const version = checkString('version', body.version, MAX_NAME_CHARS);
  if (!version.ok) return version;
  const rawAddress = checkString('address', body.address, MAX_ADDRESS_CHARS);
  if (!rawAddress.ok) return rawAddress;
  const address = checkAddress(rawAddress.value, policy);
  if (!address.ok) return address;
  const port = body.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    // The value is shown only when it is a number: a string could be 100 KB.
    return refuse('MESH122', `port must be an integer from 1 to 65535, got ${typeof port === 'number' ? String(port) : port === undefined ? 'nothing' : `a ${typeof port}`}`);
  }
  const ttl = body.ttl_ms;
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isFinite(ttl))) return refuse('MESH122', 'ttl_ms must be a number of milliseconds');
  return { ok: true, value: { service: service.value, version: version.value, address: address.value, port, ...(ttl !== undefined ? { ttlMs: ttl } : {}) } };
}

/** The body of heartbeat and deregister: {service, id}. */
export function checkInstanceRef(body: Readonly<Record<string, unknown>>): Checked<{ service: string; id: string }> {
  const service = checkString('service', body.service, MAX_NAME_CHARS);
  if (!service.ok) return service;
  const id = checkString('id', body.id, MAX_ID_CHARS);
  if (!id.ok) return id;
  return { ok: true, value: { service: service.value, id: id.value } };
}
