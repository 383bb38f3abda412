/**
 * The rendered compose file, parsed back and checked against what it must
 * say, so a template override that drops a mount or publishes an admin port
 * is a diagnostic instead of a composition that runs the wrong thing. The
 * unit tests use the same checks on the committed envoy/ceq.
 */
import YAML from 'yaml';
import { ENVOY_IMAGE } from './images';
import type { CompositionPlan } from './compose';

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
    if (sc['image'] !== ENVOY_IMAGE) problems.push(`${n.sidecar} runs ${String(sc['image'])}, not the pinned ${ENVOY_IMAGE}`);
    const boot = bindMounts(sc).find((m) => m.source === `./${n.bootstrap}`);
    if (!boot) problems.push(`${n.sidecar} does not mount ./${n.bootstrap}`);
    else if (!(Array.isArray(sc['command']) && (sc['command'] as unknown[]).includes(boot.target))) problems.push(`${n.sidecar} does not start Envoy with ${boot.target}`);
    if (!tree.has(n.bootstrap)) problems.push(`${n.bootstrap} is not part of the composition`);
    if (n.app && (services[n.app.service]?.['network_mode'] !== `service:${n.sidecar}`)) problems.push(`${n.app.service} is not in ${n.sidecar}'s network namespace`);
  }
  const adminPorts = new Set(plan.nodes.map((n) => n.adminPort));
  for (const [name, svc] of Object.entries(services)) {
    for (const m of bindMounts(svc)) if (!m.readOnly) problems.push(`${name} mounts ${m.source} read-write`);
    for (const p of publishedPorts(svc)) {
      if (name !== plan.controlPlane.service || p.target !== plan.controlPlane.adminPort) problems.push(`${name} publishes port ${p.target}${adminPorts.has(p.target) ? ' (the Envoy admin port)' : ''}`);
      else if (p.hostIp !== '127.0.0.1') problems.push(`${name} publishes ${p.target} beyond 127.0.0.1`);
    }
  }
  return problems;
}
