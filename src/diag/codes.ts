/**
 * The catalogue of diagnostic codes. Codes are stable: once released, a code
 * keeps its meaning forever (CI pipelines and suppressions key on them).
 * docs/diagnostics.md documents every entry; a test keeps the two in step.
 */
import type { Severity } from './diagnostic';

export interface CodeInfo {
  readonly code: string;
  readonly severity: Severity;
  readonly title: string;
  /** I/O problems make `mesh lint` exit 2 instead of 1. */
  readonly io?: boolean;
}

const entries: CodeInfo[] = [
  { code: 'MESH001', severity: 'error', title: 'mesh directory missing or not a directory', io: true },
  { code: 'MESH002', severity: 'error', title: 'no service manifests (services/*.yml) found' },
  { code: 'MESH003', severity: 'error', title: 'file cannot be read', io: true },
  { code: 'MESH004', severity: 'error', title: 'file too large' },
  { code: 'MESH005', severity: 'error', title: 'file is not UTF-8 text' },
  { code: 'MESH006', severity: 'error', title: 'file is empty' },
  { code: 'MESH007', severity: 'error', title: 'file is a symbolic link leaving the mesh directory', io: true },
  { code: 'MESH010', severity: 'error', title: 'YAML syntax error' },
  { code: 'MESH011', severity: 'error', title: 'duplicate key' },
  { code: 'MESH012', severity: 'error', title: 'too many alias expansions (alias bomb)' },
  { code: 'MESH013', severity: 'error', title: 'nesting too deep' },
  { code: 'MESH015', severity: 'error', title: 'tab used for indentation' },
  { code: 'MESH020', severity: 'error', title: 'unknown key' },
  { code: 'MESH021', severity: 'error', title: 'wrong type' },
  { code: 'MESH022', severity: 'error', title: 'required key missing' },
  { code: 'MESH023', severity: 'error', title: 'value out of range (e.g. non-positive rate or count)' },
  { code: 'MESH024', severity: 'error', title: 'value has the wrong format' },
  { code: 'MESH025', severity: 'error', title: 'value is not one of the allowed values' },
  { code: 'MESH026', severity: 'error', title: 'invalid name' },
  { code: 'MESH027', severity: 'error', title: 'duplicate list item' },
  { code: 'MESH028', severity: 'error', title: 'list or map is empty' },
  { code: 'MESH029', severity: 'error', title: 'other schema violation' },
  { code: 'MESH030', severity: 'error', title: 'duplicate service name' },
  { code: 'MESH031', severity: 'error', title: 'duplicate port' },
  { code: 'MESH032', severity: 'warning', title: 'manifest file name does not match the service name' },
  { code: 'MESH033', severity: 'error', title: 'version not listed in versions' },
  { code: 'MESH034', severity: 'error', title: 'static endpoint runs an undeclared version' },
  { code: 'MESH035', severity: 'warning', title: 'service calls itself' },
  { code: 'MESH036', severity: 'warning', title: 'sidecar ports set on a proxyless gRPC service' },
  { code: 'MESH040', severity: 'error', title: 'call to an unknown service' },
  { code: 'MESH041', severity: 'error', title: 'policy for an unknown service' },
  { code: 'MESH042', severity: 'error', title: 'access rule names an unknown service' },
  { code: 'MESH043', severity: 'error', title: 'call denied by the callee\'s access policy' },
  { code: 'MESH044', severity: 'warning', title: 'every caller of the service is denied' },
  { code: 'MESH045', severity: 'warning', title: 'access rule for a caller that never calls the service' },
  { code: 'MESH050', severity: 'error', title: 'split weights do not sum to 100' },
  { code: 'MESH051', severity: 'error', title: 'split names a version no manifest declares' },
  { code: 'MESH060', severity: 'warning', title: 'rate limit burst lower than rps' },
  { code: 'MESH061', severity: 'warning', title: 'per-try timeout not shorter than the request timeout' },
  { code: 'MESH062', severity: 'error', title: 'duration longer than the mesh takes (365 days)' },
  { code: 'MESH080', severity: 'error', title: 'a bootstrap template renders invalid output' },
  { code: 'MESH088', severity: 'error', title: 'build output overlaps the mesh sources', io: true },
  { code: 'MESH089', severity: 'error', title: 'build output path is not a folder mesh build wrote', io: true },
  { code: 'MESH090', severity: 'error', title: 'build output would contain private key material', io: true },
  { code: 'MESH091', severity: 'error', title: 'build output overlaps the PKI store', io: true },
  { code: 'MESH092', severity: 'error', title: 'build output cannot be written', io: true },
  { code: 'MESH093', severity: 'error', title: 'applied file is not a mesh source' },
  { code: 'MESH094', severity: 'error', title: 'snapshots cannot be built (PKI store incomplete)' },
  { code: 'MESH095', severity: 'error', title: 'snapshot unservable (a response would exceed 4 MiB)' },
  { code: 'MESH096', severity: 'error', title: 'control plane unreachable or refused the request', io: true },
  { code: 'MESH097', severity: 'error', title: 'apply --wait: a node NACKed or did not answer in time' },
  { code: 'MESH098', severity: 'error', title: 'mesh serve: no PKI store (and not --insecure)', io: true },
  { code: 'MESH099', severity: 'error', title: 'mesh serve: the mesh cannot be served' },
  { code: 'MESH070', severity: 'warning', title: 'policy that proxyless gRPC cannot enforce' },
  { code: 'MESH071', severity: 'warning', title: 'acknowledgement that matches no warning' },
  { code: 'MESH100', severity: 'warning', title: 'workload certificate valid no longer than the rotation threshold' },
  { code: 'MESH101', severity: 'error', title: 'trust bundle does not contain the CA that issued a workload certificate' },
  { code: 'MESH102', severity: 'warning', title: 'CA expires before a workload certificate it signed' },
  { code: 'MESH103', severity: 'error', title: 'CA rotation without overlap: the bundle dropped a CA whose certificates are still valid' },
  { code: 'MESH104', severity: 'error', title: 'CA rotation without overlap: the new CA is not in the trust bundle yet' },
  { code: 'MESH110', severity: 'error', title: 'mesh diff: a git revision cannot be read', io: true },
  { code: 'MESH112', severity: 'error', title: 'apply names a trust domain the running PKI does not serve' },
  { code: 'MESH113', severity: 'error', title: 'mesh serve: the store of the last applied mesh is unreadable', io: true },
  { code: 'MESH111', severity: 'error', title: 'mesh explain: unknown service or malformed request' },
  { code: 'MESH120', severity: 'error', title: 'registry: address is not an IP literal' },
  { code: 'MESH121', severity: 'error', title: 'registry: address refused (unspecified, multicast, link-local or instance metadata)' },
  { code: 'MESH122', severity: 'error', title: 'registry: field missing or of the wrong type (port 1..65535)' },
  { code: 'MESH123', severity: 'error', title: 'registry: string too long or containing control characters' },
  { code: 'MESH130', severity: 'error', title: 'mesh run/dev: no Envoy binary to run a sidecar with', io: true },
  { code: 'MESH131', severity: 'error', title: 'mesh run: unknown service or version, a proxyless member, or no compiled bootstrap' },
  { code: 'MESH132', severity: 'error', title: 'mesh run: the sidecar exited or did not become ready in time', io: true },
  { code: 'MESH135', severity: 'error', title: 'mesh run: no command to run after --' },
  { code: 'MESH136', severity: 'error', title: 'mesh dev: its state or certificates cannot be prepared', io: true },
  { code: 'MESH137', severity: 'error', title: 'mesh run/dev: the mesh has errors (run mesh lint)' },
  { code: 'MESH150', severity: 'error', title: 'events: a sink setting in mesh.yml is invalid (URL, path or size)' },
  { code: 'MESH151', severity: 'error', title: 'tap: a query parameter is not a non-negative integer' },
  { code: 'MESH152', severity: 'error', title: 'tap: a posted record is malformed' },
  { code: 'MESH153', severity: 'error', title: 'mesh trace/logs/stat/events: the control plane did not answer as expected' },
  { code: 'MESH170', severity: 'error', title: 'route regex is not valid RE2' },
  { code: 'MESH171', severity: 'warning', title: 'route can never match (an earlier route matches every request it does)' },
  { code: 'MESH172', severity: 'error', title: 'route name reserved or used twice for one callee' },
  { code: 'MESH173', severity: 'warning', title: 'fault injection is on' },
  { code: 'MESH200', severity: 'error', title: 'store unavailable: apply or registration refused, last good snapshot still served', io: true },
  { code: 'MESH201', severity: 'error', title: 'mesh serve: the store cannot be opened', io: true },
  { code: 'MESH202', severity: 'error', title: 'mesh serve: the database schema is newer than this control plane', io: true },
  { code: 'MESH203', severity: 'error', title: 'mesh rollback: no such revision in the store' },
  { code: 'MESH204', severity: 'error', title: 'history or rollback asked of a control plane without a store' },
  { code: 'MESH205', severity: 'error', title: 'mesh.yml store: is not a folder path or a postgres:// URL' },
  { code: 'MESH250', severity: 'warning', title: 'mesh serve: the persisted snapshot is corrupt or unreadable; compiled instead', io: true },
  { code: 'MESH251', severity: 'warning', title: 'mesh serve: the persisted snapshot was made for other sources, compiler or PKI; compiled instead' },
  { code: 'MESH252', severity: 'warning', title: 'mesh serve: the snapshot of the applied revision could not be persisted', io: true },
  { code: 'MESH180', severity: 'error', title: 'external system named like a service' },
  { code: 'MESH182', severity: 'error', title: 'policy that does not apply to an external system' },
  { code: 'MESH190', severity: 'error', title: 'guardrail inspects an unknown service' },
  { code: 'MESH191', severity: 'error', title: 'guardrail names an unknown callee' },
];

export const CODES: ReadonlyMap<string, CodeInfo> = new Map(entries.map((e) => [e.code, e]));

export function isIoCode(code: string): boolean {
  return CODES.get(code)?.io === true;
}
