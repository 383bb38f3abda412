/**
 * Ingress gateways (`gateways:`). A gateway is compiled as a node of its own
 * through the same processors as a sidecar: `gatewayManifest` gives it a
 * manifest whose `calls:` are the services its routes reach, so access
 * (default deny), clusters, split, endpoints, retries, timeouts and circuit
 * breakers are exactly what a sidecar calling those services gets, and its
 * upstream mTLS presents spiffe://<td>/svc/<gateway> (the callee's RBAC sees
 * the gateway). `gatewayNode` then swaps the sidecar's listeners for the
 * public ones (GatewayIR; src/envoy/gateway.ts). Guardrail rules inspect
 * requests leaving services, not a gateway's: a gateway node carries none.
 */
import * as path from 'node:path';
import type { Gateway, GatewayRoute, MeshModel, ServiceManifest } from '../model/types';
import type { GatewayChainIR, GatewayIR, GatewayListenerIR, GatewayRouteIR, NodeIR, VirtualHostIR } from '../ir/types';
import { compareStrings, sortedBy, uniqueSorted } from '../ir/sort';

/** The version a gateway node reports (it has no deployments of its own). */
export const GATEWAY_VERSION = 'gateway';

export const gatewayListenerName = (port: number): string => `gateway|${port}`;
export const gatewayRouteConfigName = (port: number, listener: string): string => `gateway|${port}|${listener}`;

/** A gateway as the processors see it: an http workload calling the services its routes reach. */
export function gatewayManifest(model: MeshModel, g: Gateway): ServiceManifest {
  const first = new Map<string, GatewayRoute>();
  for (const r of g.routes) if (!first.has(r.to)) first.set(r.to, r);
  return {
    name: g.name,
    version: GATEWAY_VERSION,
    versions: [GATEWAY_VERSION],
    protocol: 'http',
    port: 0,
    meshPort: g.listeners[0]!.port,
    outboundPort: model.settings.outboundPort,
    adminPort: g.adminPort,
    endpoints: [],
    calls: sortedBy([...first.values()].map((r) => ({ target: r.to, pos: r.toPos })), (c) => c.target),
    file: path.relative(model.displayDir, g.pos.file).split(path.sep).join('/'),
    pos: g.pos,
    fieldPos: g.fieldPos,
    acknowledge: [],
  };
}

/** Every gateway that is not also a service's name (MESH220), as manifests. */
export function gatewayManifests(model: MeshModel): ServiceManifest[] {
  const services = new Set(model.services.map((s) => s.name));
  return (model.gateways ?? []).filter((g) => !services.has(g.name)).map((g) => gatewayManifest(model, g));
}

/** The translated node of a gateway's manifest, with its public listeners instead of a sidecar's. */
export function gatewayNode(g: Gateway, node: NodeIR): NodeIR {
  const vhosts = new Map(node.outbound.virtualHosts.map((v) => [v.service, v]));
  const listeners = listenersOf(g, vhosts, node.identity.certSecret);
  const { localCluster: _local, ...inbound } = node.inbound;
  return {
    ...node,
    inbound: { ...inbound, listenerName: listeners[0]!.name, port: listeners[0]!.port, access: { allowed: [], from: { kind: 'builtin' } } },
    outbound: { virtualHosts: node.outbound.virtualHosts },
    gateway: { name: g.name, listeners } satisfies GatewayIR,
  };
}

/** `certSecret`: the SDS secret the node presents upstream too: one certificate with its SPIFFE ID and the public hostnames. */
function listenersOf(g: Gateway, vhosts: ReadonlyMap<string, VirtualHostIR>, certSecret: string): GatewayListenerIR[] {
  const ports = uniqueSorted(g.listeners.map((l) => String(l.port))).map(Number).sort((a, b) => a - b);
  return ports.map((port) => {
    const declared = g.listeners.filter((l) => l.port === port);
    const chains = declared.map((l): GatewayChainIR => {
      const hostnames = uniqueSorted(l.hostnames.map((h) => h.name));
      return {
        name: l.name,
        hostnames,
        tls: l.tls.kind === 'mesh' ? { kind: 'mesh', secret: certSecret } : { kind: 'files', certFile: l.tls.certFile, keyFile: l.tls.keyFile },
        routeConfigName: gatewayRouteConfigName(port, l.name),
        virtualHosts: hostnames.map((hostname) => ({ hostname, routes: routesFor(g, hostname, vhosts) })),
        pos: l.pos,
      };
    });
    return { name: gatewayListenerName(port), address: declared[0]!.address, port, chains: sortedBy(chains, (c) => c.name) };
  });
}

/**
 * Routes of one hostname in the order Envoy must try them (first match wins):
 * exact paths, then prefixes longest first (the most specific first, so no
 * declared route is shadowed by a shorter prefix), then file order. Routes to
 * a service the gateway may not call (MESH226) compile to nothing.
 */
function routesFor(g: Gateway, hostname: string, vhosts: ReadonlyMap<string, VirtualHostIR>): GatewayRouteIR[] {
  const mine = g.routes.filter((r) => r.host === hostname && vhosts.has(r.to));
  const ordered = [...mine].sort((a, b) =>
    (a.path.kind === b.path.kind ? 0 : a.path.kind === 'exact' ? -1 : 1) || b.path.value.length - a.path.value.length || compareStrings(a.path.value, b.path.value) || a.index - b.index,
  );
  return ordered.map((r): GatewayRouteIR => {
    const vh = vhosts.get(r.to)!;
    return {
      name: `route-${r.index}`,
      path: r.path,
      service: r.to,
      targets: vh.targets,
      ...(vh.split ? { split: vh.split } : {}),
      ...(vh.retry ? { retry: vh.retry } : {}),
      timeoutMs: r.timeoutMs ?? vh.timeoutMs,
      pos: r.pos,
    };
  });
}
