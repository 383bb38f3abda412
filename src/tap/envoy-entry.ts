/**
 * Envoy's HTTPAccessLogEntry (decoded by protobufjs, fields in proto names)
 * -> TapRecord. Read field by field from the decoded message, without
 * toObject: ingest is the tap's hot path (`npm run bench -- tap`).
 */
import { GUARDRAIL_METADATA } from '../envoy/filters/guardrail';
import { RESPONSE_FLAGS, recordSize, serviceOfCluster, type Direction, type GuardrailVerdict, type TapRecord } from './record';

type Msg = Record<string, unknown> | null | undefined;
/** Timestamps and Durations: seconds may be a number, a string or a Long. */
const num = (v: unknown): number => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : Number(String(v)));
const ms = (d: Msg): number => (d ? num(d.seconds) * 1000 + Math.round(num(d.nanos) / 1e6) : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

const FLAG_FIELDS: ReadonlyArray<readonly [string, string]> = Object.entries(RESPONSE_FLAGS).map(([field, [short]]) => [field, short] as const);
const NO_FLAGS: string[] = [];

function flagsOf(f: Msg): string[] {
  if (!f) return NO_FLAGS;
  let out: string[] | undefined;
  for (let i = 0; i < FLAG_FIELDS.length; i++) if (f[FLAG_FIELDS[i]![0]] === true) (out ??= []).push(FLAG_FIELDS[i]![1]);
  if (!out && !f.unauthorized_details) return NO_FLAGS;
  out ??= [];
  // unauthorized_details is set by the external authorization filters (UAEX); RBAC sets no flag.
  if (f.unauthorized_details) out.push('UAEX');
  return out.sort();
}

function addressOf(a: Msg): string {
  const s = a?.socket_address as Msg;
  return s ? `${str(s.address)}:${num(s.port_value)}` : '';
}

function peerUriSan(common: Msg): string {
  const tls = common?.tls_properties as Msg;
  const peer = tls?.peer_certificate_properties as Msg;
  const sans = (peer?.subject_alt_name as Msg[] | undefined) ?? [];
  for (const s of sans) if (s && typeof s.uri === 'string' && s.uri) return s.uri;
  return '';
}

export interface Sender {
  readonly node: string;
  /** The sender's SPIFFE id (from its certificate). */
  readonly spiffeId: string;
  readonly trustDomain: string;
}

export function recordOfEntry(entry: Msg, direction: Direction, sender: Sender): Omit<TapRecord, 'seq'> {
  const common = entry?.common_properties as Msg;
  const req = entry?.request as Msg;
  const res = entry?.response as Msg;
  const cluster = str(common?.upstream_cluster);
  const flags = flagsOf(common?.response_flags as Msg);
  const guardrail = direction === 'outbound' ? guardrailOf(common?.metadata as Msg) : undefined;
  // A refused request was never routed: the guardrail names its callee (a mesh service; an external system has no SPIFFE id).
  const calleeService = direction === 'inbound' ? '' : outboundService(cluster, str(req?.authority), flags) || (guardrail && !guardrail.external ? guardrail.callee : '');
  const callee = direction === 'inbound' ? sender.spiffeId : calleeService ? `spiffe://${sender.trustDomain}/svc/${calleeService}` : '';
  // What the guardrail matched in a header never reaches the store: the field that would keep that header is blanked.
  const hidden = guardrail?.header;
  const caller = direction === 'inbound' ? peerUriSan(common) : sender.spiffeId;
  const durationMs = common?.duration ? ms(common.duration as Msg) : ms(common?.time_to_last_downstream_tx_byte as Msg);
  const code = res?.response_code as Msg;
  const r: Omit<TapRecord, 'seq' | 'size'> & { size: number } = {
    size: 0,
    node: sender.node,
    direction,
    traceId: hidden === 'x-request-id' ? '' : str(req?.request_id),
    startMs: ms(common?.start_time as Msg),
    durationMs,
    method: methodName(req?.request_method),
    authority: hidden === ':authority' || hidden === 'host' ? '' : str(req?.authority),
    path: hidden === ':path' || hidden === 'x-envoy-original-path' ? '' : str(req?.original_path) || str(req?.path),
    status: code ? num(code.value) : 0,
    flags,
    upstreamCluster: cluster,
    upstreamHost: addressOf(common?.upstream_remote_address as Msg),
    caller,
    callee,
    details: str(res?.response_code_details),
    ...(guardrail ? { guardrail } : {}),
  };
  r.size = recordSize(r);
  return r;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REASONS = new Set(['body', 'header', 'over-window', 'inspection-error']);
const HEADER_NAME = /^:?[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/**
 * The guardrail's verdict from the entry's dynamic metadata
 * (filter_metadata["mesh.guardrail"], a Struct), or undefined when it refused
 * nothing. Only well-formed names are kept: the sender is authenticated, but
 * what its filter wrote is still input.
 */
function guardrailOf(metadata: Msg): GuardrailVerdict | undefined {
  const ns = (metadata?.filter_metadata as Record<string, Msg> | undefined)?.[GUARDRAIL_METADATA];
  const fields = ns?.fields as Record<string, Msg> | undefined;
  if (!fields) return undefined;
  // google.protobuf.Value is protobufjs's built-in definition: camelCase fields, whatever keepCase says.
  const s = (k: string): string => str(fields[k]?.stringValue ?? fields[k]?.string_value);
  const rule = s('rule');
  const callee = s('callee');
  if (!NAME.test(rule) || !NAME.test(callee)) return undefined;
  const reason = REASONS.has(s('reason')) ? s('reason') : 'unknown';
  const header = s('header').toLowerCase();
  return { rule, reason, callee, external: (fields.external?.boolValue ?? fields.external?.bool_value) === true, ...(reason === 'header' && HEADER_NAME.test(header) ? { header } : {}) };
}

const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The service an outbound entry called: its cluster's (outbound|<service>...).
 * Envoy 1.40 reports no upstream_cluster for a request it answered itself with
 * UH (every instance ejected: the circuit open) or UO, so for those the
 * authority the app called stands in: outbound routes match service names
 * (src/envoy/route.ts), so a UH/UO answer was routed to that service's cluster.
 */
function outboundService(cluster: string, authority: string, flags: readonly string[]): string {
  const s = serviceOfCluster(cluster);
  if (s || !(flags.includes('UH') || flags.includes('UO'))) return s;
  const host = authority.replace(/:\d+$/, '');
  return SERVICE_NAME.test(host) ? host : '';
}

/** envoy.config.core.v3.RequestMethod, by number (decoded enums are numbers). */
const METHODS = ['', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
function methodName(v: unknown): string {
  return typeof v === 'number' ? METHODS[v] ?? '' : str(v);
}
