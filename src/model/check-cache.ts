/**
 * The cross-service checks of the last lints, per rule and per unit (a
 * service, or a service's policies), for the control plane's applies (issue
 * 20 item 1: a one-manifest apply at 10,000 services ran every rule over the
 * whole model). A unit's diagnostics are a function of the objects the rule
 * reads for it (its manifest or policies, those of the services it calls or
 * that call it, per the rule: checks.ts says which) and of the mesh-wide
 * inputs (the names and files of the services, externals, gateways). Entries
 * are keyed by those objects' identities: the loader's source cache hands the
 * next lint the very objects of unchanged files, and a changed file's new
 * objects miss. The mesh-wide inputs are compared by content: when they
 * change, every unit is checked again.
 *
 * Bounded by the model: entries hang off the unit objects (a WeakMap), which
 * go when the source cache drops them. test/model/incremental-checks.test.ts
 * holds the diagnostics identical to a full check for random edit sequences.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../diag/diagnostic';
import type { MeshModel } from './types';

interface Entry {
  readonly global: object;
  readonly reads: readonly (object | undefined)[];
  readonly diagnostics: readonly Diagnostic[];
}

export class CheckCache {
  private readonly entries = new WeakMap<object, Map<number, Entry>>();
  private globalKey = '';
  /** One object per distinct mesh-wide input: entries made under another are stale. */
  private global: object = {};
  hits = 0;
  misses = 0;

  /** For one check of `model`: the mesh-wide inputs compared with the last check's. */
  begin(model: MeshModel): void {
    const key = globalKeyOf(model);
    if (key !== this.globalKey) {
      this.globalKey = key;
      this.global = {};
    }
  }

  /**
   * `rule`'s diagnostics for `unit`, reused when the unit and every object in
   * `reads` are the very ones of the last check, else computed by `check`.
   */
  unit(rule: number, unit: object, reads: readonly (object | undefined)[], check: () => Diagnostic[]): readonly Diagnostic[] {
    let byRule = this.entries.get(unit);
    const hit = byRule?.get(rule);
    if (hit && hit.global === this.global && sameObjects(hit.reads, reads)) {
      this.hits++;
      return hit.diagnostics;
    }
    this.misses++;
    const diagnostics = check();
    if (!byRule) this.entries.set(unit, (byRule = new Map()));
    byRule.set(rule, { global: this.global, reads, diagnostics });
    return diagnostics;
  }
}

function sameObjects(a: readonly (object | undefined)[], b: readonly (object | undefined)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What every unit's diagnostics may read besides its own objects: each
 * service's name and file (names in messages and suggestions, declarations
 * counted), the externals (a callee, its access policy) and the gateways'
 * names (a caller access rules may name), and the mesh directory.
 */
function globalKeyOf(model: MeshModel): string {
  const h = createHash('sha256');
  h.update(model.dir).update('\0').update(model.displayDir).update('\0');
  for (const s of model.services) h.update(s.name).update('\0').update(s.file).update('\0');
  h.update(JSON.stringify(model.externals ?? []) ?? '').update('\0');
  for (const g of model.gateways ?? []) h.update(g.name).update('\0');
  return h.digest('base64');
}
