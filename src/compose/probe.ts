/**
 * Small HTTP probes for looking at a running composition from the inside:
 * through a sidecar's outbound listener, at its Envoy admin interface (never
 * published, so only reachable from within the sidecar's network
 * namespace), and at an inbound listener with or without a mesh identity.
 *
 * Used as a library by the local-process runner and as a CLI in one-off
 * containers (`docker compose run --rm <node>-app node dist/src/compose/probe.js ...`),
 * which prints exactly one JSON line on stdout.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

export interface ProbeRequest {
  readonly host: string;
  readonly port: number;
  readonly method?: string;
  readonly path?: string;
  /** Host header (the callee's name through an outbound listener). */
  readonly authority?: string;
  /** A JSON body. */
  readonly json?: unknown;
  readonly timeoutMs?: number;
  /** mTLS: PEM file paths; `servername` is checked against the server certificate. */
  readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string; readonly servername?: string };
}

export interface ProbeResult {
  /** Undefined when no HTTP response came back (refused, reset, TLS failure, timeout). */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly error?: string;
  readonly ms: number;
}

export function probe(req: ProbeRequest): Promise<ProbeResult> {
  const started = Date.now();
  const body = req.json === undefined ? undefined : Buffer.from(JSON.stringify(req.json));
  const headers: Record<string, string | number> = {
    ...(req.authority ? { host: req.authority } : {}),
    ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}),
  };
  const base = { host: req.host, port: req.port, method: req.method ?? 'GET', path: req.path ?? '/', headers, agent: false as const };
  return new Promise((resolve) => {
    const done = (r: Omit<ProbeResult, 'ms'>): void => resolve({ ...r, ms: Date.now() - started });
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => done({ error: describe(err) }));
    };
    const r = req.tls
      ? https.request({
          ...base,
          ca: fs.readFileSync(req.tls.ca),
          ...(req.tls.cert ? { cert: fs.readFileSync(req.tls.cert) } : {}),
          ...(req.tls.key ? { key: fs.readFileSync(req.tls.key) } : {}),
          ...(req.tls.servername ? { servername: req.tls.servername } : {}),
        }, onResponse)
      : http.request(base, onResponse);
    r.setTimeout(req.timeoutMs ?? 5000, () => r.destroy(Object.assign(new Error(`no answer within ${req.timeoutMs ?? 5000} ms`), { code: 'ETIMEDOUT' })));
    r.on('error', (err) => done({ error: describe(err) }));
    r.end(body);
  });
}

/** `count` requests, at most `concurrency` at a time, in order of completion. */
export async function probeMany(req: ProbeRequest, count: number, concurrency = 1): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      out.push(await probe(req));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return out;
}

/** A GET on an Envoy admin interface (loopback of the sidecar's namespace). */
export async function adminGet(port: number, path: string): Promise<string> {
  const r = await probe({ host: '127.0.0.1', port, path });
  if (r.status !== 200) throw new Error(`Envoy admin 127.0.0.1:${port}${path}: ${r.error ?? `HTTP ${r.status}: ${r.body ?? ''}`}`);
  return r.body ?? '';
}

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
}

function describe(err: NodeJS.ErrnoException): string {
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

const USAGE = `probe.js <command> [--flag value]...  (prints one JSON line)
  http   --host H --port P [--method M] [--path /p] [--authority name] [--json '{...}'] [--count N] [--concurrency C]
  mtls   the same, plus --ca F [--cert F --key F] [--servername name]
  admin  --port P --path /clusters        (Envoy admin, from inside the sidecar's namespace)
`;

function flags(args: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i]!.startsWith('--') || args[i + 1] === undefined) throw new Error(`bad argument ${args[i]}\n${USAGE}`);
    m.set(args[i]!.slice(2), args[i + 1]!);
  }
  return m;
}

function requestOf(f: Map<string, string>, withTls: boolean): ProbeRequest {
  const need = (k: string): string => {
    const v = f.get(k);
    if (v === undefined) throw new Error(`--${k} is required\n${USAGE}`);
    return v;
  };
  return {
    host: need('host'),
    port: Number(need('port')),
    method: f.get('method') ?? 'GET',
    path: f.get('path') ?? '/',
    ...(f.has('authority') ? { authority: f.get('authority')! } : {}),
    ...(f.has('json') ? { json: JSON.parse(f.get('json')!) as unknown } : {}),
    ...(f.has('timeout-ms') ? { timeoutMs: Number(f.get('timeout-ms')) } : {}),
    ...(withTls
      ? { tls: { ca: need('ca'), ...(f.has('cert') ? { cert: f.get('cert')! } : {}), ...(f.has('key') ? { key: f.get('key')! } : {}), ...(f.has('servername') ? { servername: f.get('servername')! } : {}) } }
      : {}),
  };
}

export async function probeCli(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const out = (v: unknown): void => void process.stdout.write(`${JSON.stringify(v)}\n`);
  try {
    if (cmd === 'http' || cmd === 'mtls') {
      const f = flags(rest);
      out({ results: await probeMany(requestOf(f, cmd === 'mtls'), Number(f.get('count') ?? 1), Number(f.get('concurrency') ?? 1)) });
      return 0;
    }
    if (cmd === 'admin') {
      const f = flags(rest);
      out({ body: await adminGet(Number(f.get('port') ?? 15000), f.get('path') ?? '/') });
      return 0;
    }
    process.stdout.write(USAGE);
    return cmd === 'help' || cmd === undefined ? 0 : 2;
  } catch (err) {
    out({ error: (err as Error).message });
    return 1;
  }
}

if (require.main === module) {
  void probeCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
