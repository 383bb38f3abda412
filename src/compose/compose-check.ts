/**
 * The rendered compose file, parsed back and checked against what it must
 * say, so a template override that drops a mount or publishes an admin port
 * is a diagnostic instead of a composition that runs the wrong thing. The
 * unit tests use the same checks on the committed envoy/ceq.
 */
import YAML from 'yaml';
import { ENVOY_IMAGE } from './images';
import type { CompositionPlan } from './compose';

/**
 * Where a gateway's listener ports are published on the host: loopback unless
 * HMS_GATEWAY_HOST_IP says otherwise (0.0.0.0 to take public traffic), so
 * rendering a composition never opens a port to the network by itself.
 */
export const GATEWAY_HOST_IP = '${HMS_GATEWAY_HOST_IP:-127.0.0.1}';

type Obj = Record<string, unknown>;

export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export function parseComposition(text: string): { value: Obj } | { error: string } {
  try {
    const v = YAML.parse(text, { uniqueKeys: true }) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'the document is not a mapping' };
    return { value: v as Obj };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export function servicesOf(doc: Obj): Record<string, Obj> {
  const s = doc['services'];
  return s && typeof s === 'object' ? (s as Record<string, Obj>) : {};
}

/** Bind mounts of a service, long or short syntax. */
export function bindMounts(svc: Obj): BindMount[] {
  const vols = Array.isArray(svc['volumes']) ? (svc['volumes'] as unknown[]) : [];
  return vols.map((v): BindMount => {
    if (typeof v === 'string') {
      const parts = v.split(':');
      return { source: parts[0] ?? '', target: parts[1] ?? '', readOnly: parts.slice(2).join(':').split(',').includes('ro') };
    }
    const o = (v ?? {}) as Obj;
    return { source: String(o['source'] ?? ''), target: String(o['target'] ?? ''), readOnly: o['read_only'] === true };
  });
}

/** Container ports a service publishes on the host. */
export function publishedPorts(svc: Obj): Array<{ target: number; hostIp?: string }> {
  const ports = Array.isArray(svc['ports']) ? (svc['ports'] as unknown[]) : [];
  return ports.map((p) => {
    if (typeof p === 'object' && p) return { target: Number((p as Obj)['target']), ...((p as Obj)['host_ip'] ? { hostIp: String((p as Obj)['host_ip']) } : {}) };
    const parts = String(p).split(':');
    return { target: Number(parts[parts.length - 1]!.split('/')[0]), ...(parts.length === 3 ? { hostIp: parts[0]! } : {}) };
  });
}

export function checkComposition(doc: Obj, plan: CompositionPlan, tree: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const services = servicesOf(doc);
  for (const n of plan.nodes) {
    const sc = services[n.sidecar];
    if (!sc) {
      problems.push(`node ${n.node} has no sidecar service ${n.sidecar}`);
      continue;
    }
    problems.push(...envoyProblems(n.sidecar, sc, n.bootstrap, tree));
    if (n.app && (services[n.app.service]?.['network_mode'] !== `service:${n.sidecar}`)) problems.push(`${n.app.service} is not in ${n.sidecar}'s network namespace`);
  }
  problems.push(...gatewayProblems(services, plan, tree));
  const adminPorts = new Set([...plan.nodes, ...plan.gateways].map((n) => n.adminPort));
  const gatewayPorts = new Map(plan.gateways.map((g) => [g.service, new Set(g.ports)]));
  for (const [name, svc] of Object.entries(services)) {
    for (const m of bindMounts(svc)) if (!m.readOnly) problems.push(`${name} mounts ${m.source} read-write`);
    for (const p of publishedPorts(svc)) {
      // A gateway publishes its listener ports (the way in), on loopback unless HMS_GATEWAY_HOST_IP says otherwise.
      if (gatewayPorts.get(name)?.has(p.target) && !adminPorts.has(p.target)) {
        if (p.hostIp !== GATEWAY_HOST_IP && p.hostIp !== '127.0.0.1') problems.push(`${name} publishes ${p.target} on ${p.hostIp ?? 'every address'}, not ${GATEWAY_HOST_IP}`);
      } else if (name !== plan.controlPlane.service || p.target !== plan.controlPlane.adminPort) problems.push(`${name} publishes port ${p.target}${adminPorts.has(p.target) ? ' (the Envoy admin port)' : ''}`);
      else if (p.hostIp !== '127.0.0.1') problems.push(`${name} publishes ${p.target} beyond 127.0.0.1`);
    }
  }
  return problems;
}

/** Each gateway runs the pinned Envoy on its own compiled bootstrap. */
function gatewayProblems(services: Record<string, Obj>, plan: CompositionPlan, tree: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const g of plan.gateways) {
    const svc = services[g.service];
    if (!svc) {
      problems.push(`gateway ${g.node} has no service ${g.service}`);
      continue;
    }
    problems.push(...envoyProblems(g.service, svc, g.bootstrap, tree));
  }
  return problems;
}

/** A sidecar's or a gateway's container: the pinned Envoy, started on its own compiled bootstrap, mounted. */
function envoyProblems(name: string, svc: Obj, bootstrap: string, tree: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  if (svc['image'] !== ENVOY_IMAGE) problems.push(`${name} runs ${String(svc['image'])}, not the pinned ${ENVOY_IMAGE}`);
  const boot = bindMounts(svc).find((m) => m.source === `./${bootstrap}`);
  if (!boot) problems.push(`${name} does not mount ./${bootstrap}`);
  else if (!(Array.isArray(svc['command']) && (svc['command'] as unknown[]).includes(boot.target))) problems.push(`${name} does not start Envoy with ${boot.target}`);
  if (!tree.has(bootstrap)) problems.push(`${bootstrap} is not part of the composition`);
  return problems;
}
