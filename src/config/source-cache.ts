/**
 * Per-file results of a load, reused by the next load of the same text
 * (issue 20 item 1): the control plane lints every apply, and an apply that
 * changes one manifest of 10,000 used to parse, schema-check and model all
 * 10,000 again. Keyed by the file's name as shown in diagnostics, the schema
 * it is checked against and its text (and, for a manifest's model, a hash
 * of the settings it was built with): a hit is exactly what the miss would
 * compute. The cross-service checks (src/model/checks.ts) have a cache of
 * their own, per service (src/model/check-cache.ts).
 *
 * Bounded: one generation per load, and what the last load did not use is
 * dropped at the next (as src/validate/validate.ts's ValidationCache).
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../diag/diagnostic';
import type { PolicyKeys } from '../model/checks';
import type { ExternalService, Gateway, GuardrailRule, ServiceManifest, ServicePolicies } from '../model/types';
import type { SourceFile } from './source-file';

export interface CachedSource {
  readonly src: SourceFile;
  /** Parse and schema diagnostics, as the load reported them. */
  readonly diagnostics: readonly Diagnostic[];
  /** For a schema-valid manifest: its model, built with the settings whose key is `settingsKey`. */
  service?: { readonly settingsKey: string; readonly manifest: ServiceManifest };
  /** For the policy file: each service's policies, built from this very text (they depend on nothing else). */
  policies?: Map<string, ServicePolicies>;
  /** For the policy file: what the model takes from it besides policies, built with the settings whose key is `settingsKey`. */
  derived?: { readonly settingsKey: string; readonly value: PolicyDerived };
}

/** A file's place in the cache (its schema and name) and its text. */
export interface SourceKey {
  readonly id: string;
  readonly text: string;
}

export class SourceCache {
  private current = new Map<string, { readonly text: string; readonly entry: CachedSource }>();
  private previous = new Map<string, { readonly text: string; readonly entry: CachedSource }>();
  hits = 0;
  misses = 0;

  /**
   * The key of one file's text checked against `schema`, shown as `display`. Looked up by
   * schema and name, then the text compared: a sha256 of each of 10,000 texts (and later a
   * map keyed by the whole text, which hashes it) was a tenth of a one-manifest apply's lint,
   * where comparing two equal texts is one memory comparison.
   */
  static key(display: string, schema: string, text: string): SourceKey {
    return { id: `${schema}\0${display}`, text };
  }

  get(key: SourceKey): CachedSource | undefined {
    const found = this.current.get(key.id) ?? this.previous.get(key.id);
    const hit = found?.text === key.text ? found : undefined;
    if (hit) {
      this.hits++;
      this.current.set(key.id, hit);
    } else this.misses++;
    return hit?.entry;
  }

  set(key: SourceKey, entry: CachedSource): void {
    this.current.set(key.id, { text: key.text, entry });
  }

  /** Starts a load: entries the previous load did not use are forgotten. */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  get size(): number {
    return new Set([...this.current.keys(), ...this.previous.keys()]).size;
  }
}

/** What the load of one file found (see the module comment). */
export interface LintEntry {
  /** Parse and schema diagnostics. */
  readonly diagnostics: readonly Diagnostic[];
  /** No parse or schema error: the file's model is built. */
  readonly valid: boolean;
  /** A schema-valid manifest's model (the key includes the settings it was built with). */
  readonly manifest?: ServiceManifest;
  /** The policy file's: each service's policies, as far as a load built them. */
  readonly policies?: ReadonlyMap<string, ServicePolicies>;
  /** The policy file's: what the model takes from it besides policies (the key includes the settings). */
  readonly derived?: PolicyDerived;
}

/** What a load builds from the policy file besides each service's policies. */
export interface PolicyDerived {
  readonly policyKeys: readonly PolicyKeys[];
  readonly externals: readonly ExternalService[];
  readonly guardrails: readonly GuardrailRule[];
  readonly gateways: readonly Gateway[];
}

/**
 * Per-file results kept across processes (`mesh build`'s lint cache,
 * src/cache/lint-cache.ts): a hit is what the miss would compute.
 */
export interface PersistedLintCache {
  get(key: string): LintEntry | undefined;
  set(key: string, entry: LintEntry): void;
}

/** The key of one file: its bytes' SHA-256, the schema, its display name, and what else its result depends on. */
export function lintKey(schema: string, display: string, bytes: Uint8Array, extra = ''): string {
  return createHash('sha256').update(`${schema}\0${display}\0${extra}\0`).update(bytes).digest('base64');
}

/** The key of the settings a manifest's model depends on (mesh.yml, defaults included). */
export function settingsKey(settings: unknown): string {
  return createHash('sha256').update(JSON.stringify(settings) ?? '').digest('base64');
}
