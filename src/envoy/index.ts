/** Public API of the compiler (model -> Envoy v3 resources and bootstraps). */
export { compileMesh, generatedMarker, type CompileOptions, type CompileResult, type NodeOutput } from './compile';
export { buildOutputTree, MANIFEST_FILE } from './output';
export { buildNodeResources, resourceName, RESOURCE_KINDS, type NodeResources, type ResourceKind } from './resources';
export { renderBootstrap, BOOTSTRAP_TEMPLATE_CODE, type BootstrapOptions, type RenderedBootstrap } from './bootstrap';
export { textHash } from './hash';
export { stableStringify } from './stable-json';
export { secretPlaceholder, parseSecretPlaceholder } from './secret';
export { HTTP_FILTER_ORDER } from './filters';
export { TYPE } from './proto-json';
export { translateMesh, grpcPolicyGaps, GRPC_REQUIRED_ENV } from '../translate';
