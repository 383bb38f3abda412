/**
 * SDS Secrets, as references only. The compiled output never holds key
 * material: each Secret carries placeholders that the xDS server replaces
 * with PEM from the PKI store when it serves the node (src/xds). A placeholder
 * that reaches Envoy unreplaced fails to parse as PEM, so a missed
 * substitution is loud, never silently insecure.
 */
import type { NodeIR, SecretIR } from '../ir/types';
import { TYPE, type JsonObject } from './proto-json';

export type PlaceholderKind = 'cert-chain' | 'private-key' | 'trust-bundle';

const PLACEHOLDER_PREFIX = 'hms-pki:';

/** `hms-pki:<kind>:<subject>`, e.g. `hms-pki:private-key:grant-pay`, `hms-pki:trust-bundle:ceq.gov`. */
export function secretPlaceholder(kind: PlaceholderKind, subject: string): string {
  return `${PLACEHOLDER_PREFIX}${kind}:${subject}`;
}

export function parseSecretPlaceholder(text: string): { kind: PlaceholderKind; subject: string } | undefined {
  const m = /^hms-pki:(cert-chain|private-key|trust-bundle):(.+)$/.exec(text);
  return m ? { kind: m[1] as PlaceholderKind, subject: m[2] } : undefined;
}

export function buildSecrets(node: NodeIR): JsonObject[] {
  return node.secrets.map(secret);
}

function secret(s: SecretIR): JsonObject {
  if (s.kind === 'tls-certificate') {
    return {
      '@type': TYPE.secret,
      name: s.name,
      tls_certificate: {
        certificate_chain: { inline_string: secretPlaceholder('cert-chain', s.subject) },
        private_key: { inline_string: secretPlaceholder('private-key', s.subject) },
      },
    };
  }
  return {
    '@type': TYPE.secret,
    name: s.name,
    validation_context: { trusted_ca: { inline_string: secretPlaceholder('trust-bundle', s.subject) } },
  };
}
