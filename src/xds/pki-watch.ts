/**
 * Noticing `mesh certs rotate` while serving: the PKI store is polled (the
 * mtime and size of the trust bundle and of every workload's chain and key),
 * and a change re-reads the nodes' SDS secrets (ControlPlane.refreshSecrets),
 * so sidecars present new certificates on new connections without a restart.
 *
 * Polling, not fs.watch: rotation replaces files by rename inside per-identity
 * folders, which inotify reports unreliably across editors and tools, and the
 * cost is one stat per file per interval (two files per service). A change is
 * acted on once the fingerprint has been stable for one interval, so a rotation
 * that is still writing files is not picked up half-way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_PKI_POLL_MS = 2000;

export function pkiFingerprint(pkiDir: string): string {
  const parts: string[] = [];
  const stat = (file: string): void => {
    try {
      const st = fs.statSync(file);
      parts.push(`${path.relative(pkiDir, file)}:${st.mtimeMs}:${st.size}`);
    } catch {
      parts.push(`${path.relative(pkiDir, file)}:-`);
    }
  };
  stat(path.join(pkiDir, 'trust-bundle.pem'));
  const svc = path.join(pkiDir, 'svc');
  let names: string[] = [];
  try {
    names = fs.readdirSync(svc).sort();
  } catch {
    /* no workload certificates yet */
  }
  for (const name of names) for (const f of ['chain.pem', 'key.pem']) stat(path.join(svc, name, f));
  return parts.join('\n');
}

export interface PkiWatch {
  stop(): void;
}

export function watchPki(pkiDir: string, onChange: () => void, intervalMs = DEFAULT_PKI_POLL_MS): PkiWatch {
  let seen = pkiFingerprint(pkiDir);
  let pending: string | undefined;
  const timer = setInterval(() => {
    const now = pkiFingerprint(pkiDir);
    if (now === seen) {
      pending = undefined;
      return;
    }
    if (pending !== now) {
      pending = now; // changed: wait one more interval for it to settle
      return;
    }
    seen = now;
    pending = undefined;
    onChange();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
