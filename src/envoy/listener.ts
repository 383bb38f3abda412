/**
 * Listeners. Envoy sidecar: an inbound mTLS listener in front of the app and
 * an outbound plain-HTTP listener on loopback for the app's calls. Proxyless
 * gRPC: grpc-listener.ts.
 */
import type { NodeIR } from '../ir/types';
import { OUTBOUND_ROUTE_CONFIG, XDS_CLUSTER } from '../translate/naming';
import { grpcAccessLog, stdoutAccessLog } from './access-log';
import { GUARDRAIL_METADATA, httpFilters, nodeHasGuardrails, nodeInjectsFaults } from './filters';
import { hcmNetworkFilter, httpConnectionManager } from './hcm';
import { TYPE, socketAddress, type JsonObject } from './proto-json';
import { envoyDownstreamTls } from './tls';
import { buildGrpcListeners } from './grpc-listener';

export function buildListeners(node: NodeIR): JsonObject[] {
  if (node.kind === 'grpc') return buildGrpcListeners(node);
  return [buildInboundListener(node), buildOutboundListener(node)];
}

export function buildInboundListener(node: NodeIR): JsonObject {
  const hcm = httpConnectionManager({
    statPrefix: 'inbound',
    // RDS, not inline: access and rate limits live in the route (filters/rbac.ts).
    rdsName: node.inbound.listenerName,
    httpFilters: httpFilters({ chain: 'envoy-inbound', node }),
    extra: {
      codec_type: 'AUTO',
      // stdout for the app's operator and the lab; the gRPC stream for the control plane's tap (src/tap).
      access_log: [stdoutAccessLog('inbound', node.id), grpcAccessLog('inbound', XDS_CLUSTER)],
      generate_request_id: true,
      // Keep the caller's x-request-id: it is the trace id of the whole call chain.
      preserve_external_request_id: true,
      // Tell the app who called (x-forwarded-client-cert with the caller's URI SAN), after dropping any forged one.
      forward_client_cert_details: 'SANITIZE_SET',
      set_current_client_cert_details: { uri: true },
      // No caller is internal: Envoy honours x-envoy-* request headers (timeouts, retries) only from
      // internal callers, and a remote service must not shorten or lengthen this callee's timeout.
      // Internal is decided on the socket peer (use_remote_address), never on an x-forwarded-for the
      // caller can write, and the only internal ranges are unspecified addresses no peer can have.
      // (An empty internal_address_config would mean Envoy's legacy default: RFC1918 and loopback,
      // taken from that x-forwarded-for; deadlines.test.ts forges one.) skip_xff_append: the app sees
      // the headers it saw before.
      use_remote_address: true,
      skip_xff_append: true,
      internal_address_config: { cidr_ranges: [{ address_prefix: '0.0.0.0', prefix_len: 32 }, { address_prefix: '::', prefix_len: 128 }] },
      // The route timeout answered here is the mesh's too: the caller's SDK types it like its own sidecar's.
      local_reply_config: { mappers: [{ filter: { response_flag_filter: { flags: ['UT'] } }, headers_to_add: [{ header: { key: MESH_ERROR_HEADER, value: 'timeout' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }] },
    },
  });
  return {
    '@type': TYPE.listener,
    name: node.inbound.listenerName,
    address: socketAddress(node.inbound.address, node.inbound.port),
    // One chain: every connection must complete mTLS, there is no plaintext fallback.
    filter_chains: [{ name: 'inbound-mtls', filters: [hcmNetworkFilter(hcm)], transport_socket: envoyDownstreamTls(node.identity) }],
  };
}

/** When the caller's sidecar answers for itself, this header says why (the SDKs map it to typed outcomes). */
export const MESH_ERROR_HEADER = 'x-mesh-error';

/**
 * Local replies of the outbound listener, by Envoy response flag: UH (no
 * healthy upstream: every instance ejected, the circuit is open; or none
 * registered), UT (the route timeout), NR (no route: not a declared callee),
 * FI (an abort injected by a route's `fault:`, chaos testing).
 * Only replies Envoy makes itself go through these mappers; an upstream's own
 * 503 never gets the header.
 */
function meshErrorReplies(node: NodeIR): JsonObject {
  const mark = (value: string): JsonObject[] => [{ header: { key: MESH_ERROR_HEADER, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
  const mapper = (flag: string, value: string): JsonObject => ({ filter: { response_flag_filter: { flags: [flag] } }, headers_to_add: mark(value) });
  const localStatus = (status: number, runtimeKey: string): JsonObject => ({ status_code_filter: { comparison: { op: 'EQ', value: { default_value: status, runtime_key: runtimeKey } } } });
  // The route's deadline cap (route.ts, deadlineCap) ends the stream with a 504 (408 while the app was
  // still sending) that carries no response flag: any other local 504 or 408 here is a timeout too.
  const capped = [
    { filter: localStatus(504, 'mesh.timeout.local_504'), headers_to_add: mark('timeout') },
    { filter: localStatus(408, 'mesh.timeout.local_408'), status_code: 504, headers_to_add: mark('timeout') },
  ];
  // FI (fault injected): only on nodes with a fault route, so other nodes compile as before.
  const faults = nodeInjectsFaults(node) ? [mapper('FI', 'fault-injected')] : [];
  // Guardrail: the only buffering filter here; its chunked body over Envoy's limit is the rule's refusal, not a 413.
  const guardrail = nodeHasGuardrails(node) ? [{
    filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 413, runtime_key: 'mesh.guardrail.buffer_overflow_status' } } } },
    status_code: 403,
    headers_to_add: [
      { header: { key: MESH_ERROR_HEADER, value: 'guardrail' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-mesh-guardrail', value: `%DYNAMIC_METADATA(${GUARDRAIL_METADATA}:pending)%` }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    ],
  }] : [];
  return { mappers: [mapper('UH', 'circuit-open'), mapper('UT', 'timeout'), mapper('NR', 'no-route'), ...faults, ...guardrail, ...capped] };
}

export function buildOutboundListener(node: NodeIR): JsonObject {
  const out = node.outbound;
  if (out.listenerName === undefined || out.address === undefined || out.port === undefined) {
    throw new Error(`bug: envoy node ${node.id} has no outbound listener`);
  }
  const hcm = httpConnectionManager({
    statPrefix: 'outbound',
    rdsName: OUTBOUND_ROUTE_CONFIG,
    httpFilters: httpFilters({ chain: 'envoy-outbound', node }),
    extra: {
      codec_type: 'AUTO',
      // stdout for the app's operator and the lab; the gRPC stream for the control plane's tap (src/tap).
      // With guardrail rules: which rule refused the request (the tap's mesh.guardrail_blocked event; filters/guardrail.ts).
      access_log: [stdoutAccessLog('outbound', node.id, nodeHasGuardrails(node) ? { guardrail_blocked: `%DYNAMIC_METADATA(${GUARDRAIL_METADATA}:rule)%`, guardrail_reason: `%DYNAMIC_METADATA(${GUARDRAIL_METADATA}:reason)%` } : {}), grpcAccessLog('outbound', XDS_CLUSTER)],
      // The app's request gets an id here unless it already carries one (then it is kept: loopback is internal).
      generate_request_id: true,
      // Only the local app is internal, so only its x-envoy-* headers are honoured: the SDKs' per-call
      // deadline (x-envoy-upstream-rq-timeout-ms, capped at the route's timeout in route.ts). Internal
      // means: the socket peer (use_remote_address, not a forgeable x-forwarded-for) is loopback and the
      // request carries no x-forwarded-for of its own. skip_xff_append keeps the callee's view unchanged.
      use_remote_address: true,
      skip_xff_append: true,
      internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.1', prefix_len: 32 }, { address_prefix: '::1', prefix_len: 128 }] },
      local_reply_config: meshErrorReplies(node),
    },
  });
  return {
    '@type': TYPE.listener,
    name: out.listenerName,
    address: socketAddress(out.address, out.port),
    filter_chains: [{ name: 'outbound', filters: [hcmNetworkFilter(hcm)] }],
  };
}
