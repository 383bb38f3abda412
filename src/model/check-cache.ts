/**
 * The cross-service checks of the last lints, per rule and per unit (a
 * service, or a service's policies), for the control plane's applies (issue
 * 20 item 1: a one-manifest apply at 10,000 services ran every rule over the
 * whole model). A unit's diagnostics are a function of the objects the rule
 * reads for it (its manifest or policies, those of the services it calls or
 * that call it, per the rule: checks.ts says which) and of the mesh-wide
 * inputs (the names and files of the services, externals, gateways). Each
 * check compares every service's manifest and policies objects with the last
 * check's (the loader's source cache hands the next lint the very objects of
 * unchanged files, a changed file's are new) and checks again only the units
 * that read a changed one; the others keep the last check's diagnostics. The
 * mesh-wide inputs are compared by content: when they change, every unit is
 * checked again.
 *
 * Bounded by the model: entries hang off the unit objects (a WeakMap), which
 * go when the source cache drops them. test/model/incremental-checks.test.ts
 * holds the diagnostics identical to a full check for random edit sequences.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../diag/diagnostic';
import type { MeshModel, ServiceManifest, ServicePolicies } from './types';

interface Entry {
  readonly global: object;
  /** The check that last computed or reused it: only the last check's entries are reused. */
  check: number;
  readonly diagnostics: readonly Diagnostic[];
}

/** What changed since the last check, by service name (objects compared by identity). */
export interface CheckChanges {
  readonly manifests: ReadonlySet<string>;
  readonly policies: ReadonlySet<string>;
  /** The services a changed manifest calls, before or after the change: their callers changed. */
  readonly calledByChanged: ReadonlySet<string>;
}

export class CheckCache {
  private readonly entries = new WeakMap<object, Map<number, Entry>>();
  private globalKey = '';
  /** One object per distinct mesh-wide input: entries made under another are stale. */
  private global: object = {};
  private check = 0;
  private manifests?: ReadonlyMap<string, ServiceManifest>;
  private policies?: ReadonlyMap<string, ServicePolicies>;
  hits = 0;
  misses = 0;

  /**
   * For one check of `model` (by name, each service's manifest and policies): what changed
   * since the last check, or undefined when every unit is to be checked (the first check,
   * or the mesh-wide inputs changed).
   */
  begin(model: MeshModel, manifests: ReadonlyMap<string, ServiceManifest>, policies: ReadonlyMap<string, ServicePolicies>): CheckChanges | undefined {
    this.check++;
    const [prevManifests, prevPolicies] = [this.manifests, this.policies];
    this.manifests = manifests;
    this.policies = policies;
    const key = globalKeyOf(model);
    if (key !== this.globalKey || !prevManifests || !prevPolicies) {
      this.globalKey = key;
      this.global = {};
      return undefined;
    }
    const changes = { manifests: new Set<string>(), policies: new Set<string>(), calledByChanged: new Set<string>() };
    for (const [name, m] of manifests) {
      const before = prevManifests.get(name);
      if (before === m) continue;
      changes.manifests.add(name);
      for (const c of [...(before?.calls ?? []), ...m.calls]) changes.calledByChanged.add(c.target);
    }
    for (const [name, p] of policies) if (prevPolicies.get(name) !== p) changes.policies.add(name);
    for (const name of prevPolicies.keys()) if (!policies.has(name)) changes.policies.add(name);
    return changes;
  }

  /** The next check is a full one (a check that could not use the cache ran meanwhile). */
  reset(): void {
    this.manifests = undefined;
    this.policies = undefined;
  }

  /**
   * `rule`'s diagnostics for `unit`: the last check's when the unit is not `dirty` (nothing
   * it reads changed since) and was checked then, else computed by `check`.
   */
  unit(rule: number, unit: object, dirty: boolean, check: () => Diagnostic[]): readonly Diagnostic[] {
    let byRule = this.entries.get(unit);
    const hit = byRule?.get(rule);
    if (!dirty && hit && hit.global === this.global && hit.check === this.check - 1) {
      this.hits++;
      hit.check = this.check;
      return hit.diagnostics;
    }
    this.misses++;
    const diagnostics = check();
    if (!byRule) this.entries.set(unit, (byRule = new Map()));
    byRule.set(rule, { global: this.global, check: this.check, diagnostics });
    return diagnostics;
  }
}

/**
 * What every unit's diagnostics may read besides its own objects: each
 * service's name and file (names in messages and suggestions, declarations
 * counted), the externals (a callee, its access policy) and the gateways'
 * names (a caller access rules may name), and the mesh directory.
 */
function globalKeyOf(model: MeshModel): string {
  // One string, hashed once: 20,000 calls into the hash were most of the comparison.
  const text = [model.dir, model.displayDir, ...model.services.map((s) => `${s.name}\0${s.file}`), JSON.stringify(model.externals ?? []), ...(model.gateways ?? []).map((g) => g.name)].join('\0');
  return createHash('sha256').update(text).digest('base64');
}
