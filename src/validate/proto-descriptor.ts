/**
 * The Envoy API as loaded from its .proto files, kept as a protobufjs JSON
 * descriptor (`Root.toJSON()`) in the build cache folder and loaded with
 * `Root.fromJSON` (issue 20 item 4): parsing ~380 .proto files was 0.85 s of a
 * `mesh build --check` that validates a handful of nodes, and every build
 * worker paid it again.
 *
 * `toJSON` keeps the flattened `options` but not `parsedOptions`, which hold
 * the protoc-gen-validate rules in their structure (src/validate/pgv.ts), so
 * and an enum's `valuesOptions` (deprecated values), so the descriptor also
 * lists those by the object's full name; loading puts them back (a name it does not find once in the tree makes the
 * file unusable). The file (`<cache>/protos/<key>.json`: MAGIC, the
 * SHA-256 of the rest, the JSON) is keyed by the compiler's fingerprint and
 * the protobufjs and @grpc/grpc-js-xds (the .proto files' package) manifests.
 * A missing, damaged or mismatching file means loading the .proto files (and
 * writing the file again): it can make loading faster, never different.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import * as protobuf from 'protobufjs';
import { compilerFingerprint } from '../cache/compiler-hash';

const MAGIC = 'HMS-PROTO-DESCRIPTOR 1\n';
const NAME = /^[0-9a-f]{32}\.json$/;

export interface DescriptorStats {
  readonly files: number;
  readonly skippedFiles: readonly string[];
  readonly messageTypes: number;
}

interface DescriptorBody {
  readonly stats: DescriptorStats;
  readonly root: protobuf.INamespace;
  /** [full name, property, value]: each object's parsedOptions, each enum's valuesOptions (toJSON drops both). */
  readonly kept: Array<[string, KeptProperty, unknown]>;
}

/** What toJSON drops and the validator reads: PGV rules (a field's), per-value deprecations (an enum's). */
const KEPT = ['parsedOptions', 'valuesOptions'] as const;
type KeptProperty = (typeof KEPT)[number];

let key: string | undefined;

function descriptorKey(): string {
  if (key !== undefined) return key;
  const h = createHash('sha256').update(compilerFingerprint());
  for (const pkg of ['protobufjs/package.json', '@grpc/grpc-js-xds/package.json']) h.update('\0').update(fs.readFileSync(require.resolve(pkg)));
  return (key = h.digest('hex').slice(0, 32));
}

function descriptorFile(dir: string): string {
  return path.join(dir, 'protos', `${descriptorKey()}.json`);
}

/** Every reflection object under `ns`: nested objects, a type's fields (extensions included) and oneofs, a service's methods. */
export function walkReflection(ns: protobuf.NamespaceBase, out: protobuf.ReflectionObject[] = []): protobuf.ReflectionObject[] {
  for (const child of ns.nestedArray) {
    out.push(child);
    if (child instanceof protobuf.Type) out.push(...child.fieldsArray, ...child.oneofsArray);
    if (child instanceof protobuf.Service) out.push(...child.methodsArray);
    if (child instanceof protobuf.Namespace) walkReflection(child, out);
  }
  return out;
}

/** The descriptor kept in `dir`, resolved, or undefined (then the caller loads the .proto files). */
export function readDescriptor(dir: string): { root: protobuf.Root; stats: DescriptorStats } | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(descriptorFile(dir), 'utf8');
  } catch {
    return undefined;
  }
  const nl = raw.indexOf('\n', MAGIC.length);
  if (!raw.startsWith(MAGIC) || nl < 0) return undefined;
  const text = raw.slice(nl + 1);
  if (raw.slice(MAGIC.length, nl) !== createHash('sha256').update(text).digest('hex')) return undefined;
  try {
    const body = JSON.parse(text) as DescriptorBody;
    const root = protobuf.Root.fromJSON(body.root);
    const byName = new Map<string, protobuf.ReflectionObject | null>();
    for (const o of walkReflection(root)) byName.set(o.fullName, byName.has(o.fullName) ? null : o);
    for (const [name, prop, value] of body.kept) {
      const o = byName.get(name);
      if (!o || !KEPT.includes(prop)) return undefined; // unknown, or a name two objects share: not this tree
      (o as unknown as Record<KeptProperty, unknown>)[prop] = value;
    }
    root.resolveAll();
    return { root, stats: body.stats };
  } catch {
    return undefined; // not a descriptor this protobufjs reads: load the .proto files
  }
}

/** Keeps `root` in `dir` (best effort: an error only means the next load parses the .proto files). */
export function writeDescriptor(dir: string, root: protobuf.Root, stats: DescriptorStats): void {
  const file = descriptorFile(dir);
  try {
    const kept: Array<[string, KeptProperty, unknown]> = [];
    for (const o of walkReflection(root)) {
      for (const prop of KEPT) {
        const value = (o as unknown as Record<KeptProperty, unknown>)[prop];
        if (value != null) kept.push([o.fullName, prop, value]);
      }
    }
    const text = JSON.stringify({ stats, root: root.toJSON(), kept } satisfies DescriptorBody);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Build workers may write it at the same time: a temp file each.
    const tmp = `${file}.tmp-${process.pid}-${threadId}`;
    fs.writeFileSync(tmp, `${MAGIC}${createHash('sha256').update(text).digest('hex')}\n${text}`);
    fs.renameSync(tmp, file);
    // Descriptors of earlier compilers are of no use to this one.
    for (const name of fs.readdirSync(path.dirname(file))) if (NAME.test(name) && name !== path.basename(file)) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  } catch {
    // The build cache folder is unusable: the build says so (MESH254) for its own entries.
  }
}
