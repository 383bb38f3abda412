/**
 * JSON Schema validation (draft 2020-12, ajv) of each source file, with every
 * ajv error turned into a positioned diagnostic with a stable code. The
 * schemas in schemas/ are the same ones editors use (yaml-language-server).
 */
import { excerpt } from '../diag/excerpt';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import { SCHEMAS_DIR } from '../paths';
import { didYouMean } from '../util/suggest';
import { formatPath, keyPos, valuePos, type DocPath } from './positions';
import type { SourceFile } from './source-file';

export type SchemaName = 'mesh' | 'mesh_policies' | 'service';

let ajv: Ajv2020 | undefined;
const validators = new Map<SchemaName, ValidateFunction>();

/** Each schema compiled when first needed: `mesh serve` checks only mesh.yml at start (issue 20). */
function getValidator(name: SchemaName): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    if (!ajv) {
      // verbose: error objects carry their parentSchema, which lists the known keys for "did you mean".
      ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
      ajv.addFormat('ipv4-or-ipv6', (s: string) => net.isIP(s) !== 0);
    }
    const schema = JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, `${name}.schema.json`), 'utf8'));
    validators.set(name, (v = ajv.compile(schema)));
  }
  return v;
}

export function checkSchema(src: SourceFile, schema: SchemaName): Diagnostic[] {
  const validate = getValidator(schema);
  if (validate(src.value)) return [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const err of validate.errors ?? []) {
    const d = toDiagnostic(src, err);
    if (!d) continue;
    const key = `${d.line}:${d.col}:${d.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Turn pointer segments into a DocPath: numeric segments index arrays in the data. */
function toDocPath(value: unknown, segs: string[]): DocPath {
  const out: Array<string | number> = [];
  let cur: unknown = value;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      out.push(Number(s));
      cur = cur[Number(s)];
    } else {
      out.push(s);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[s] : undefined;
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${excerpt(v)}`;
  return `${typeof v} ${String(v)}`;
}

function toDiagnostic(src: SourceFile, err: ErrorObject): Diagnostic | undefined {
  const base = toDocPath(src.value, parsePointer(err.instancePath));
  const where = formatPath(base) || '(top level)';
  const parent = (err.parentSchema ?? {}) as { properties?: Record<string, unknown>; description?: string; enum?: unknown[] };
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      const p = [...base, key];
      const known = Object.keys(parent.properties ?? {});
      return diagAt(keyPos(src, p), 'error', 'MESH020', `unknown key ${excerpt(key)} in ${where}${didYouMean(key, known)}`, {
        path: formatPath(p),
        hint: known.length ? `known keys: ${known.join(', ')}` : undefined,
      });
    }
    case 'required': {
      const key = (err.params as { missingProperty: string }).missingProperty;
      return diagAt(valuePos(src, base), 'error', 'MESH022', `${where} is missing required key "${key}"`, { path: formatPath(base) });
    }
    case 'type':
      return diagAt(valuePos(src, base), 'error', 'MESH021', `${where} must be ${article((err.params as { type: string }).type)}, not ${describe(err.data)}`, { path: formatPath(base) });
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const { comparison, limit } = err.params as { comparison: string; limit: number };
      return diagAt(valuePos(src, base), 'error', 'MESH023', `${where} must be ${comparison} ${limit}, not ${String(err.data)}`, { path: formatPath(base) });
    }
    case 'pattern':
    case 'format': {
      if (err.propertyName !== undefined) return nameError(src, base, err.propertyName);
      return diagAt(valuePos(src, base), 'error', 'MESH024', `${where}: ${describe(err.data)} is not valid: ${parent.description ?? err.message}`, { path: formatPath(base) });
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues.map(String);
      return diagAt(valuePos(src, base), 'error', 'MESH025', `${where} must be one of ${allowed.join(', ')}, not ${describe(err.data)}${didYouMean(String(err.data), allowed)}`, { path: formatPath(base) });
    }
    case 'propertyNames':
      return undefined; // the inner error (with propertyName) already said it, at the key
    case 'uniqueItems': {
      // ajv names the two equal items i and j; point at the later one (the repeat).
      const { i, j } = err.params as { i: number; j: number };
      const p = [...base, Math.max(i, j)];
      return diagAt(valuePos(src, p), 'error', 'MESH027', `${where} lists ${describe((err.data as unknown[])[Math.max(i, j)])} twice`, { path: formatPath(p) });
    }
    case 'minItems':
    case 'minProperties':
      return diagAt(valuePos(src, base), 'error', 'MESH028', `${where} must not be empty`, { path: formatPath(base) });
    default:
      return diagAt(valuePos(src, base), 'error', 'MESH029', `${where} ${err.message ?? 'is invalid'}`, { path: formatPath(base) });
  }
}

function nameError(src: SourceFile, base: DocPath, name: string): Diagnostic {
  const p = [...base, name];
  return diagAt(keyPos(src, p), 'error', 'MESH026', `"${name}" is not a valid name in ${formatPath(base) || '(top level)'}: names are lowercase letters, digits and dashes`, { path: formatPath(p) });
}

function article(t: string): string {
  const words: Record<string, string> = { object: 'a mapping', array: 'a list', integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false' };
  return t.split(',').map((x) => words[x] ?? x).join(' or ');
}
