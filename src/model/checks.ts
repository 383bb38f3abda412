/**
 * Semantic rules beyond the schema. Each rule is a small function over the
 * model returning diagnostics; the list at the bottom is the order they run.
 * Rules never stop at the first problem: lint reports everything at once.
 */
import * as path from 'node:path';
import { diagAt, type Diagnostic, type SourcePos } from '../diag/diagnostic';
import { didYouMean } from '../util/suggest';
import { routeRules } from './route-checks';
import type { MeshModel, ServiceManifest, ServicePolicies } from './types';
import { checkEventSinks } from './event-checks';
import { gatewayRules } from './gateway-checks';
import { runSync, type Steps } from '../util/sliced';
import type { CheckCache, CheckChanges } from './check-cache';

/** Policy sections keyed by service name, with the position of each key (from the policy file). */
export interface PolicyKeys {
  readonly section: string;
  readonly service: string;
  readonly pos: SourcePos;
}

export interface CheckInput {
  readonly model: MeshModel;
  /** Every `<section>.<service>` key found in mesh_policies.yml, including ones for unknown services. */
  readonly policyKeys: readonly PolicyKeys[];
  /** The last checks' per-unit diagnostics (the control plane's applies): reused where their inputs are the same objects. */
  readonly cache?: CheckCache;
}

type Rule = (input: CheckInput, ctx: Ctx) => Diagnostic[];
/** A rule over some of the services (or policies): what it says of each unit depends only on what serviceDirty or policyDirty name. */
type UnitRule<U> = (units: readonly U[], input: CheckInput, ctx: Ctx) => Diagnostic[];

interface Ctx {
  readonly names: ReadonlySet<string>;
  readonly policyOf: ReadonlyMap<string, ServicePolicies>;
  /** Services by name (with a duplicated name, the last; the rules that care use declarationOrder). */
  readonly manifestOf: ReadonlyMap<string, ServiceManifest>;
  /** Whether two manifests declare one name (MESH030): the per-unit cache is not used then. */
  readonly duplicated: boolean;
  /** Who calls each service (not itself), in model order. */
  readonly callersOf: () => ReadonlyMap<string, readonly string[]>;
  /** Per service name, the original manifest (declarationOrder's first). */
  readonly serviceOf: () => ReadonlyMap<string, ServiceManifest>;
  /** How many manifests declare each name. */
  readonly declarations: () => ReadonlyMap<string, number>;
}

/** A value computed on first use. */
function lazy<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

function contextOf(model: MeshModel): Ctx {
  const names = new Set(model.services.map((s) => s.name));
  const manifestOf = new Map(model.services.map((s) => [s.name, s]));
  return {
    names,
    policyOf: new Map(model.policies.map((p) => [p.service, p])),
    manifestOf,
    duplicated: names.size !== model.services.length,
    callersOf: lazy(() => {
      // Reverse index first: a naive scan is O(services^2), too slow for 5,000-service meshes.
      const callersOf = new Map<string, string[]>();
      for (const c of model.services) {
        for (const e of c.calls) {
          if (e.target === c.name) continue;
          const list = callersOf.get(e.target);
          if (list) list.push(c.name);
          else callersOf.set(e.target, [c.name]);
        }
      }
      return callersOf;
    }),
    serviceOf: lazy(() => {
      // Every name declared once: the one manifest is the original (sorting 10,000 to find that out was a check's largest part).
      if (names.size === model.services.length) return manifestOf;
      // The original wins for a duplicated name (the duplicate itself is MESH030).
      const serviceOf = new Map<string, ServiceManifest>();
      for (const s of declarationOrder(model.services)) if (!serviceOf.has(s.name)) serviceOf.set(s.name, s);
      return serviceOf;
    }),
    declarations: lazy(() => {
      const declarations = new Map<string, number>();
      for (const s of model.services) declarations.set(s.name, (declarations.get(s.name) ?? 0) + 1);
      return declarations;
    }),
  };
}

/**
 * The declaration in services/<name>.yml is where a service belongs, so it is
 * the original even when a copy's file sorts first; among the others, file
 * order decides. The duplicate is blamed, the original named, and the hint
 * offers a name no service has.
 */
const duplicateServices: Rule = ({ model }, { names, duplicated }) => {
  if (!duplicated) return [];
  const first = new Map<string, string>();
  const out: Diagnostic[] = [];
  for (const s of declarationOrder(model.services)) {
    const prev = first.get(s.name);
    if (prev !== undefined) {
      out.push(diagAt(s.fieldPos.name ?? s.pos, 'error', 'MESH030', `service "${s.name}" is already declared in ${prev}`, {
        hint: `each service has exactly one manifest (list extra versions under \`versions:\` there); if this is another service, name it "${freeName(manifestStem(s), s.name, names)}"`,
      }));
    } else first.set(s.name, s.file);
  }
  return out;
};

/** Originals first (a manifest in services/<its name>.yml), then by file: who keeps a name or port that two claim. */
function declarationOrder(services: readonly ServiceManifest[]): ServiceManifest[] {
  const belongs = (s: ServiceManifest): number => (manifestStem(s) === s.name ? 0 : 1);
  return [...services].sort((a, b) => belongs(a) - belongs(b) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

function manifestStem(s: ServiceManifest): string {
  return path.basename(s.file).replace(/\.ya?ml$/, '');
}

/** The file's own name when it is a valid, free service name, else `<name>-2`, `-3`, ... (also free). */
function freeName(stem: string, name: string, taken: ReadonlySet<string>): string {
  if (/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(stem) && !taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${name}-${i}`)) return `${name}-${i}`;
}

const duplicatePorts: Rule = ({ model }) => {
  // All services of the lab and of static endpoints may share one host, so ports must be unique mesh-wide.
  // Sidecar ports count only when a manifest sets them: the mesh-wide defaults are shared by design
  // (each sidecar has its own network namespace in containers).
  // Who keeps a port two claim depends on the declaration order; when no port is claimed twice
  // there is nothing to report, and sorting 10,000 manifests to find that out was most of the rule.
  const seen = new Set<number>();
  let collides = false;
  for (const s of model.services) {
    for (const [port] of portsOf(s)) {
      if (seen.has(port)) collides = true;
      seen.add(port);
    }
  }
  if (!collides) return [];
  const used = new Map<number, string>();
  const out: Diagnostic[] = [];
  for (const s of declarationOrder(model.services)) {
    for (const [port, field, pos] of portsOf(s)) {
      const prev = used.get(port);
      if (prev !== undefined) out.push(diagAt(pos, 'error', 'MESH031', `${field} ${port} of "${s.name}" is already used by ${prev}`));
      else used.set(port, `${field} of "${s.name}"`);
    }
  }
  return out;
};

/** The ports a manifest claims: its port, and the sidecar ports it sets. */
function portsOf(s: ServiceManifest): Array<[number, string, SourcePos]> {
  const own: Array<[number, string, SourcePos]> = [[s.port, 'port', s.fieldPos.port ?? s.pos]];
  if (s.protocol === 'http' && s.fieldPos.mesh_port) own.push([s.meshPort, 'mesh_port', s.fieldPos.mesh_port]);
  const outbound = s.fieldPos['sidecar.outbound_port'];
  const admin = s.fieldPos['sidecar.admin_port'];
  if (s.protocol === 'http' && outbound) own.push([s.outboundPort, 'sidecar.outbound_port', outbound]);
  if (s.protocol === 'http' && admin) own.push([s.adminPort, 'sidecar.admin_port', admin]);
  return own;
}

const fileNames: UnitRule<ServiceManifest> = (services, _input, ctx) => {
  const once = (name: string): boolean => !ctx.duplicated || ctx.declarations().get(name) === 1;
  return services
    // A duplicate is MESH030's alone: renaming its file to services/<name>.yml would overwrite the original.
    .filter((s) => manifestStem(s) !== s.name && once(s.name))
    .map((s) => diagAt(s.fieldPos.name ?? s.pos, 'warning', 'MESH032', `manifest ${path.basename(s.file)} declares service "${s.name}"`, { hint: `rename the file to services/${s.name}.yml` }));
}

/** A setting that cannot take effect is reported, never dropped in silence. */
const grpcSidecar: UnitRule<ServiceManifest> = (services) =>
  services
    .filter((s) => s.protocol === 'grpc' && s.fieldPos.sidecar)
    .map((s) => diagAt(s.fieldPos.sidecar!, 'warning', 'MESH036', `"${s.name}" is a proxyless gRPC member: it has no Envoy sidecar, so its sidecar ports are not used`, { hint: 'remove the sidecar: block, or set protocol: http' }));

const versions: UnitRule<ServiceManifest> = (services) => {
  const out: Diagnostic[] = [];
  for (const s of services) {
    if (s.fieldPos.versions && !s.versions.includes(s.version)) {
      out.push(diagAt(s.fieldPos.version ?? s.pos, 'error', 'MESH033', `version "${s.version}" is not listed in versions`));
    }
    for (const e of s.endpoints) {
      if (!s.versions.includes(e.version)) {
        out.push(diagAt(e.pos, 'error', 'MESH034', `endpoint ${e.address}:${e.port} runs version "${e.version}", which "${s.name}" does not declare${didYouMean(e.version, s.versions)}`, { hint: `declared versions: ${s.versions.join(', ')}` }));
      }
    }
  }
  return out;
};

const calls: UnitRule<ServiceManifest> = (services, { model }, { names, policyOf }) => {
  const externalOf = new Map((model.externals ?? []).map((e) => [e.name, e]));
  const out: Diagnostic[] = [];
  for (const s of services) {
    for (const c of s.calls) {
      if (c.target === s.name) {
        out.push(diagAt(c.pos, 'warning', 'MESH035', `"${s.name}" calls itself through the mesh`));
        continue;
      }
      const external = externalOf.get(c.target);
      if (!names.has(c.target) && !external) {
        out.push(diagAt(c.pos, 'error', 'MESH040', `"${s.name}" calls unknown service "${c.target}"${didYouMean(c.target, names)}`));
        continue;
      }
      const acc = (external?.policies ?? policyOf.get(c.target))?.access;
      if (acc && !acc.allow.some((r) => r.caller === s.name)) {
        out.push(diagAt(c.pos, 'error', 'MESH043', `"${s.name}" calls "${c.target}", but the access policy of "${c.target}" does not allow it (default deny)`, {
          hint: `add ${s.name} to access.${c.target}.allow in mesh_policies.yml, or remove the call`,
        }));
      }
    }
  }
  return out;
};

/** Sections that mean something for an external system (the caller's side of the call). */
const EXTERNAL_SECTIONS: ReadonlySet<string> = new Set(['access', 'retries', 'timeouts']);

const unknownPolicyTargets: Rule = ({ model, policyKeys }, { names }) => {
  const externals = new Set((model.externals ?? []).map((e) => e.name));
  const misplaced = policyKeys
    .filter((k) => externals.has(k.service) && !names.has(k.service) && !EXTERNAL_SECTIONS.has(k.section))
    .map((k) => diagAt(k.pos, 'error', 'MESH182', `${k.section} policy for external system "${k.service}": only access, retries and timeouts apply to external systems`, { path: `${k.section}.${k.service}` }));
  return [...misplaced, ...unknownTargets(policyKeys.filter((k) => !externals.has(k.service)), names)];
};

const unknownTargets = (policyKeys: readonly PolicyKeys[], names: ReadonlySet<string>): Diagnostic[] =>
  policyKeys
    .filter((k) => !names.has(k.service))
    .map((k) => diagAt(k.pos, 'error', 'MESH041', `${k.section} policy for unknown service "${k.service}"${didYouMean(k.service, names)}`, { path: `${k.section}.${k.service}` }));

/** An external system's name is a callee's name: it must not also be a service's. */
const externalNames: Rule = ({ model }, { names }) =>
  (model.externals ?? [])
    .filter((e) => names.has(e.name))
    .map((e) => diagAt(e.pos, 'error', 'MESH180', `external system "${e.name}" has the name of a service: calls: could not tell them apart`, { hint: 'rename the external system' }));

const accessRules: UnitRule<ServicePolicies> = (policies, { model }, { names }) =>
  policies.flatMap((p) =>
    p.access.allow
      // A gateway is a caller like a service (gateway-checks.ts).
      .filter((r) => !names.has(r.caller) && !(model.gateways ?? []).some((g) => g.name === r.caller))
      .map((r) => diagAt(r.pos, 'error', 'MESH042', `access.${p.service}.allow names unknown service "${r.caller}"${didYouMean(r.caller, names)}`)),
  );

/**
 * An allow entry for a caller whose manifest does not call the service: its
 * proxy has no route there, so the permission is unused today and silently
 * live the day someone adds the call (`mesh graph` draws it dotted grey). About
 * the callee, whose manifest may acknowledge it (a caller still being built).
 */
/** The external systems' access rules name callers too. */
const externalAccessRules: Rule = (input, ctx) => accessRules((input.model.externals ?? []).map((e) => e.policies), input, ctx);

const unusedAccess: UnitRule<ServicePolicies> = (policies, { model }, { names, manifestOf: callsOf }) => {
  const out: Diagnostic[] = [];
  for (const p of policies) {
    for (const r of p.access.allow) {
      const caller = callsOf.get(r.caller);
      if (!caller || !names.has(p.service) || r.caller === p.service || caller.calls.some((c) => c.target === p.service)) continue;
      // A caller with a misspelt call (MESH040) is explained there; the rule it "does not use" is that typo's echo.
      if (caller.calls.some((c) => !names.has(c.target) && !(model.externals ?? []).some((e) => e.name === c.target))) continue;
      out.push(diagAt(r.pos, 'warning', 'MESH045', `access.${p.service}.allow lets "${r.caller}" call "${p.service}", but ${caller.file} does not call it: the permission is unused`, {
        hint: `remove ${r.caller} from access.${p.service}.allow, or add ${p.service} to calls: in ${caller.file} (acknowledge: [MESH045] in ${callsOf.get(p.service)?.file ?? 'its manifest'} keeps it on purpose)`,
        path: `access.${p.service}.allow`,
        subject: p.service,
      }));
    }
  }
  return out;
};

const unreachable: UnitRule<ServiceManifest> = (services, _input, ctx) => {
  const callersOf = ctx.callersOf();
  const out: Diagnostic[] = [];
  for (const s of services) {
    const callers = callersOf.get(s.name) ?? [];
    if (callers.length === 0) continue;
    const allowed = new Set((ctx.policyOf.get(s.name)?.access.allow ?? []).map((r) => r.caller));
    if (callers.every((c) => !allowed.has(c))) {
      out.push(diagAt(s.fieldPos.name ?? s.pos, 'warning', 'MESH044', `every service that calls "${s.name}" (${callers.join(', ')}) is denied by its access policy: nothing can reach it`));
    }
  }
  return out;
};

const splits: UnitRule<ServicePolicies> = (policies, _input, ctx) => {
  const serviceOf = ctx.serviceOf();
  const out: Diagnostic[] = [];
  for (const p of policies) {
    if (!p.split) continue;
    const total = p.split.weights.reduce((n, w) => n + w.weight, 0);
    if (total !== 100) out.push(diagAt(p.split.pos, 'error', 'MESH050', `traffic.${p.service}.split weights sum to ${total}, not 100`));
    const svc = serviceOf.get(p.service);
    for (const w of p.split.weights) {
      if (svc && !svc.versions.includes(w.version)) {
        out.push(diagAt(w.pos, 'error', 'MESH051', `traffic.${p.service}.split names version "${w.version}", which no manifest of "${p.service}" declares${didYouMean(w.version, svc.versions)}`, { hint: `declared versions: ${svc.versions.join(', ')} (add it to versions: in ${svc.file})` }));
      }
    }
  }
  return out;
};

const tuning: UnitRule<ServicePolicies> = (policies) => {
  const out: Diagnostic[] = [];
  for (const p of policies) {
    const rl = p.rateLimit;
    if (rl && rl.burst.value < rl.rps.value) {
      out.push(diagAt(posOf(rl.burst.from) ?? rl.pos, 'warning', 'MESH060', `rate_limits.${p.service}: burst ${rl.burst.value} is lower than rps ${rl.rps.value}, so the bucket never holds a full second of requests`));
    }
    const perTry = p.retries.perTryTimeoutMs;
    if (perTry && p.retries.attempts.value > 0 && p.timeouts.requestMs.value > 0 && perTry.value >= p.timeouts.requestMs.value) {
      out.push(diagAt(posOf(perTry.from) ?? { file: '', line: 1, col: 1 }, 'warning', 'MESH061', `retries.${p.service}.per_try_timeout (${perTry.value}ms) is not shorter than the request timeout (${p.timeouts.requestMs.value}ms): retries can never happen`));
    }
  }
  return out;
};

/**
 * The longest duration the language takes. Envoy's Duration goes to 10,000
 * years, but past a year every value is a typo (999999999999999h), and large
 * ones overflow Envoy's millisecond arithmetic: refused here, with the
 * position, instead of failing the build unpositioned.
 */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

const bounds: UnitRule<ServicePolicies> = (policies) => {
  const out: Diagnostic[] = [];
  const check = (v: { value: number; from: { kind: string; pos?: SourcePos } } | undefined, what: string, pos: SourcePos | undefined): void => {
    if (!v || (Number.isSafeInteger(v.value) && v.value <= MAX_DURATION_MS)) return;
    out.push(diagAt(posOf(v.from) ?? pos ?? { file: '', line: 1, col: 1 }, 'error', 'MESH062', `${what} is ${v.value > 1e15 ? 'astronomically long' : `${Math.round(v.value / 3_600_000)}h`}: the longest duration the mesh takes is 8760h (365 days)`, { hint: 'durations are ms, s, m or h: e.g. 2s, 500ms, 1h' }));
  };
  for (const p of policies) {
    check(p.timeouts.requestMs, `timeouts.${p.service}.request`, p.timeouts.pos);
    check(p.retries.perTryTimeoutMs, `retries.${p.service}.per_try_timeout`, p.retries.pos);
  }
  return out;
};

function posOf(from: { kind: string; pos?: SourcePos }): SourcePos | undefined {
  return from.pos;
}

/** Order matters only for readability of the code; output is sorted by position afterwards. */
const routes: UnitRule<ServicePolicies> = (policies, _input, ctx) => routeRules(policies, ctx.serviceOf());

/** guardrails.<rule>.from and .to name services (or external systems, for to:) that exist. */
const guardrailNames: Rule = ({ model }, { names }) => {
  const externals = new Set((model.externals ?? []).map((e) => e.name));
  const out: Diagnostic[] = [];
  for (const g of model.guardrails ?? []) {
    for (const s of g.from ?? []) {
      if (!names.has(s)) out.push(diagAt(g.fieldPos.from ?? g.pos, 'error', 'MESH190', `guardrail "${g.name}" inspects requests from unknown service "${s}"${didYouMean(s, names)}`, { path: `guardrails.${g.name}.from` }));
    }
    for (const c of Array.isArray(g.to) ? g.to : []) {
      if (!names.has(c) && !externals.has(c)) out.push(diagAt(g.fieldPos.to ?? g.pos, 'error', 'MESH191', `guardrail "${g.name}" names unknown callee "${c}" in to: (neither a service nor an external system)`, { path: `guardrails.${g.name}.to` }));
    }
  }
  return out;
};

/** Rules over the whole mesh, run at every check. */
const MESH_RULES: readonly Rule[] = [duplicateServices, duplicatePorts, unknownPolicyTargets, externalAccessRules, externalNames, guardrailNames, (input) => checkEventSinks(input.model), ({ model }, { policyOf }) => gatewayRules(model, policyOf)];
/** Rules per service: what they say of one reads its manifest and serviceReads. */
const SERVICE_RULES: readonly UnitRule<ServiceManifest>[] = [fileNames, grpcSidecar, versions, calls, unreachable];
/** Rules per service's policies: what they say of one reads those policies and policyReads. */
const POLICY_RULES: readonly UnitRule<ServicePolicies>[] = [accessRules, unusedAccess, splits, tuning, bounds, routes];

/**
 * Whether SERVICE_RULES must check a service again: they read its manifest and its own policies
 * (unreachable), the policies of each service it calls (calls: MESH043) and the manifest of
 * each service that calls it (unreachable: MESH044; a changed caller's calls, before or after
 * the change, name it). The mesh-wide inputs are the cache's (check-cache.ts).
 */
const serviceDirty = (s: ServiceManifest, c: CheckChanges): boolean =>
  c.manifests.has(s.name) || c.policies.has(s.name) || c.calledByChanged.has(s.name) || (c.policies.size > 0 && s.calls.some((t) => c.policies.has(t.target)));

/**
 * Whether POLICY_RULES must check a service's policies again: they read them, the service's
 * manifest (splits' and routes' versions, unusedAccess's hint) and the manifest of each caller
 * its access allows (unusedAccess: MESH045).
 */
const policyDirty = (p: ServicePolicies, c: CheckChanges): boolean =>
  c.policies.has(p.service) || c.manifests.has(p.service) || (c.manifests.size > 0 && p.access.allow.some((r) => c.manifests.has(r.caller)));

/** Units checked between two yields of a check that reuses the cache. */
const UNITS_PER_STEP = 500;

export function checkMesh(input: CheckInput): Diagnostic[] {
  return runSync(checkMeshSteps(input));
}

/**
 * checkMesh yielding between rules (src/util/sliced.ts): the control plane's sliced apply.
 * With a cache (and no duplicated name, whose original depends on every file), each
 * service's and each policies' diagnostics are reused while nothing they read changed.
 * The order differs from the rule by rule one: every caller sorts the diagnostics.
 */
export function* checkMeshSteps(input: CheckInput): Steps<Diagnostic[]> {
  const { model } = input;
  const ctx = contextOf(model);
  const out: Diagnostic[] = [];
  for (const rule of MESH_RULES) {
    out.push(...rule(input, ctx));
    yield;
  }
  if (ctx.duplicated) input.cache?.reset();
  const cache = ctx.duplicated ? undefined : input.cache;
  if (!cache) {
    for (const rule of SERVICE_RULES) {
      out.push(...rule(model.services, input, ctx));
      yield;
    }
    for (const rule of POLICY_RULES) {
      out.push(...rule(model.policies, input, ctx));
      yield;
    }
    return out;
  }
  const changes = cache.begin(model, ctx.manifestOf, ctx.policyOf);
  let n = 0;
  for (const s of model.services) {
    out.push(...cache.unit(0, s, !changes || serviceDirty(s, changes), () => SERVICE_RULES.flatMap((rule) => rule([s], input, ctx))));
    if (++n % UNITS_PER_STEP === 0) yield;
  }
  for (const p of model.policies) {
    out.push(...cache.unit(1, p, !changes || policyDirty(p, changes), () => POLICY_RULES.flatMap((rule) => rule([p], input, ctx))));
    if (++n % UNITS_PER_STEP === 0) yield;
  }
  return out;
}
