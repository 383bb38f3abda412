import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Diagnostic, diagAt, sortDiagnostics } from '../diag/diagnostic';
import { ENVOY_CODES as C } from './codes';
import { kindOfFileName } from './resource-types';
import { parseSource } from './source';
import { type EnvoyDocument, validateNodeDocuments } from './validate';

/**
 * Files and directories -> diagnostics, for `mesh validate`. A file named on
 * the command line is one node by itself; in a directory, all config files
 * of one folder form one node (the compiler writes `out/<node>/
 * {listeners,routes,clusters,endpoints,secrets}.json` + `bootstrap.yaml`).
 */
export interface PathValidationResult {
  readonly diagnostics: Diagnostic[];
  readonly filesChecked: number;
  readonly nodes: number;
  /** Unreadable or missing inputs (exit code 2 territory). */
  readonly ioErrors: number;
}

const CONFIG_FILE = /\.(json|ya?ml)$/i;
/** `mesh build` writes out/manifest.json (hashes per node); it is not Envoy config. */
const COMPILER_MANIFEST = 'manifest.json';

export function validatePaths(inputs: readonly string[]): PathValidationResult {
  const diagnostics: Diagnostic[] = [];
  let ioErrors = 0;
  let filesChecked = 0;
  const groups: { files: string[]; fromDirectory: boolean }[] = [];
  for (const input of inputs) {
    const stat = statOrUndefined(input);
    if (stat === undefined) {
      diagnostics.push(ioError(input, 'no such file or directory'));
      ioErrors++;
    } else if (stat.isDirectory()) {
      const byFolder = groupByFolder(listConfigFiles(input));
      if (byFolder.length === 0) {
        diagnostics.push(ioError(input, 'no .json/.yaml/.yml files found'));
        ioErrors++;
      }
      groups.push(...byFolder.map((files) => ({ files, fromDirectory: true })));
    } else groups.push({ files: [input], fromDirectory: false });
  }
  for (const group of groups) {
    const docs: EnvoyDocument[] = [];
    for (const file of group.files) {
      const read = readDocument(file, group.fromDirectory);
      diagnostics.push(...read.diagnostics);
      if (read.ioError) ioErrors++;
      if (read.doc !== undefined) docs.push(read.doc);
      filesChecked++;
    }
    diagnostics.push(...validateNodeDocuments(docs));
  }
  return { diagnostics: sortDiagnostics(diagnostics), filesChecked, nodes: groups.length, ioErrors };
}

function readDocument(file: string, fromDirectory: boolean): { doc?: EnvoyDocument; diagnostics: Diagnostic[]; ioError: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { diagnostics: [ioError(file, (err as Error).message)], ioError: true };
  }
  const parsed = parseSource(text, file);
  if (parsed.errors.length > 0) {
    const diagnostics = parsed.errors.map((e) => diagAt({ file, ...e.range }, 'error', C.PARSE_ERROR, `cannot parse: ${e.message}`));
    return { diagnostics, ioError: false };
  }
  const kindHint = kindOfFileName(path.basename(file));
  const doc: EnvoyDocument = {
    file,
    value: parsed.value,
    locate: parsed.locate,
    ...(kindHint !== undefined ? { kindHint } : {}),
    ...(fromDirectory ? { unknownIsWarning: true } : {}),
  };
  return { doc, diagnostics: [], ioError: false };
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** Sorted, so nodes and files are always visited in the same order. Hidden folders and node_modules are skipped. */
function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && entry.name !== 'node_modules') out.push(...listConfigFiles(p));
    } else if (entry.isFile() && CONFIG_FILE.test(entry.name) && entry.name !== COMPILER_MANIFEST) out.push(p);
  }
  return out;
}

function groupByFolder(files: readonly string[]): string[][] {
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const dir = path.dirname(f);
    byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
  }
  return [...byDir.keys()].sort().map((d) => byDir.get(d) as string[]);
}

function ioError(file: string, message: string): Diagnostic {
  return diagAt({ file, line: 1, col: 1 }, 'error', C.IO_ERROR, message);
}
