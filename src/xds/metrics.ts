/**
 * Prometheus metrics, rendered in the text exposition format 0.0.4.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export const LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  sum = 0;
  count = 0;
  observe(v: number): void {
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (v <= LATENCY_BUCKETS_MS[i]!) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class Metrics {
  pushes = 0;
  pushBytes = 0;
  acks = 0;
  nacks = 0;
  staleNonces = 0;
  streamErrors = 0;
  readonly pushToAck = new Histogram();
  /** Filled in at render time by the server. */
  gauges: () => { streamsByType: Record<string, number>; streams: number; registry: number; nodes: number } = () => ({ streamsByType: {}, streams: 0, registry: 0, nodes: 0 });

  /** The store (mesh serve --store): up or not, and the seq of the served revision. */
  store?: () => { kind: string; up: boolean; seq: number };

  render(): string {
    const g = this.gauges();
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    metric('hms_xds_connected_streams', 'gauge', 'Connected ADS streams.', [['', g.streams]]);
    metric('hms_xds_subscribed_streams', 'gauge', 'Connected ADS streams subscribed to each resource type.', Object.entries(g.streamsByType).sort().map(([t, n]) => [`{type="${t}"}`, n]));
    metric('hms_xds_nodes', 'gauge', 'Nodes with a snapshot.', [['', g.nodes]]);
    metric('hms_xds_pushes_total', 'counter', 'DiscoveryResponses sent.', [['', this.pushes]]);
    metric('hms_xds_push_bytes_total', 'counter', 'Bytes of DiscoveryResponses sent.', [['', this.pushBytes]]);
    metric('hms_xds_acks_total', 'counter', 'ACKs received.', [['', this.acks]]);
    metric('hms_xds_nacks_total', 'counter', 'NACKs received.', [['', this.nacks]]);
    metric('hms_xds_stale_nonces_total', 'counter', 'Requests ignored for a stale nonce.', [['', this.staleNonces]]);
    metric('hms_xds_stream_errors_total', 'counter', 'Streams closed for a protocol or authorization error.', [['', this.streamErrors]]);
    metric('hms_registry_instances', 'gauge', 'Registered service instances.', [['', g.registry]]);
    const st = this.store?.();
    if (st) {
      metric('hms_store_up', 'gauge', 'Whether the store of applies and registrations is reachable (0: degraded, serving the last good snapshot).', [[`{kind="${st.kind}"}`, st.up ? 1 : 0]]);
      metric('hms_store_revision_seq', 'gauge', 'Store sequence number of the revision served.', [['', st.seq]]);
    }
    lines.push('# HELP hms_xds_push_to_ack_ms Time from sending a response to its ACK.', '# TYPE hms_xds_push_to_ack_ms histogram');
    LATENCY_BUCKETS_MS.forEach((b, i) => lines.push(`hms_xds_push_to_ack_ms_bucket{le="${b}"} ${this.pushToAck.counts[i]}`));
    lines.push(`hms_xds_push_to_ack_ms_bucket{le="+Inf"} ${this.pushToAck.count}`);
    lines.push(`hms_xds_push_to_ack_ms_sum ${this.pushToAck.sum}`, `hms_xds_push_to_ack_ms_count ${this.pushToAck.count}`);
    return lines.join('\n') + '\n';
  }
}
