/**
 * Bootstraps, rendered from Handlebars templates (templates/, or a user
 * templatesDir that overrides them file by file), parsed back and checked,
 * so a broken override is a diagnostic instead of a node that cannot start.
 * Rendering is pure: same IR and template, same bytes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Handlebars from 'handlebars';
import { TemplateYamlParser } from './template-yaml';
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import type { NodeIR } from '../ir/types';
import { TEMPLATES_DIR } from '../paths';
import { XDS_CLUSTER } from '../translate/naming';
import { checkEnvoyBootstrap, checkGrpcBootstrap } from './bootstrap-check';

export const ENVOY_BOOTSTRAP_TEMPLATE = 'envoy-bootstrap.yaml.hbs';
export const GRPC_BOOTSTRAP_TEMPLATE = 'grpc-bootstrap.json.hbs';
/** Proposed catalogue entry: "bootstrap template fails to render, parse or check". */
export const BOOTSTRAP_TEMPLATE_CODE = 'MESH080';
/** How often the gRPC file_watcher re-reads rotated certificates (A29). */
export const GRPC_CERT_REFRESH_INTERVAL = '60s';

export interface BootstrapOptions {
  /** Folder whose envoy-bootstrap.yaml.hbs / grpc-bootstrap.json.hbs replace the built-in ones. */
  readonly templatesDir?: string;
}

export interface RenderedBootstrap {
  readonly fileName: 'bootstrap.yaml' | 'bootstrap.json';
  readonly text: string;
  /** The text parsed back (already done to check it): validation reuses it instead of parsing again. */
  readonly value: unknown;
}

export interface BootstrapResult {
  readonly bootstrap?: RenderedBootstrap;
  readonly diagnostics: Diagnostic[];
}

/** What templates see. Documented in docs/compiler.md ("Bootstrap templates"). */
export function bootstrapView(node: NodeIR, marker: string, meshName: string): Record<string, unknown> {
  const b = node.bootstrap;
  const endpoints = b.controlPlane.replicas ?? [{ address: b.controlPlane.address, port: b.controlPlane.port }];
  return {
    marker,
    mesh: meshName,
    node: { id: node.id, cluster: node.cluster },
    admin: { address: b.adminAddress, port: b.adminPort },
    xds: {
      clusterName: XDS_CLUSTER,
      // STATIC needs an IP; a host name must be resolved by Envoy.
      clusterType: endpoints.every((e) => net.isIP(e.address)) ? 'STATIC' : 'STRICT_DNS',
      address: b.controlPlane.address,
      port: b.controlPlane.port,
      // Every replica: Envoy's ADS connection goes to one of them and, when it breaks, to another.
      endpoints,
      serverUri: grpcServerUri(endpoints),
      spiffeId: b.controlPlane.spiffeId,
    },
    pki: b.pki,
    grpc: {
      certProviderInstance: node.identity.certProviderInstance,
      refreshInterval: GRPC_CERT_REFRESH_INTERVAL,
      serverListenerTemplate: b.serverListenerTemplate ?? '',
    },
  };
}

/**
 * grpc-js-xds 1.14 dials xds_servers[0] only (no A71 fallback), but its
 * server_uri is a gRPC target: `ipv4:a:p,b:q` hands pick_first every replica,
 * and a broken connection is re-established to the next one that answers.
 */
function grpcServerUri(endpoints: ReadonlyArray<{ address: string; port: number }>): string {
  if (endpoints.length === 1) return `${endpoints[0]!.address}:${endpoints[0]!.port}`;
  if (endpoints.every((e) => net.isIPv4(e.address))) return `ipv4:${endpoints.map((e) => `${e.address}:${e.port}`).join(',')}`;
  if (endpoints.every((e) => net.isIPv6(e.address))) return `ipv6:${endpoints.map((e) => `[${e.address}]:${e.port}`).join(',')}`;
  return `${endpoints[0]!.address}:${endpoints[0]!.port}`;
}

/** Shared across calls: one skeleton parse per template shape (see template-yaml.ts). */
const yamlParser = new TemplateYamlParser();

export function renderBootstrap(node: NodeIR, marker: string, meshName: string, opts: BootstrapOptions = {}): BootstrapResult {
  const grpc = node.kind === 'grpc';
  const templateFile = resolveTemplate(grpc ? GRPC_BOOTSTRAP_TEMPLATE : ENVOY_BOOTSTRAP_TEMPLATE, opts.templatesDir);
  const fail = (message: string): BootstrapResult => ({
    diagnostics: [
      diagAt({ file: templateFile, line: 1, col: 1 }, 'error', BOOTSTRAP_TEMPLATE_CODE, `bootstrap of node ${node.id}: ${message}`, {
        hint: 'fix the template, or remove it from the templates folder to use the built-in one',
      }),
    ],
  });
  let text: string;
  let parsed: unknown;
  try {
    text = compileTemplate(templateFile)(bootstrapView(node, marker, meshName));
  } catch (err) {
    return fail(`template does not render: ${(err as Error).message}`);
  }
  try {
    parsed = grpc ? JSON.parse(text) : yamlParser.parse(text);
  } catch (err) {
    return fail(`rendered text is not valid ${grpc ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const problems = grpc ? checkGrpcBootstrap(parsed, node) : checkEnvoyBootstrap(parsed, node);
  if (problems.length > 0) return fail(problems.join('; '));
  return { bootstrap: { fileName: grpc ? 'bootstrap.json' : 'bootstrap.yaml', text: text.endsWith('\n') ? text : `${text}\n`, value: parsed }, diagnostics: [] };
}

/** The user's template when the override folder has one, else the built-in. */
export function resolveTemplate(name: string, templatesDir?: string): string {
  if (templatesDir) {
    const user = path.join(templatesDir, name);
    if (fs.existsSync(user)) return user;
  }
  return path.join(TEMPLATES_DIR, name);
}

const compiled = new Map<string, { source: string; fn: HandlebarsTemplateDelegate }>();
/** One isolated Handlebars instance: helpers registered here cannot leak into other users of the library. */
const hbs = Handlebars.create();
// Every value goes in as a JSON literal: valid in JSON, and a valid (double-quoted) scalar in YAML.
hbs.registerHelper('json', (value: unknown) => new hbs.SafeString(JSON.stringify(value)));

function compileTemplate(file: string): HandlebarsTemplateDelegate {
  const source = fs.readFileSync(file, 'utf8');
  const hit = compiled.get(file);
  if (hit && hit.source === source) return hit.fn;
  // strict: a misspelt variable is an error, not an empty string; noEscape: output is YAML/JSON, not HTML.
  const fn = hbs.compile(source, { strict: true, noEscape: true });
  compiled.set(file, { source, fn });
  return fn;
}
