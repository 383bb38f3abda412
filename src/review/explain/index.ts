/** `mesh explain` as a library: a request evaluated offline against the compiled config, and its formatting. */
export { explainCall, explainRequest, type ExplainSource } from './explain';
export { hasCardNumber, hasUsSsn } from './guardrail';
export { formatExplain, EXPLAIN_FORMATS, type ExplainFormat } from './format';
export { evaluateRbac, type RbacDecision, type RbacContext } from './rbac';
export { parseHeaderFlags } from './request';
export type * from './types';
