/**
 * The compiled, encoded snapshot of the applied revision, persisted beside
 * the folder store's applied.json (snapshot.bin), so that `mesh serve` starts
 * serving an unchanged mesh without lint, compile, validate or encode: a
 * 2,000-service mesh took 16 s and 482 MB to start that way (issue 20).
 *
 * The file is keyed by a content hash of what the served bytes depend on:
 * the applied sources, the compiler (every file of the running build and the
 * schemas) and the PKI inputs that change what an apply accepts (the pinned
 * trust domain, whether secrets are served at all). A file whose key differs,
 * or that fails its own sha256 (torn, edited, truncated), is ignored with a
 * coded warning and the sources are compiled as before; it is never served.
 *
 * What it holds: the applied model (JSON, as the emit workers get it), each
 * distinct encoded resource once (the message bytes), and per node the
 * resources of its listeners, clusters, routes and the static endpoints (no
 * registered instances: the registry starts empty). Secrets never: only the
 * compiled SDS resources with their placeholders go in, and their PEM is
 * filled from the PKI store at start, as an apply does (private keys stay in
 * pki/, 0600). The writer refuses a file that contains key material.
 *
 * Layout: `HMS-SNAPSHOT <format>\n<sha256 hex of the body>\n<body>`, body =
 * u32 (big-endian) header length, header JSON, message bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonObject } from '../envoy/proto-json';
import { resourceName, RESOURCE_KINDS, type ResourceKind } from '../envoy/resources';
import type { NodeKind } from '../ir/types';
import type { MeshModel } from '../model/types';
import { compilerFingerprint } from '../cache/compiler-hash';
import { containsKeyMaterial } from '../pki/fs-secure';
import type { ApplyResult, ControlPlane, MeshSources, Prepared } from '../xds/control-plane';
import type { Logger } from '../xds/log';
import { fillSecret, typeOf, type SecretSource } from '../xds/mesh-state';
import { ResourceEncoder, type PreparedResource } from '../xds/prepared';
import type { NodeSnapshot, TypeSnapshot } from '../xds/snapshot';
import { TYPE_URL } from '../xds/type-urls';
import { lenField } from '../xds/wire';

export const SNAPSHOT_FILE = 'snapshot.bin';
/** Bumped when the layout or what goes in changes: an older file is then a mismatch, recompiled. */
const FORMAT = 1;
const MAGIC = `HMS-SNAPSHOT ${FORMAT}\n`;
/** The kinds persisted as bytes; secrets are persisted as placeholder JSON and filled at start. */
const STORED_KINDS = RESOURCE_KINDS.filter((k) => k !== 'secrets');

/** What the snapshot's bytes depend on besides the sources. */
export interface SnapshotInputs {
  /** The trust domain of the PKI the server runs with (an apply naming another is refused). */
  readonly trustDomain?: string;
  /** Whether SDS secrets are filled from a PKI store (else served with placeholders, --insecure). */
  readonly secrets: boolean;
}

interface StoredNode {
  readonly id: string;
  readonly kind: NodeKind;
  /** Per stored kind: indices into the header's resources. */
  readonly types: Record<string, number[]>;
  /** The compiled SDS resources, placeholders unfilled. */
  readonly secrets: readonly JsonObject[];
}

interface Header {
  readonly key: string;
  readonly revision: string;
  readonly model: MeshModel;
  /** [kind, name, typeUrl, offset, length] of each message in the body after the header. */
  readonly resources: Array<[ResourceKind, string, string, number, number]>;
  readonly nodes: StoredNode[];
}

/** What a start serves instead of compiling. */
export interface RestoredSnapshot {
  readonly model: MeshModel;
  readonly snaps: Map<string, NodeSnapshot>;
}

// The running compiler's fingerprint lives beside the build cache, which keys on it too.

export function snapshotKey(sources: MeshSources, inputs: SnapshotInputs): string {
  const h = createHash('sha256').update(`format ${FORMAT}\0compiler ${compilerFingerprint()}\0`);
  h.update(`trust-domain ${inputs.trustDomain ?? ''}\0secrets ${inputs.secrets ? 1 : 0}\0`);
  for (const k of Object.keys(sources).sort()) h.update(k).update('\0').update(sources[k]!).update('\0');
  return h.digest('hex');
}

/** The file's bytes for an applied revision (`p` as installed, `sources` as applied). */
export function encodeSnapshotFile(p: Prepared, sources: MeshSources, revision: string, inputs: SnapshotInputs): Buffer {
  const resources: Header['resources'] = [];
  const chunks: Buffer[] = [];
  const index = new Map<PreparedResource, number>();
  let offset = 0;
  const add = (r: PreparedResource): number => {
    let i = index.get(r);
    if (i === undefined) {
      const value = messageOf(r);
      index.set(r, (i = resources.length));
      resources.push([r.kind, r.name, r.typeUrl, offset, value.length]);
      chunks.push(value);
      offset += value.length;
    }
    return i;
  };
  // The static endpoints (registered instances are not part of a revision): encoded here, shared by content.
  const staticEncoder = new ResourceEncoder();
  const nodes: StoredNode[] = p.compiled.nodes.map((node) => {
    const snap = p.snaps.get(node.id);
    const types: Record<string, number[]> = {};
    for (const k of STORED_KINDS) {
      types[k] = node.resources[k].map((json) => {
        const served = k === 'endpoints' ? undefined : snap?.types[k].resources.get(resourceName(json));
        return add(served ?? staticEncoder.prepare(k, json));
      });
    }
    return { id: node.id, kind: node.kind, types, secrets: node.resources.secrets };
  });
  const header: Header = { key: snapshotKey(sources, inputs), revision, model: p.model, resources, nodes };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(headerBytes.length);
  const body = Buffer.concat([len, headerBytes, ...chunks]);
  if (containsKeyMaterial(body)) throw new Error('bug: a persisted snapshot would contain private key material');
  const digest = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC}${digest}\n`, 'utf8'), body]);
}

export type ReadOutcome = { readonly ok: true; readonly restored: RestoredSnapshot } | { readonly ok: false; readonly code: 'MESH250' | 'MESH251'; readonly why: string } | { readonly ok: false; readonly code: 'none' };

/**
 * The snapshot for `sources`, or why not: MESH250 for a file that is not one
 * this writer made (bad magic, bad digest, bad header), MESH251 for a sound
 * file made for other inputs. Never throws for a bad file.
 */
export function readSnapshotFile(file: string, sources: MeshSources, inputs: SnapshotInputs, secrets: SecretSource | undefined): ReadOutcome {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, code: 'none' };
    return { ok: false, code: 'MESH250', why: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  const bad = (why: string): ReadOutcome => ({ ok: false, code: 'MESH250', why });
  const head = MAGIC.length + 64 + 1;
  if (bytes.length < head + 4 || bytes.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) return bad('it does not start with the snapshot header of this version');
  const body = bytes.subarray(head);
  if (createHash('sha256').update(body).digest('hex') !== bytes.subarray(MAGIC.length, MAGIC.length + 64).toString('latin1')) return bad('its content does not match its sha256 (torn or edited)');
  let header: Header;
  try {
    const len = body.readUInt32BE(0);
    header = JSON.parse(body.subarray(4, 4 + len).toString('utf8')) as Header;
    if (header.key !== snapshotKey(sources, inputs)) return { ok: false, code: 'MESH251', why: 'it was made for other sources, another compiler or other PKI inputs' };
    return { ok: true, restored: restore(header, body.subarray(4 + len), secrets) };
  } catch (err) {
    return bad(`its header cannot be read (${(err as Error).message})`);
  }
}

function restore(header: Header, messages: Buffer, secrets: SecretSource | undefined): RestoredSnapshot {
  // A fresh encoder: the frames are built exactly as an apply builds them, so versions and bytes are the same.
  const encoder = new ResourceEncoder();
  const prepared = header.resources.map(([kind, name, typeUrl, at, len]) => {
    if (at + len > messages.length) throw new Error(`resource ${name} lies past the end of the file`);
    const value = messages.subarray(at, at + len);
    return encoder.fromWriter(kind, name, typeUrl, len, (buf, to) => void buf.set(value, to));
  });
  const snaps = new Map<string, NodeSnapshot>();
  const secretsByText = new Map<string, PreparedResource>();
  for (const n of header.nodes) {
    const types = {} as Record<ResourceKind, TypeSnapshot>;
    for (const k of STORED_KINDS) types[k] = typeOf((n.types[k] ?? []).map((i) => prepared[i]!));
    types.secrets = typeOf(n.secrets.map((s) => secretResource(encoder, secretsByText, secrets ? fillSecret(s, secrets) : s)));
    snaps.set(n.id, { nodeId: n.id, kind: n.kind, types });
  }
  return { model: header.model, snaps };
}

/**
 * An SDS Secret as the compiler makes them (src/envoy/secret.ts: a name and a
 * certificate with its key, or a trust bundle), encoded by hand: loading the
 * Envoy protos for protobufjs was 0.8 s of a 2 s start. Fields in number
 * order, as protobufjs writes them (the test compares the bytes with an
 * apply's). Any other shape goes through the encoder. Shared by content (the
 * trust bundle is the same for every node).
 */
function secretResource(encoder: ResourceEncoder, byText: Map<string, PreparedResource>, json: JsonObject): PreparedResource {
  const text = JSON.stringify(json);
  let p = byText.get(text);
  if (p) return p;
  const value = secretMessage(json);
  p = value ? encoder.fromWriter('secrets', json['name'] as string, TYPE_URL.secrets, value.length, (buf, at) => void buf.set(value, at)) : encoder.prepare('secrets', json);
  byText.set(text, p);
  return p;
}

function secretMessage(json: JsonObject): Buffer | undefined {
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const inline = (v: unknown): Buffer | undefined => {
    const o = v as Record<string, unknown> | undefined;
    const s = o && typeof o === 'object' && Object.keys(o).length === 1 ? str(o['inline_string']) : undefined;
    return s !== undefined && s.length > 0 ? lenField(3, s) : undefined; // DataSource.inline_string = 3
  };
  const keys = Object.keys(json).sort().join(',');
  const name = str(json['name']);
  if (!name || json['@type'] !== TYPE_URL.secrets) return undefined;
  if (keys === '@type,name,tls_certificate') {
    const t = json['tls_certificate'] as Record<string, unknown>;
    const chain = inline(t?.['certificate_chain']);
    const key = inline(t?.['private_key']);
    if (!chain || !key || Object.keys(t).length !== 2) return undefined;
    // Secret.name = 1, tls_certificate = 2 { certificate_chain = 1, private_key = 2 }
    return Buffer.concat([lenField(1, name), lenField(2, Buffer.concat([lenField(1, chain), lenField(2, key)]))]);
  }
  if (keys === '@type,name,validation_context') {
    const v = json['validation_context'] as Record<string, unknown>;
    const ca = inline(v?.['trusted_ca']);
    if (!ca || Object.keys(v).length !== 1) return undefined;
    // Secret.validation_context = 4 { trusted_ca = 1 }
    return Buffer.concat([lenField(1, name), lenField(4, lenField(1, ca))]);
  }
  return undefined;
}

/** The message bytes inside a prepared Any: after the type_url field and the value field's header. */
function messageOf(r: PreparedResource): Buffer {
  let at = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = r.any[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  at++; // field 1 tag
  const urlLen = varint(); // not `at += varint()`: that adds to the value of `at` from before the varint was read
  at += urlLen;
  at++; // field 2 tag
  const len = varint();
  return r.any.subarray(at, at + len);
}

/**
 * The writer beside a folder store: an accepted apply's snapshot is written
 * after the apply returns (the apply's answer does not wait for it), the
 * newest one only, atomically (temp file + rename, 0600).
 */
export class SnapshotWriter {
  private pending?: { readonly p: Prepared; readonly sources: MeshSources; readonly revision: string };
  private timer?: NodeJS.Timeout;
  /** Files written (for tests). */
  writes = 0;

  constructor(
    readonly file: string,
    private readonly inputs: SnapshotInputs,
    private readonly log: Logger,
  ) {}

  schedule(p: Prepared, sources: MeshSources, revision: string): void {
    this.pending = { p, sources, revision };
    this.timer ??= setTimeout(() => this.flush(), 0);
  }

  /** Writes what is pending now (stop() calls it, so a clean stop never loses the newest snapshot). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const job = this.pending;
    this.pending = undefined;
    if (!job) return;
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      const bytes = encodeSnapshotFile(job.p, job.sources, job.revision, this.inputs);
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, bytes, { mode: 0o600 });
      fs.renameSync(tmp, this.file);
      this.writes++;
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      // The next start compiles instead: slower, never wrong.
      this.log.log('warn', 'MESH252: the snapshot of the applied revision could not be persisted; the next start compiles it', { file: this.file, error: (err as Error).message });
    }
  }
}

/** The control plane side: how a folder store's start restores, and how each install persists. */
export interface PersistedSnapshots {
  readonly writer: SnapshotWriter;
  /** Replica.start's restore: the installed result, or undefined to compile. */
  restore(latest: { readonly sources: MeshSources; readonly seq: number }): ApplyResult | undefined;
  /** Stops persisting and writes what is pending. */
  close(): void;
}

export function persistSnapshots(cp: ControlPlane, file: string, inputs: SnapshotInputs, secrets: SecretSource | undefined, log: Logger): PersistedSnapshots {
  const writer = new SnapshotWriter(file, inputs, log);
  const off = cp.onPrepared((p, sources, revision) => writer.schedule(p, sources, revision));
  return {
    writer,
    restore(latest) {
      const read = readSnapshotFile(file, latest.sources, inputs, secrets);
      if (read.ok) return cp.installRestored(read.restored, latest.sources, latest.seq);
      if (read.code !== 'none') log.log('warn', `${read.code}: the persisted snapshot is not served; compiling the applied revision`, { file, why: read.why });
      return undefined;
    },
    close() {
      off();
      writer.flush();
    },
  };
}
