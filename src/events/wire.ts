/**
 * The event bus wired to a running control plane: sinks and the coalescing
 * window follow the applied mesh.yml (`events`), NACKs from the xDS status
 * board become mesh.nack, and the PKI store is scanned every minute for
 * certificates close to expiry (mesh.cert_expiring, once per certificate:
 * its id is the identity and notAfter).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkStore } from '../pki/status';
import { isInside } from '../util/path-inside';
import { DEFAULT_CERT_EXPIRING_WITHIN_MS } from '../config/build-model';
import type { EventSettings, EventSinkSpec, MeshModel } from '../model/types';
import type { ControlPlane } from '../xds/control-plane';
import type { Logger } from '../xds/log';
import { DEFAULT_COALESCE_MS, type EventBus } from './bus';
import { FileSink, StdoutSink, WebhookSink, type EventSink } from './sinks';

export const CERT_SCAN_MS = 60_000;

export interface WireOptions {
  readonly storeDir?: string;
  readonly pkiDir?: string;
  readonly log: Logger;
  readonly certScanMs?: number;
}

export function wireEvents(cp: ControlPlane, bus: EventBus, opts: WireOptions): () => void {
  const sinks = new Map<string, EventSink>();
  // Without a store folder the spool lives in a temp folder of this process: it survives the sink, not a restart.
  const spoolDir = opts.storeDir ? path.join(opts.storeDir, 'events') : fs.mkdtempSync(path.join(os.tmpdir(), 'hms-events-'));
  let settings: EventSettings | undefined;
  const configure = (model: MeshModel): void => {
    settings = model.settings.events;
    const wanted = new Map<string, EventSink>();
    for (const spec of settings?.sinks ?? []) {
      const key = JSON.stringify({ ...spec, pos: undefined });
      const sink = sinks.get(key) ?? makeSink(spec, spoolDir, opts);
      if (sink) wanted.set(key, sink);
    }
    for (const [k, s] of sinks) if (!wanted.has(k)) s.close();
    sinks.clear();
    for (const [k, s] of wanted) sinks.set(k, s);
    bus.configure(`/hms-svc/${model.settings.name}`, settings?.coalesceMs ?? DEFAULT_COALESCE_MS, [...wanted.values()]);
  };
  const unInstall = cp.onInstall(configure);
  if (cp.appliedModel) configure(cp.appliedModel);
  const unStatus = cp.status.subscribe({
    onNack: (node, kind, version, message) => bus.publishNow('mesh.nack', node, `${kind}@${version}`, Date.now(), { node, type: kind, version, message: message.slice(0, 2000) }),
  });
  // Once per certificate: the occurrence is the identity and its notAfter (a re-issued certificate is a new one).
  const reported = new Set<string>();
  const scan = (): void => {
    if (!opts.pkiDir) return;
    const within = settings?.certExpiringWithinMs ?? DEFAULT_CERT_EXPIRING_WITHIN_MS;
    try {
      for (const row of checkStore(opts.pkiDir, { thresholdMs: within })) {
        if ((row.state !== 'expiring' && row.state !== 'expired') || !row.notAfter) continue;
        const key = `${row.label}@${row.notAfter.toISOString()}`;
        if (reported.has(key)) continue;
        reported.add(key);
        bus.publishNow('mesh.cert_expiring', row.label, key, Date.now(), { identity: row.spiffeId ?? row.label, not_after: row.notAfter.toISOString(), ms_left: row.msLeft ?? 0, state: row.state });
      }
    } catch (err) {
      opts.log.log('warn', 'certificate scan for mesh.cert_expiring failed', { error: (err as Error).message });
    }
  };
  scan();
  const timer = setInterval(scan, opts.certScanMs ?? CERT_SCAN_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    unInstall();
    unStatus();
  };
}

function makeSink(spec: EventSinkSpec, spoolDir: string, opts: WireOptions): EventSink | undefined {
  if (spec.kind === 'stdout') return new StdoutSink();
  if (spec.kind === 'webhook') {
    const name = createHash('sha256').update(spec.url).digest('hex').slice(0, 16);
    return new WebhookSink({ url: spec.url, spoolFile: path.join(spoolDir, `spool-${name}.jsonl`), spoolBytes: spec.spoolBytes });
  }
  if (spec.kind === 'file') {
    if (!opts.storeDir) {
      opts.log.log('warn', 'events file sink needs mesh serve --store (files are written inside it); sink skipped', { file: spec.file });
      return undefined;
    }
    const file = path.resolve(opts.storeDir, spec.file);
    if (!isInside(file, path.resolve(opts.storeDir))) return undefined;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    return new FileSink(file);
  }
  return undefined;
}
