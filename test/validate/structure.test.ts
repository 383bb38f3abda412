import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { typeUrlOf, validateEnvoyConfig, validateResource } from '../../src/validate';
import * as pgv from '../../src/validate/pgv';
import { parseScalar } from '../../src/validate/proto3-json';

const CLUSTER = typeUrlOf('envoy.config.cluster.v3.Cluster');
const ROUTE = typeUrlOf('envoy.config.route.v3.Route');
const codes = (d: readonly Diagnostic[]): string[] => d.map((x) => `${x.code} ${x.path ?? ''}`).sort();
const cluster = (extra: object): object => ({ name: 'c', ...extra });
const check = (typeUrl: string, value: unknown): string[] => codes(validateResource(typeUrl, value));

describe('proto3 JSON mapping', () => {
  it('accepts 64-bit integers as numbers or strings, rejects fractions and out-of-range values', () => {
    const ring = (v: unknown): object => cluster({ ring_hash_lb_config: { minimum_ring_size: v } });
    assert.deepEqual(check(CLUSTER, ring(1024)), []);
    assert.deepEqual(check(CLUSTER, ring('1024')), []);
    assert.deepEqual(check(CLUSTER, ring('1.5')), ['ENVOY002 ring_hash_lb_config.minimum_ring_size']);
    assert.deepEqual(check(CLUSTER, cluster({ per_connection_buffer_limit_bytes: -1 })), ['ENVOY002 per_connection_buffer_limit_bytes']);
    assert.deepEqual(check(CLUSTER, cluster({ per_connection_buffer_limit_bytes: 2 ** 32 })), ['ENVOY002 per_connection_buffer_limit_bytes']);
  });

  it('reads Duration only as a string of seconds', () => {
    assert.deepEqual(check(CLUSTER, cluster({ connect_timeout: '0.250s' })), []);
    assert.deepEqual(check(CLUSTER, cluster({ connect_timeout: '250ms' })), ['ENVOY002 connect_timeout']);
    assert.deepEqual(check(CLUSTER, cluster({ connect_timeout: { seconds: 1 } })), ['ENVOY002 connect_timeout']);
  });

  it('reads wrappers as bare values', () => {
    assert.deepEqual(check(CLUSTER, cluster({ per_connection_buffer_limit_bytes: 32768 })), []);
    assert.deepEqual(check(CLUSTER, cluster({ per_connection_buffer_limit_bytes: { value: 1 } })), ['ENVOY002 per_connection_buffer_limit_bytes']);
    assert.deepEqual(check(CLUSTER, cluster({ respect_dns_ttl: 'true' })), ['ENVOY002 respect_dns_ttl']);
  });

  it('accepts enum names and numbers, rejects unknown names', () => {
    assert.deepEqual(check(CLUSTER, cluster({ lb_policy: 1 })), []);
    assert.deepEqual(check(CLUSTER, cluster({ lb_policy: 'least_request' })), ['ENVOY003 lb_policy']);
  });

  it('accepts lowerCamel json names, rejects setting a field under both names', () => {
    assert.deepEqual(check(CLUSTER, cluster({ connectTimeout: '1s', lbPolicy: 'MAGLEV' })), []);
    assert.deepEqual(check(CLUSTER, cluster({ connectTimeout: '1s', connect_timeout: '2s' })), ['ENVOY006 connect_timeout']);
  });

  it('treats null as unset', () => {
    assert.deepEqual(check(CLUSTER, cluster({ connect_timeout: null, load_assignment: null })), []);
  });

  it('Struct, Value, ListValue take any JSON; maps need objects; lists need arrays', () => {
    assert.deepEqual(check(CLUSTER, cluster({ metadata: { filter_metadata: { a: { x: [1, null, { y: 'z' }] } } } })), []);
    assert.deepEqual(check(CLUSTER, cluster({ metadata: { filter_metadata: { a: 5 } } })), ['ENVOY002 metadata.filter_metadata.a']);
    assert.deepEqual(check(CLUSTER, cluster({ metadata: { filter_metadata: [] } })), ['ENVOY002 metadata.filter_metadata']);
    assert.deepEqual(check(CLUSTER, cluster({ health_checks: {} })), ['ENVOY002 health_checks']);
  });

  it('Timestamp, FieldMask and bytes have their string forms', () => {
    assert.deepEqual(check(typeUrlOf('google.protobuf.Timestamp'), '2024-02-29T12:00:00.5Z'), []);
    assert.deepEqual(check(typeUrlOf('google.protobuf.Timestamp'), '2024-02-29 12:00'), ['ENVOY002 ']);
    assert.deepEqual(check(typeUrlOf('google.protobuf.FieldMask'), 'fooBar,baz'), []);
    assert.deepEqual(check(typeUrlOf('google.protobuf.BytesValue'), 'aGVsbG8='), []);
    assert.deepEqual(check(typeUrlOf('google.protobuf.BytesValue'), 'not base64!'), ['ENVOY002 ']);
  });

  it('Any: inline fields for messages, "value" for WKTs, TypedStruct contents checked against its type_url', () => {
    const tso = (typed_config: object): object => cluster({ typed_extension_protocol_options: { x: typed_config } });
    assert.deepEqual(check(CLUSTER, tso({ '@type': typeUrlOf('google.protobuf.Struct'), value: { a: 1 } })), []);
    assert.deepEqual(check(CLUSTER, tso({ value: 1 })), ['ENVOY005 typed_extension_protocol_options.x']);
    assert.deepEqual(check(CLUSTER, tso({ '@type': 'envoy.config.cluster.v3.Cluster' })), ['ENVOY005 typed_extension_protocol_options.x["@type"]']);
    const typedStruct = {
      '@type': typeUrlOf('xds.type.v3.TypedStruct'),
      type_url: typeUrlOf('envoy.extensions.upstreams.http.v3.HttpProtocolOptions'),
      value: { explicit_http_config: { http2_protocol_options: {} }, bogus: 1 },
    };
    assert.deepEqual(check(CLUSTER, tso(typedStruct)), ['ENVOY001 typed_extension_protocol_options.x.value.bogus']);
  });
});

describe('protoc-gen-validate rules', () => {
  const route = (action: object, extra: object = {}): object => ({ match: { prefix: '/' }, route: action, ...extra });

  it('string well_known_regex (HTTP header name/value, non-strict)', () => {
    const headers = (key: string): object => route({ cluster: 'a' }, { request_headers_to_add: [{ header: { key, value: 'v' } }] });
    assert.deepEqual(check(ROUTE, headers('x-ok')), []);
    assert.deepEqual(check(ROUTE, headers('x-bad\nname')), ['ENVOY010 request_headers_to_add[0].header.key']);
  });

  it('string in', () => {
    const rl = typeUrlOf('envoy.extensions.filters.http.ratelimit.v3.RateLimit');
    assert.deepEqual(check(rl, { domain: 'd', request_type: 'internal', rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'rls' } } } }), []);
    assert.deepEqual(check(rl, { domain: 'd', request_type: 'sideways', rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'rls' } } } }), ['ENVOY010 request_type']);
  });

  it('number ranges, enum defined_only, required durations and messages', () => {
    const backOff = (b: object): object => route({ cluster: 'a', retry_policy: { retry_back_off: b } });
    assert.deepEqual(check(ROUTE, backOff({ base_interval: '0.025s' })), []);
    assert.deepEqual(check(ROUTE, backOff({ max_interval: '1s' })), ['ENVOY014 route.retry_policy.retry_back_off.base_interval']);
    assert.deepEqual(check(ROUTE, backOff({ base_interval: '0s' })), ['ENVOY012 route.retry_policy.retry_back_off.base_interval']);
    assert.deepEqual(check(CLUSTER, cluster({ lb_policy: 42 })), ['ENVOY016 lb_policy']);
    assert.deepEqual(check(CLUSTER, cluster({ least_request_lb_config: { choice_count: 1 } })), ['ENVOY011 least_request_lb_config.choice_count']);
  });

  it('scalar rules apply to unset fields at their default value (as PGV does)', () => {
    assert.deepEqual(check(CLUSTER, {}), ['ENVOY010 name']);
  });

  it('oneof rules apply only to the member that is set', () => {
    assert.deepEqual(check(ROUTE, route({ cluster_header: 'x-cluster' })), []);
  });

  it('deprecated and disallowed enum values', () => {
    const ads = (source: object): unknown => ({ dynamic_resources: { ads_config: source } });
    const grpc = { grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }] };
    assert.deepEqual(codes(validateEnvoyConfig(ads({ api_type: 'GRPC', transport_api_version: 'V3', ...grpc }))), []);
    const v2 = validateEnvoyConfig(ads({ api_type: 'GRPC', transport_api_version: 'V2', ...grpc }));
    assert.deepEqual(codes(v2), ['ENVOY021 dynamic_resources.ads_config.transport_api_version']);
    assert.equal(v2[0]?.severity, 'warning');
    assert.deepEqual(codes(validateEnvoyConfig(ads({ transport_api_version: 'V3', ...grpc }))), ['ENVOY022 dynamic_resources.ads_config.api_type']);
  });
});

describe('scalar and string rules at their edges', () => {
  it('PGV string lengths count code points, not UTF-16 units', () => {
    const emoji = '\u{1F600}';
    assert.deepEqual(pgv.checkStringRules({ max_len: 2 }, emoji + emoji), []);
    assert.equal(pgv.checkStringRules({ max_len: 2 }, emoji + emoji + emoji).length, 1);
    assert.equal(pgv.checkStringRules({ min_len: 2 }, emoji).length, 1, 'one rune, two UTF-16 units');
    assert.deepEqual(pgv.checkStringRules({ min_len: 2, max_len: 2 }, `a${emoji}`), []);
    // A lone surrogate counts as one code point, as JavaScript's string iterator counts it.
    assert.deepEqual(pgv.checkStringRules({ len: 2 }, '\uD800x'), []);
  });

  it('32-bit integers: numbers and strings, at and past the range', () => {
    assert.deepEqual(parseScalar('uint32', 4294967295), { ok: true, value: 4294967295 });
    assert.equal(parseScalar('uint32', 4294967296).ok, false);
    assert.equal(parseScalar('uint32', -1).ok, false);
    assert.deepEqual(parseScalar('int32', -2147483648), { ok: true, value: -2147483648 });
    assert.equal(parseScalar('int32', 2147483648).ok, false);
    assert.deepEqual(parseScalar('int32', '5'), { ok: true, value: 5 });
    assert.equal(parseScalar('uint32', 1.5).ok, false);
    assert.deepEqual(parseScalar('int64', 5), { ok: true, value: 5n });
  });
});
