/**
 * Mesh events as CloudEvents 1.0 in structured mode (the whole event is the
 * JSON body: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md).
 * The id is a hash of what the occurrence is (type, subject, its window or
 * key), never a counter or a random value: the same occurrence delivered
 * twice (a retry, a restart replaying the spool) has the same id, so
 * consumers drop duplicates by id.
 */
import { createHash } from 'node:crypto';

export const MESH_EVENT_TYPES = [
  'mesh.timeout',
  'mesh.circuit_open',
  'mesh.circuit_closed',
  'mesh.rate_limited',
  'mesh.denied',
  'mesh.nack',
  'mesh.cert_expiring',
  'mesh.guardrail_blocked',
  'mesh.events_dropped',
] as const;
export type MeshEventType = (typeof MESH_EVENT_TYPES)[number];

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

export interface MeshEvent {
  readonly specversion: '1.0';
  readonly id: string;
  /** The control plane that saw it: /hms-svc/<mesh name>. */
  readonly source: string;
  readonly type: MeshEventType;
  /** What it is about: "payer->bank" for a pair, the node for a NACK, the identity for a certificate. */
  readonly subject: string;
  /** RFC 3339: when it happened (the window's first occurrence for coalesced events). */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: Readonly<Record<string, unknown>>;
}

export function meshEvent(source: string, type: MeshEventType, subject: string, occurrenceKey: string, timeMs: number, data: Record<string, unknown>): MeshEvent {
  const id = createHash('sha256').update(`${source}\u0000${type}\u0000${subject}\u0000${occurrenceKey}`).digest('hex').slice(0, 32);
  return { specversion: '1.0', id, source, type, subject, time: new Date(timeMs).toISOString(), datacontenttype: 'application/json', data };
}
