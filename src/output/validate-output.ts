/**
 * The last gate before anything is written or served: every node's resources
 * (and its Envoy bootstrap) checked against the official Envoy API protos,
 * with the cross-references Envoy enforces at load.
 */
import type { Diagnostic } from '../diag/diagnostic';
import type { CompileResult, NodeOutput } from '../envoy/compile';
import { isExpectedForGrpc } from '../validate/compiler-files';
import { validateNodeConfig, type ValidationCache } from '../validate/validate';

export interface ValidateCompiledOptions {
  /** Skip resources already validated (the control plane keeps one across applies). */
  readonly cache?: ValidationCache;
  readonly keyOf?: (resource: unknown) => string;
}

export function validateCompiled(compiled: CompileResult, opts: ValidateCompiledOptions = {}): Diagnostic[] {
  return compiled.nodes.flatMap((node) => validateNodeOutput(node, opts));
}

/** One node's resources and Envoy bootstrap; nodes are independent (src/envoy/emit.ts runs this per thread). */
export function validateNodeOutput(node: Pick<NodeOutput, 'id' | 'kind' | 'resources' | 'bootstrap'>, opts: ValidateCompiledOptions = {}): Diagnostic[] {
  // gRPC bootstraps are not Envoy Bootstrap messages; the compiler checks them against grpc-js-xds's rules.
  const bootstrap = node.kind === 'envoy' && node.bootstrap ? node.bootstrap.value : undefined;
  const found = validateNodeConfig({ ...node.resources, ...(bootstrap !== undefined ? { bootstrap } : {}) }, { file: `${node.id}/`, ...opts });
  return node.kind === 'grpc' ? found.filter((d) => !isExpectedForGrpc(d)) : found;
}
