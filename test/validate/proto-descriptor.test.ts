/**
 * The Envoy API kept as a JSON descriptor (src/validate/proto-descriptor.ts):
 * loaded back, it is the API parsed from the .proto files, object for object,
 * with everything the validator reads (options, parsedOptions with the PGV
 * rules, field types and numbers, enum values); a damaged file is not used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadProtoFiles } from '../../src/validate/proto-registry';
import { readDescriptor, walkReflection, writeDescriptor } from '../../src/validate/proto-descriptor';
import { fieldRules } from '../../src/validate/pgv';
import { tempDir } from '../helpers/mesh-dir';

/** What the validator reads of one reflection object, as text. */
function facts(o: protobuf.ReflectionObject): string {
  const base = { kind: o.constructor.name, name: o.fullName, options: o.options ?? null, parsed: o.parsedOptions ?? null };
  if (o instanceof protobuf.Field) {
    return JSON.stringify({ ...base, id: o.id, type: o.type, required: o.required, repeated: o.repeated, map: o.map, keyType: (o as unknown as { keyType?: string }).keyType ?? null, resolved: o.resolvedType?.fullName ?? null, oneof: o.partOf?.name ?? null, rules: fieldRules(o) ?? null });
  }
  if (o instanceof protobuf.OneOf) return JSON.stringify({ ...base, fields: o.oneof });
  if (o instanceof protobuf.Enum) return JSON.stringify({ ...base, values: o.values, valuesOptions: o.valuesOptions ?? null });
  return JSON.stringify(base);
}

test('proto descriptor: loaded back, the API is the one parsed from the .proto files', () => {
  const { dir, cleanup } = tempDir('hms-protos-');
  try {
    const parsed = loadProtoFiles();
    const stats = { files: parsed.files, skippedFiles: parsed.skippedFiles, messageTypes: parsed.messageTypes };
    writeDescriptor(dir, parsed.root, stats);
    const kept = readDescriptor(dir);
    assert.ok(kept, 'the descriptor loads');
    assert.deepEqual(kept.stats, stats);
    // Sorted: extension fields join the type they extend in the order they resolve, which differs.
    const want = walkReflection(parsed.root).map(facts).sort();
    const have = walkReflection(kept.root).map(facts).sort();
    assert.ok(want.length > 5000, `the whole API: ${want.length} objects`);
    assert.equal(have.length, want.length);
    for (let i = 0; i < want.length; i++) assert.equal(have[i], want[i]);
    // The PGV rules survive in their structure (an empty message as a rule: duration gt {}).
    const timeout = kept.root.lookupType('envoy.config.cluster.v3.Cluster').fields['connect_timeout']!;
    assert.deepEqual(fieldRules(timeout), { duration: { gt: {} } });

    // Damaged: not used (the caller parses the .proto files).
    const [file] = fs.readdirSync(path.join(dir, 'protos')).map((f) => path.join(dir, 'protos', f));
    const bytes = fs.readFileSync(file!);
    bytes[bytes.length - 10] ^= 0x01;
    fs.writeFileSync(file!, bytes);
    assert.equal(readDescriptor(dir), undefined);
  } finally {
    cleanup();
  }
});
