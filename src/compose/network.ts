/**
 * Addresses on the composition's network. EDS endpoints must be IP addresses
 * (Envoy does not resolve host names in a ClusterLoadAssignment), and the SDK
 * registers the address it is told to advertise, so every sidecar gets a
 * fixed IPv4 address: the first half of the subnet, from host 10 on, in node
 * name order. Docker's own allocations (the control plane, one-off probe
 * containers) are confined to the second half (`ip_range`), so the two never
 * collide.
 */

/** Outside Docker's default address pools (172.17.0.0/12, 192.168.0.0/16), so it does not collide with networks Docker creates itself. */
export const DEFAULT_SUBNET = '10.213.71.0/24';
const FIRST_STATIC_HOST = 10;

/** A --subnet that cannot hold the sidecars: a usage error. */
export class SubnetError extends Error {}

export interface SidecarNetwork {
  readonly subnet: string;
  /** Where Docker may allocate addresses on its own. */
  readonly ipRange: string;
  /** node id -> fixed address. */
  readonly addresses: ReadonlyMap<string, string>;
}

export function assignAddresses(subnet: string, nodes: readonly string[]): SidecarNetwork {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || bits < 8 || bits > 28) {
    throw new SubnetError(`--subnet ${subnet}: expected an IPv4 network such as ${DEFAULT_SUBNET} (prefix /8 to /28)`);
  }
  const size = 2 ** (32 - bits);
  const base = (toInt(octets) & ~(size - 1)) >>> 0;
  const half = size / 2;
  if (FIRST_STATIC_HOST + nodes.length > half) {
    throw new SubnetError(`--subnet ${subnet} is too small for ${nodes.length} sidecars: its first half (${half} addresses, from host ${FIRST_STATIC_HOST}) holds the fixed ones`);
  }
  const sorted = [...nodes].sort();
  const addresses = new Map(sorted.map((n, i) => [n, toDotted(base + FIRST_STATIC_HOST + i)]));
  return { subnet: `${toDotted(base)}/${bits}`, ipRange: `${toDotted(base + half)}/${bits + 1}`, addresses };
}

function toInt(o: readonly number[]): number {
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

function toDotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
