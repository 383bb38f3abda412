import * as protobuf from 'protobufjs';
import { ENVOY_CODES as C, type Finding, error, warning } from './codes';
import { type JsonObject, type JsonPath, describeJsonType, isObject } from './json-path';
import * as pgv from './pgv';
import {
  ANY,
  DURATION,
  FIELD_MASK,
  LIST_VALUE,
  NULL_VALUE,
  STRUCT,
  type ScalarKind,
  type ScalarValue,
  TIMESTAMP,
  TYPED_STRUCTS,
  VALUE,
  WRAPPER_KINDS,
  type SecondsNanos,
  hasSpecialJson,
  parseDuration,
  parseFieldMask,
  parseScalar,
  parseTimestamp,
} from './proto3-json';
import { fieldIndex, suggestField, valueTypeOf, type ValueType } from './proto-fields';
import { fullNameOf, lookupMessageType } from './proto-registry';

/**
 * Strict structural check of a proto3 JSON value against a message type, the
 * way Envoy reads config (unknown fields are errors), plus the
 * protoc-gen-validate rules Envoy runs after parsing. Findings carry the JSON
 * path relative to the value passed in (prefixed by `basePath`).
 */
export interface CheckOptions {
  /** Called for each message checked (after its fields), e.g. to collect references for cross-checks. */
  readonly onMessage?: (typeName: string, value: JsonObject, path: JsonPath) => void;
  /** Messages of some types checked once per content (see SubMessageMemo). */
  readonly memo?: SubMessageMemo;
}

/**
 * Checks of sub-messages reused by content: many resources share parts (the
 * virtual host of a service is the same in the route configuration of each of
 * its callers), and a changed resource is mostly unchanged parts. An entry
 * holds what checking the message alone found, with paths relative to it, and
 * the visits `onMessage` gets that `keepVisit` selects; replayed under the
 * path where the message sits, in the order a walk would have made them. The
 * depth is part of the key (the nesting limit counts from the resource).
 */
export interface SubMessageMemo {
  /** Full names of the message types memoized. */
  readonly types: ReadonlySet<string>;
  readonly keyOf: (value: JsonObject) => string;
  readonly lookup: (key: string, compute: () => SubMessageCheck) => SubMessageCheck;
  readonly keepVisit: (typeName: string) => boolean;
}

export interface SubMessageCheck {
  readonly findings: readonly Finding[];
  readonly durationRange: readonly Finding[];
  readonly visits: ReadonlyArray<readonly [string, JsonObject, JsonPath]>;
}

export function checkMessage(type: protobuf.Type, value: unknown, basePath: JsonPath = [], opts: CheckOptions = {}): Finding[] {
  const checker = new MessageChecker(opts);
  checker.message(type, value, basePath, 0);
  // Envoy's own duration range, only where no PGV duration rule already said so (one finding per value).
  const pgvDuration = new Set(checker.findings.filter((f) => f.code === C.PGV_DURATION).map((f) => JSON.stringify(f.path)));
  return [...checker.findings, ...checker.durationRange.filter((f) => !pgvDuration.has(JSON.stringify(f.path)))];
}

/** One message checked alone (for SubMessageMemo): findings relative to it, the visits kept. */
function checkAlone(type: protobuf.Type, value: JsonObject, depth: number, memo: SubMessageMemo): SubMessageCheck {
  const visits: Array<readonly [string, JsonObject, JsonPath]> = [];
  const checker = new MessageChecker({ memo, onMessage: (t, v, p) => void (memo.keepVisit(t) && visits.push([t, v, p])) }, value);
  checker.message(type, value, [], depth);
  return { findings: checker.findings, durationRange: checker.durationRange, visits };
}

const under = (path: JsonPath, f: Finding): Finding => (f.path.length === 0 && path.length === 0 ? f : { ...f, path: [...path, ...f.path] });

/** Normalized value of a WKT, handed to the PGV rules of the field that holds it. */
type WktValue = ScalarValue | SecondsNanos | { readonly typeUrl: string } | undefined;

const MAX_DEPTH = 100;
const ENVOY_MAX_DURATION_SECONDS = 9_223_372_035n;

/** The field being checked: what its values are and which PGV rules it carries. */
interface FieldCtx {
  readonly type: protobuf.Type;
  readonly field: protobuf.Field;
  readonly vt: ValueType;
  readonly rules: pgv.FieldRules | undefined;
}

/** A field as written in the input: the key used (proto or JSON name) and its value. */
interface GivenField {
  readonly key: string;
  readonly value: unknown;
}

/** `RouteAction.cluster`, as PGV names a field in its messages. */
const label = (f: FieldCtx): string => `${f.type.name}.${f.field.name}`;

class MessageChecker {
  readonly findings: Finding[] = [];
  /** Kept apart: dropped where a PGV duration rule reports the same value (see checkMessage). */
  readonly durationRange: Finding[] = [];

  /** `alone`: the message checkAlone checks (not looked up in the memo again). */
  constructor(
    private readonly opts: CheckOptions,
    private readonly alone?: JsonObject,
  ) {}

  /** Checks one message value; returns its normalized form when it is a WKT with PGV rules. */
  message(type: protobuf.Type, value: unknown, path: JsonPath, depth: number): WktValue {
    if (depth > MAX_DEPTH) {
      this.findings.push(error(C.WRONG_TYPE, path, `nesting deeper than ${MAX_DEPTH} levels`));
      return undefined;
    }
    const name = fullNameOf(type);
    const memo = this.opts.memo;
    if (memo !== undefined && value !== this.alone && isObject(value) && memo.types.has(name)) {
      const entry = memo.lookup(`${name}\0${depth}\0${memo.keyOf(value)}`, () => checkAlone(type, value, depth, memo));
      for (const f of entry.findings) this.findings.push(under(path, f));
      for (const f of entry.durationRange) this.durationRange.push(under(path, f));
      const visit = this.opts.onMessage;
      if (visit !== undefined) for (const [t, v, p] of entry.visits) visit(t, v, p.length === 0 ? path : [...path, ...p]);
      return undefined;
    }
    const kind = WRAPPER_KINDS[name];
    if (kind !== undefined) return this.scalar(kind, value, path);
    switch (name) {
      case ANY:
        return this.any(value, path, depth);
      case DURATION:
        return this.duration(value, path);
      case TIMESTAMP:
        return this.parsed(parseTimestamp(value), path);
      case FIELD_MASK:
        this.parsed(parseFieldMask(value), path);
        return undefined;
      case STRUCT:
        return this.expect(isObject(value), 'an object (Struct)', value, path);
      case LIST_VALUE:
        return this.expect(Array.isArray(value), 'a list (ListValue)', value, path);
      case VALUE:
        return undefined; // any JSON value, null included
    }
    if (!isObject(value)) return this.expect(false, `an object (${type.name})`, value, path);
    this.fields(type, value, path, depth, undefined);
    this.opts.onMessage?.(name, value, path);
    return undefined;
  }

  private expect(okay: boolean, what: string, value: unknown, path: JsonPath): undefined {
    if (!okay) this.findings.push(error(C.WRONG_TYPE, path, `expected ${what}, got ${describeJsonType(value)}`));
    return undefined;
  }

  private parsed<T>(p: { ok: true; value: T } | { ok: false; message: string }, path: JsonPath): T | undefined {
    if (p.ok) return p.value;
    this.findings.push(error(C.WRONG_TYPE, path, p.message));
    return undefined;
  }

  /**
   * Beyond PGV, Envoy checks every Duration it loads, in any message
   * (MessageUtil::validateDurationFields in source/common/protobuf/utility.cc):
   * never negative, and few enough seconds to fit int64 nanoseconds. Measured
   * against Envoy 1.40: 9223372035s loads, 9223372036s does not.
   */
  private duration(value: unknown, path: JsonPath): SecondsNanos | undefined {
    const d = this.parsed(parseDuration(value), path);
    if (d === undefined) return undefined;
    if (d.seconds < 0n || d.nanos < 0) this.durationRange.push(error(C.PGV_DURATION, path, `Envoy rejects negative durations (got ${String(value)})`));
    else if (d.seconds > ENVOY_MAX_DURATION_SECONDS) {
      this.durationRange.push(error(C.PGV_DURATION, path, `duration ${String(value)} is out of Envoy's range (at most ${ENVOY_MAX_DURATION_SECONDS}s, so it fits int64 nanoseconds)`));
    }
    return d;
  }

  private scalar(kind: ScalarKind, value: unknown, path: JsonPath): ScalarValue | undefined {
    const p = parseScalar(kind, value);
    if (p.ok) return p.value;
    this.findings.push(error(C.WRONG_TYPE, path, `${p.message}, got ${describeJsonType(value)}`));
    return undefined;
  }

  /** Any: `@type` names the message, whose fields sit inline (or under `value` for WKTs with special JSON). */
  private any(value: unknown, path: JsonPath, depth: number): WktValue {
    if (!isObject(value)) return this.expect(false, 'an object with "@type" (Any)', value, path);
    const url = value['@type'];
    if (typeof url !== 'string' || url === '') {
      this.findings.push(error(C.UNRESOLVED_ANY, path, 'Any has no "@type"', 'add "@type": type.googleapis.com/<message>'));
      return undefined;
    }
    const inner = url.includes('/') ? lookupMessageType(url) : undefined;
    if (inner === undefined) {
      this.findings.push(
        error(C.UNRESOLVED_ANY, [...path, '@type'], `cannot resolve "@type" ${JSON.stringify(url)}`, ANY_HINT),
      );
      return undefined;
    }
    const innerName = fullNameOf(inner);
    if (hasSpecialJson(innerName)) {
      this.onlyKeys(value, ['@type', 'value'], path);
      this.message(inner, value['value'], [...path, 'value'], depth + 1);
    } else {
      this.fields(inner, value, path, depth + 1, '@type');
      this.opts.onMessage?.(innerName, value, path);
      if (TYPED_STRUCTS.includes(innerName)) this.typedStruct(value, path, depth);
    }
    return { typeUrl: url };
  }

  private onlyKeys(value: JsonObject, allowed: readonly string[], path: JsonPath): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.findings.push(error(C.UNKNOWN_FIELD, [...path, key], `unknown field "${key}"`));
    }
  }

  /** TypedStruct: the Struct under `value` must be a valid JSON form of `type_url` (Envoy converts it). */
  private typedStruct(value: JsonObject, path: JsonPath, depth: number): void {
    const url = value['type_url'] ?? value['typeUrl'];
    if (typeof url !== 'string' || url === '') return;
    const target = lookupMessageType(url);
    if (target === undefined) {
      this.findings.push(error(C.UNRESOLVED_ANY, [...path, 'type_url'], `cannot resolve type_url ${JSON.stringify(url)}`, ANY_HINT));
      return;
    }
    this.message(target, value['value'] ?? {}, [...path, 'value'], depth + 1);
  }

  /** The fields of a plain message: keys first (unknown, duplicate, oneof), then each field with its rules. */
  private fields(type: protobuf.Type, obj: JsonObject, path: JsonPath, depth: number, skip: string | undefined): void {
    const given = this.matchKeys(type, obj, path, skip);
    // Visit, in declaration order, the fields that are set and the unset ones whose absence
    // reports something: most of an Envoy message's fields are unset and carry no rule. What an
    // unset field reports does not depend on the value, so planOf worked it out once per type.
    const plan = planOf(type);
    const visit: protobuf.Field[] = [];
    for (const field of given.keys()) visit.push(field);
    for (const field of plan.absentReports.keys()) if (!given.has(field)) visit.push(field);
    if (visit.length > 1) visit.sort((a, b) => plan.order.get(a)! - plan.order.get(b)!);
    for (const field of visit) {
      const entry = given.get(field);
      if (entry === undefined) for (const f of plan.absentReports.get(field)!) this.findings.push({ ...f, path: [...path, ...f.path] });
      else this.present(type, field, entry.value, [...path, entry.key], depth);
    }
    for (const oneof of plan.requiredOneofs) {
      const set = oneof.fieldsArray.some((f) => given.has(f));
      if (!set) {
        const names = oneof.fieldsArray.map((f) => f.name).join(', ');
        this.findings.push(error(C.PGV_ONEOF_REQUIRED, path, `${type.name}: exactly one of [${names}] must be set (oneof ${oneof.name})`));
      }
    }
  }

  /** Maps JSON keys (proto name or lowerCamel json name) to fields, reporting unknown keys and oneof conflicts. */
  private matchKeys(type: protobuf.Type, obj: JsonObject, path: JsonPath, skip: string | undefined): Map<protobuf.Field, GivenField> {
    const index = fieldIndex(type);
    const given = new Map<protobuf.Field, GivenField>();
    let oneofSetBy: Map<protobuf.OneOf, string> | undefined;
    for (const key in obj) {
      if (key === skip) continue; // `@type` of an Any
      const value = obj[key];
      const field = index.get(key);
      if (field === undefined) {
        this.findings.push(error(C.UNKNOWN_FIELD, [...path, key], `unknown field "${key}" in ${fullNameOf(type)}`, suggestField(type, key)));
        continue;
      }
      const earlier = given.get(field);
      if (earlier !== undefined) {
        this.findings.push(error(C.DUPLICATE_FIELD, [...path, key], `field "${field.name}" is set twice (as "${earlier.key}" and "${key}")`));
        continue;
      }
      // proto3 JSON: null means "not set", except for google.protobuf.Value where it is a value.
      if (value === null && !isNullable(field)) continue;
      const oneof = field.partOf;
      if (oneof !== null) {
        oneofSetBy ??= new Map();
        const other = oneofSetBy.get(oneof);
        if (other !== undefined) {
          const msg = `"${key}" conflicts with "${other}": both belong to oneof ${oneof.name} of ${type.name}, set only one`;
          this.findings.push(error(C.ONEOF_CONFLICT, [...path, key], msg));
          continue;
        }
        oneofSetBy.set(oneof, key);
      }
      given.set(field, { key, value });
    }
    return given;
  }

  /** PGV on unset fields: scalars are checked at their default value, required messages reported. */
  absent(type: protobuf.Type, field: protobuf.Field, path: JsonPath): void {
    if (field.partOf !== null) return; // unset oneof members (and proto3 optionals) are not validated
    const where = [...path, field.name];
    const { vt } = infoOf(field);
    const single = !field.repeated && !field.map;
    // Envoy also rejects an unset enum whose default is disallowed (ApiConfigSource.api_type).
    if (single && vt.kind === 'enum') this.enumDeprecation(vt.type, vt.type.valuesById[0] ?? '', where, ' (the default of an unset field)');
    const rules = pgv.fieldRules(field);
    if (rules === undefined) return;
    const f: FieldCtx = { type, field, vt, rules };
    if (!single) {
      const kind = field.map ? 'map' : 'repeated';
      const r = pgv.rulesFor(rules, kind);
      if (r !== undefined) this.violations(f, pgv.checkCountRules(r, 0, kind), where);
    } else if (vt.kind === 'message') {
      if (pgv.requiresPresence(rules)) this.findings.push(error(C.PGV_REQUIRED, where, `${label(f)} is required`));
    } else {
      this.applyRules(f, vt, vt.kind === 'enum' ? 0 : defaultScalar(vt.scalar), rules, where);
    }
  }

  private present(type: protobuf.Type, field: protobuf.Field, value: unknown, path: JsonPath, depth: number): void {
    const info = infoOf(field);
    if (info.deprecated) this.deprecation(type, field, path);
    const f: FieldCtx = { type, field, vt: info.vt, rules: info.rules };
    if (field.map) return this.mapField(f, value, path, depth);
    if (field.repeated) return this.repeatedField(f, value, path, depth);
    const normalized = this.single(f.vt, value, path, depth);
    if (f.rules !== undefined && normalized !== undefined) this.applyRules(f, f.vt, normalized, f.rules, path);
  }

  private repeatedField(f: FieldCtx, value: unknown, path: JsonPath, depth: number): void {
    if (!Array.isArray(value)) return void this.expect(false, `a list (repeated ${f.field.name})`, value, path);
    const r = pgv.rulesFor(f.rules, 'repeated');
    const items = pgv.rulesFor(r, 'items');
    const nullable = f.vt.kind === 'message' && fullNameOf(f.vt.type) === VALUE;
    value.forEach((el, i) => {
      const elPath = [...path, i];
      if (el === null && !nullable) return void this.findings.push(error(C.WRONG_TYPE, elPath, 'null is not allowed in a list'));
      const normalized = this.single(f.vt, el, elPath, depth);
      if (items !== undefined && normalized !== undefined) this.applyRules(f, f.vt, normalized, items, elPath);
    });
    if (r === undefined) return;
    this.violations(f, pgv.checkCountRules(r, value.length, 'repeated'), path);
    if (r['unique'] === true) this.unique(f, value, path);
  }

  private unique(f: FieldCtx, list: readonly unknown[], path: JsonPath): void {
    const seen = new Set<string>();
    list.forEach((el, i) => {
      const key = JSON.stringify(el);
      if (seen.has(key)) this.findings.push(error(C.PGV_REPEATED, [...path, i], `${label(f)}: items must be unique (${key} repeats)`));
      seen.add(key);
    });
  }

  private mapField(f: FieldCtx, value: unknown, path: JsonPath, depth: number): void {
    if (!isObject(value)) return void this.expect(false, `an object (map ${f.field.name})`, value, path);
    const r = pgv.rulesFor(f.rules, 'map');
    const keyRules = pgv.rulesFor(r, 'keys');
    const valueRules = pgv.rulesFor(r, 'values');
    const keyKind = (f.field as unknown as protobuf.MapField).keyType as ScalarKind;
    for (const [k, el] of Object.entries(value)) {
      const elPath = [...path, k];
      const key = this.mapKey(keyKind, k, elPath);
      if (keyRules !== undefined && key !== undefined) this.applyRules(f, { kind: 'scalar', scalar: keyKind }, key, keyRules, elPath);
      const normalized = this.single(f.vt, el, elPath, depth);
      if (valueRules !== undefined && normalized !== undefined) this.applyRules(f, f.vt, normalized, valueRules, elPath);
    }
    if (r !== undefined) this.violations(f, pgv.checkCountRules(r, Object.keys(value).length, 'map'), path);
  }

  /** Map keys are always JSON strings; other key types must parse from them. */
  private mapKey(kind: ScalarKind, k: string, path: JsonPath): ScalarValue | undefined {
    if (kind === 'string') return k;
    if (kind !== 'bool') return this.scalar(kind, k, path);
    if (k === 'true' || k === 'false') return k === 'true';
    this.findings.push(error(C.WRONG_TYPE, path, `map key "${k}" is not a valid bool`));
    return undefined;
  }

  private single(vt: ValueType, value: unknown, path: JsonPath, depth: number): WktValue | number {
    if (vt.kind === 'message') return this.message(vt.type, value, path, depth + 1);
    if (vt.kind === 'enum') return this.enumValue(vt.type, value, path);
    return this.scalar(vt.scalar, value, path);
  }

  private enumValue(type: protobuf.Enum, value: unknown, path: JsonPath): number | undefined {
    if (value === null && fullNameOf(type) === NULL_VALUE) return 0;
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && type.values[value] !== undefined) {
      this.enumDeprecation(type, value, path);
      return type.values[value];
    }
    const names = Object.keys(type.values);
    const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
    this.findings.push(error(C.UNKNOWN_ENUM, path, `unknown ${type.name} value ${JSON.stringify(value)}`, `one of: ${shown}`));
    return undefined;
  }

  /** Runs the rules of one kind (string, uint32, duration...) that match the normalized value. */
  private applyRules(f: FieldCtx, vt: ValueType, value: NonNullable<WktValue> | number, rules: pgv.FieldRules, path: JsonPath): void {
    const out: pgv.Violation[] = [];
    const wrapped = vt.kind === 'message' ? WRAPPER_KINDS[fullNameOf(vt.type)] : undefined;
    if (vt.kind === 'enum' && typeof value === 'number') {
      const r = pgv.rulesFor(rules, 'enum');
      if (r !== undefined) out.push(...pgv.checkEnumRules(r, value, vt.type));
    } else if (typeof value === 'string') {
      const r = pgv.rulesFor(rules, 'string');
      if (r !== undefined) out.push(...pgv.checkStringRules(r, value));
    } else if (typeof value === 'number' || typeof value === 'bigint') {
      const r = pgv.rulesFor(rules, vt.kind === 'scalar' ? vt.scalar : wrapped ?? '');
      if (r !== undefined) out.push(...pgv.checkNumberRules(r, Number(value)));
    } else if (typeof value === 'boolean') {
      const r = pgv.rulesFor(rules, 'bool');
      if (r !== undefined) out.push(...pgv.checkBoolRules(r, value));
    } else if (Buffer.isBuffer(value)) {
      const r = pgv.rulesFor(rules, 'bytes');
      if (r !== undefined) out.push(...pgv.checkBytesRules(r, value));
    } else if ('seconds' in value && vt.kind === 'message' && fullNameOf(vt.type) === DURATION) {
      const r = pgv.rulesFor(rules, 'duration');
      if (r !== undefined) out.push(...pgv.checkDurationRules(r, value));
    }
    this.violations(f, out, path);
  }

  private violations(f: FieldCtx, list: readonly pgv.Violation[], path: JsonPath): void {
    for (const x of list) this.findings.push(error(x.code, path, `${label(f)}: ${x.message}`));
  }

  private deprecation(type: protobuf.Type, field: protobuf.Field, path: JsonPath): void {
    const o = field.options ?? {};
    const label = `${fullNameOf(type)}.${field.name}`;
    if (o['(envoy.annotations.disallowed_by_default)'] === true) {
      this.findings.push(error(C.DISALLOWED_BY_DEFAULT, path, `${label} is deprecated and disallowed by default`));
    } else if (o['deprecated'] === true) {
      const since = o['(envoy.annotations.deprecated_at_minor_version)'];
      this.findings.push(warning(C.DEPRECATED_FIELD, path, `${label} is deprecated${typeof since === 'string' ? ` (since ${since})` : ''}`));
    }
  }

  private enumDeprecation(type: protobuf.Enum, name: string, path: JsonPath, note = ''): void {
    const o = type.valuesOptions?.[name] ?? {};
    const label = `${fullNameOf(type)}.${name}`;
    if (o['(envoy.annotations.disallowed_by_default_enum)'] === true) {
      this.findings.push(error(C.DISALLOWED_BY_DEFAULT, path, `${label}${note} is deprecated and disallowed by default`));
    } else if (o['deprecated'] === true) {
      this.findings.push(warning(C.DEPRECATED_ENUM_VALUE, path, `enum value ${label}${note} is deprecated`));
    }
  }
}

/** What the checker needs of a field, worked out once per field. */
interface FieldInfo {
  readonly vt: ValueType;
  readonly rules: pgv.FieldRules | undefined;
  /** Whether absent() can report anything for this field when it is unset. */
  readonly absentMayReport: boolean;
  /** Whether deprecation() can report anything when it is set. */
  readonly deprecated: boolean;
}

const infoCache = new WeakMap<protobuf.Field, FieldInfo>();

/**
 * Per message type: each field's declaration index; what each unset field
 * reports (paths relative to the message; only fields that report anything);
 * the oneofs PGV requires.
 */
interface TypePlan {
  readonly order: ReadonlyMap<protobuf.Field, number>;
  readonly absentReports: ReadonlyMap<protobuf.Field, readonly Finding[]>;
  readonly requiredOneofs: readonly protobuf.OneOf[];
}

const planCache = new WeakMap<protobuf.Type, TypePlan>();

function planOf(type: protobuf.Type): TypePlan {
  let plan = planCache.get(type);
  if (plan === undefined) {
    const fields = type.fieldsArray;
    const absentReports = new Map<protobuf.Field, Finding[]>();
    for (const field of fields) {
      if (!infoOf(field).absentMayReport) continue;
      const scratch = new MessageChecker({});
      scratch.absent(type, field, []);
      if (scratch.findings.length > 0) absentReports.set(field, scratch.findings);
    }
    plan = { order: new Map(fields.map((f, i) => [f, i])), absentReports, requiredOneofs: type.oneofsArray.filter((o) => pgv.isOneofRequired(o)) };
    planCache.set(type, plan);
  }
  return plan;
}

function infoOf(field: protobuf.Field): FieldInfo {
  let info = infoCache.get(field);
  if (info === undefined) {
    const vt = valueTypeOf(field);
    const rules = pgv.fieldRules(field);
    const single = !field.repeated && !field.map;
    const o = field.options ?? {};
    info = {
      vt,
      rules,
      // The cases absent() looks at: PGV rules, or a single enum whose default may be deprecated.
      absentMayReport: field.partOf === null && (rules !== undefined || (single && vt.kind === 'enum')),
      deprecated: o['(envoy.annotations.disallowed_by_default)'] === true || o['deprecated'] === true,
    };
    infoCache.set(field, info);
  }
  return info;
}

const ANY_HINT =
  'use type.googleapis.com/<full message name> of an Envoy v3 API message (v2 and unknown extensions are rejected by Envoy)';

function isNullable(field: protobuf.Field): boolean {
  const t = field.resolvedType;
  return t !== null && (fullNameOf(t) === VALUE || fullNameOf(t) === NULL_VALUE);
}

function defaultScalar(kind: ScalarKind): ScalarValue {
  if (kind === 'string') return '';
  if (kind === 'bool') return false;
  if (kind === 'bytes') return Buffer.alloc(0);
  return 0;
}
