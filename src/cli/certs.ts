/**
 * `mesh certs init|issue|rotate|check`: thin wiring over src/pki. Each action
 * parses flags, calls the library, prints, and sets the exit code; every
 * user error is a UserError thrown from the library and printed once by main.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  admin,
  checkStore,
  controlPlane,
  formatDuration,
  type Identity,
  initCa,
  isHealthy,
  issueIdentities,
  type IssuedCert,
  parseDuration,
  PkiCode,
  rotate,
  service,
  type CertStatus,
} from '../pki';
import { serviceWithDns } from '../pki/identity';
import { DAY_MS } from '../pki/duration';
import { pkiError } from '../pki/errors';
import { hasErrors, type Diagnostic } from '../diag/diagnostic';
import { formatDiagnostics } from '../diag/format';
import { checkRotation } from '../review/rotation';
import type { SetExit } from './main';

export interface CertsIo {
  readonly out: (text: string) => void;
}

const STDOUT: CertsIo = { out: (text) => void process.stdout.write(text) };

interface StoreFlags {
  readonly mesh: string;
  readonly dir?: string;
}

export function registerCerts(program: Command, setExit: SetExit, io: CertsIo = STDOUT): void {
  const certs = program.command('certs').description('manage the mesh PKI: CA, service, admin and control-plane certificates');

  storeOptions(certs.command('init'))
    .description('create the root CA (and optionally an intermediate that signs leaves)')
    .option('--intermediate', 'also create an intermediate CA; it signs every leaf', false)
    .option('--force', 'replace an existing CA (every issued certificate becomes untrusted)', false)
    .option('--validity <duration>', 'CA lifetime (s, m, h, d, y)', '365d')
    .action(async (opts: StoreFlags & { intermediate: boolean; force: boolean; validity: string }) => {
      const mesh = readMeshForCerts(opts.mesh);
      const validityMs = parseDuration(opts.validity, '--validity');
      const pkiDir = pkiDirOf(opts, mesh);
      const ca = await initCa(pkiDir, { trustDomain: mesh.trustDomain, intermediate: opts.intermediate, force: opts.force, validityMs });
      io.out(`created ${ca.intermediateCertPem ? 'root and intermediate CA' : 'root CA'} for spiffe://${ca.trustDomain} in ${pkiDir} (not after ${iso(ca.notAfter)})\n`);
      setExit(0);
    });

  storeOptions(certs.command('issue'))
    .description('issue a key and certificate per identity (default: every service of the mesh)')
    .argument('[service...]', 'services to issue (default: all services of the mesh)')
    .option('--admin <name>', 'issue the admin identity spiffe://<td>/admin/<name> (repeatable)', collect, [])
    .option('--control-plane', 'issue the control-plane identity (xDS server, DNS localhost, IP 127.0.0.1)', false)
    .option('--validity <duration>', 'certificate lifetime (s, m, h, d, y)', '24h')
    .action(async (names: string[], opts: StoreFlags & { admin: string[]; controlPlane: boolean; validity: string }) => {
      const mesh = readMeshForCerts(opts.mesh);
      const validityMs = parseDuration(opts.validity, '--validity');
      const identities = identitiesToIssue(mesh, names, opts.admin, opts.controlPlane);
      const issued = await issueIdentities(pkiDirOf(opts, mesh), identities, { trustDomain: mesh.trustDomain, validityMs });
      io.out(issued.map(issuedLine).join(''));
      setExit(0);
    });

  storeOptions(certs.command('rotate'))
    .description('re-issue every certificate that is expired, untrusted, or expires within the threshold')
    .option('--threshold <duration>', 'rotate what expires within this', '8h')
    .option('--validity <duration>', 'lifetime of the new certificates', '24h')
    .action(async (opts: StoreFlags & { threshold: string; validity: string }) => {
      const mesh = readMeshForCerts(opts.mesh);
      const thresholdMs = parseDuration(opts.threshold, '--threshold');
      const validityMs = parseDuration(opts.validity, '--validity');
      const result = await rotate(pkiDirOf(opts, mesh), { trustDomain: mesh.trustDomain, thresholdMs, validityMs });
      io.out(result.rotated.length ? result.rotated.map(issuedLine).join('') : `nothing to rotate (threshold ${formatDuration(thresholdMs)})\n`);
      for (const row of result.needsAttention) io.out(`not rotated ${row.label}: ${row.state}: ${row.detail}\n`);
      setExit(result.needsAttention.length ? 1 : 0);
    });

  storeOptions(certs.command('check'))
    .description('list every certificate with its expiry; exit 1 if any is expired, expiring, untrusted, invalid or missing')
    .option('--threshold <duration>', 'flag what expires within this', '8h')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((opts: StoreFlags & { threshold: string; format: 'text' | 'json' }) => {
      const mesh = readMeshForCerts(opts.mesh);
      const thresholdMs = parseDuration(opts.threshold, '--threshold');
      const rows = checkStore(pkiDirOf(opts, mesh), { thresholdMs, expected: [...mesh.services, ...(mesh.gateways ?? []).map((g) => g.name)].map(service) });
      // How certificates, CAs and the bundle relate (MESH100-104, src/review/rotation.ts): also run by `mesh lint`.
      const rotation = checkRotation(pkiDirOf(opts, mesh), { thresholdMs });
      io.out(opts.format === 'json' ? checkJson(rows, thresholdMs, rotation) : checkTable(rows) + formatDiagnostics(rotation, 'text'));
      setExit(isHealthy(rows) && !hasErrors(rotation) ? 0 : 1);
    });
}

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--mesh <dir>', 'mesh directory (mesh.yml, services/*.yml)', '.')
    .option('--dir <pki dir>', 'PKI store (default: <mesh>/<pki_dir of mesh.yml>, i.e. <mesh>/pki)');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function pkiDirOf(flags: StoreFlags, mesh: MeshPkiInputs): string {
  return flags.dir ?? path.resolve(flags.mesh, mesh.pkiDir);
}

/**
 * Explicit names must be services or gateways of the mesh; no names and no
 * other identity means every service and gateway. A gateway's certificate
 * carries the hostnames of its listeners with `tls: { mesh_ca: true }`.
 */
function identitiesToIssue(mesh: MeshPkiInputs, names: readonly string[], admins: readonly string[], cp: boolean): Identity[] {
  const gateways = new Map((mesh.gateways ?? []).map((g) => [g.name, g.hostnames]));
  for (const name of names) {
    if (!mesh.services.includes(name) && !gateways.has(name)) {
      const known = mesh.services.length ? mesh.services.join(', ') : 'none';
      throw pkiError(PkiCode.unknownService, `'${name}' is not a service of the mesh (services: ${known}${gateways.size ? `; gateways: ${[...gateways.keys()].join(', ')}` : ''})`);
    }
  }
  const identity = (name: string): Identity => serviceWithDns(name, gateways.get(name));
  const everyService = names.length === 0 && admins.length === 0 && !cp;
  if (everyService && mesh.services.length === 0) {
    throw pkiError(PkiCode.meshUnreadable, `no services found in ${mesh.dir}/services/*.yml: nothing to issue`);
  }
  return [
    ...(everyService ? [...mesh.services, ...gateways.keys()] : names).map(identity),
    ...admins.map(admin),
    ...(cp ? [controlPlane] : []),
  ];
}

function issuedLine(c: IssuedCert): string {
  return `issued ${c.spiffeId}  not after ${iso(c.notAfter)}  serial ${c.serial}  -> ${c.folder}\n`;
}

/** Seconds precision, as in the certificate itself. */
function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function daysLeft(row: CertStatus): number | undefined {
  return row.msLeft === undefined ? undefined : Math.floor((row.msLeft / DAY_MS) * 100) / 100;
}

function checkTable(rows: readonly CertStatus[]): string {
  const cells = rows.map((r) => [
    r.label,
    r.notAfter ? iso(r.notAfter) : '-',
    daysLeft(r)?.toFixed(2) ?? '-',
    r.state,
    r.detail ?? '',
  ]);
  const header = ['IDENTITY', 'NOT AFTER', 'DAYS LEFT', 'STATUS', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  ').trimEnd() + '\n';
  return [header, ...cells].map(line).join('');
}

function checkJson(rows: readonly CertStatus[], thresholdMs: number, rotation: readonly Diagnostic[]): string {
  const certificates = rows.map((r) => ({
    identity: r.label,
    spiffeId: r.spiffeId ?? null,
    notAfter: r.notAfter ? iso(r.notAfter) : null,
    daysLeft: daysLeft(r) ?? null,
    status: r.state,
    detail: r.detail ?? null,
  }));
  return JSON.stringify({ ok: isHealthy(rows) && !hasErrors(rotation), thresholdHours: thresholdMs / 3_600_000, certificates, rotation }, null, 2) + '\n';
}

export interface MeshPkiInputs {
  readonly dir: string;
  readonly trustDomain: string;
  /** Service names, sorted. */
  readonly services: readonly string[];
  /** mesh.yml `pki_dir`, relative to the mesh dir unless absolute. Default "pki". */
  readonly pkiDir: string;
  /** `gateways:` of mesh_policies.yml with the hostnames of their mesh-CA listeners (sorted); absent when none. */
  readonly gateways?: readonly { readonly name: string; readonly hostnames: readonly string[] }[];
}

// Deliberately lenient (not loadMesh): certificates depend only on the trust
// domain and the service names, so `mesh certs` works while a policy error is
// still being fixed; `mesh lint` is where the files are validated.
export function readMeshForCerts(meshDir: string): MeshPkiInputs {
  if (!isDirectory(meshDir)) throw pkiError(PkiCode.meshUnreadable, `mesh directory ${meshDir} does not exist or is not a directory`);
  const meshFile = path.join(meshDir, 'mesh.yml');
  const settings = fs.existsSync(meshFile) ? (readYamlObject(meshFile) ?? {}) : {};
  const servicesDir = path.join(meshDir, 'services');
  const files = isDirectory(servicesDir) ? fs.readdirSync(servicesDir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  const services = files.map((f) => {
    const file = path.join(servicesDir, f);
    const name = readYamlObject(file)?.name;
    if (typeof name !== 'string') throw pkiError(PkiCode.meshUnreadable, `${file}: no \`name:\` (run \`mesh lint\`)`);
    return name;
  });
  const gateways = readGatewaysForCerts(meshDir);
  return {
    dir: meshDir,
    trustDomain: typeof settings.trust_domain === 'string' ? settings.trust_domain : 'cluster.local',
    services: [...new Set(services)].sort(),
    pkiDir: typeof settings.pki_dir === 'string' ? settings.pki_dir : 'pki',
    ...(gateways.length ? { gateways } : {}),
  };
}

/** As lenient as the rest: gateway names and their mesh-CA hostnames, whatever else the file holds (lint checks it). */
function readGatewaysForCerts(meshDir: string): { name: string; hostnames: string[] }[] {
  const file = ['mesh_policies.yml', 'mesh_policies.yaml'].map((f) => path.join(meshDir, f)).find((f) => fs.existsSync(f));
  const section = file ? readYamlObject(file)?.gateways : undefined;
  if (!section || typeof section !== 'object' || Array.isArray(section)) return [];
  return Object.entries(section as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, g]) => {
    const listeners = (g as { listeners?: unknown })?.listeners;
    const hostnames = (Array.isArray(listeners) ? listeners : [])
      .filter((l) => (l as { tls?: { mesh_ca?: unknown } })?.tls?.mesh_ca === true)
      .flatMap((l) => (l as { hostnames?: unknown }).hostnames)
      .filter((h): h is string => typeof h === 'string');
    return { name, hostnames: [...new Set(hostnames)].sort() };
  });
}

function readYamlObject(file: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw pkiError(PkiCode.meshUnreadable, `${file}: ${(err as Error).message.split('\n')[0]} (run \`mesh lint\`)`);
  }
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
