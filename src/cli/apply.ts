import { escapeControls } from '../diag/excerpt';
import { Command } from 'commander';
import type { Diagnostic } from '../diag/diagnostic';
import { UserError } from '../diag/errors';
import { formatDiagnostics } from '../diag/format';
import { adminRequest, type AdminClientOptions } from '../xds/admin-client';
import { readMeshSources, type ApplyResult, type PlanResult, type StatusReport } from '../xds/control-plane';
import { lintMesh } from '../lint';
import { durationOption } from './duration-flag';
import { clientOptions, resolveClient, type ClientFlags } from './control-plane-opts';
import type { SetExit } from './main';

interface ApplyFlags extends ClientFlags {
  readonly dryRun: boolean;
  readonly wait: boolean;
  /** Milliseconds, parsed by durationOption. */
  readonly timeout: number;
}

export function registerApply(program: Command, setExit: SetExit): void {
  clientOptions(
    program
      .command('apply')
      .description('lint and compile a mesh locally, then send it to the control plane (validated again there)')
      .argument('[dir]', 'mesh directory', '.'),
  )
    .option('--dry-run', 'print, per node, what would be added, changed and removed; change nothing', false)
    .option('--wait', 'block until every connected node has ACKed the new configuration', false)
    .addOption(durationOption('--timeout <duration>', 'how long --wait waits (250ms, 2s, 1m, ...)', 30_000))
    .action(async (dir: string, flags: ApplyFlags) => setExit(await runApply(dir, flags)));
}

async function runApply(dir: string, flags: ApplyFlags): Promise<number> {
  // Lint locally first: positions point at the user's files, and a broken mesh never leaves the machine.
  const local = lintMesh(dir);
  process.stdout.write(formatDiagnostics(local.diagnostics, 'text'));
  if (!local.model) return 1;
  const client = resolveClient(flags, dir);
  const sources = readMeshSources(dir);
  if (flags.dryRun) {
    const r = await call<PlanResult>(client, 'POST', '/v1/apply', { sources, displayDir: dir, dryRun: true });
    if (!r.ok) return printRefusal(r.diagnostics);
    process.stdout.write(formatPlan(r));
    return 0;
  }
  const r = await call<ApplyResult>(client, 'POST', '/v1/apply', { sources, displayDir: dir });
  if (!r.ok) return printRefusal(r.diagnostics);
  process.stdout.write(`applied revision ${r.revision}: ${r.changedNodes?.length ?? 0} node(s) changed${r.changedNodes?.length ? ` (${r.changedNodes.join(', ')})` : ''}\n`);
  if (!flags.wait) return 0;
  return waitForAcks(client, flags.timeout);
}

async function call<T>(client: AdminClientOptions, method: string, path: string, body?: unknown): Promise<T> {
  const res = await adminRequest<T & { error?: string }>(client, method, path, body);
  if (res.status !== 200) throw new UserError('MESH096', `control plane refused ${method} ${path} (${res.status}): ${res.body?.error ?? JSON.stringify(res.body)}`);
  return res.body;
}

function printRefusal(diags: readonly Diagnostic[]): number {
  process.stdout.write('the control plane refused the mesh; nothing changed:\n' + formatDiagnostics(diags, 'text'));
  return 1;
}

export function formatPlan(p: PlanResult): string {
  const lines: string[] = [];
  for (const [node, kinds] of Object.entries(p.nodes)) {
    if (Object.keys(kinds).length === 0) {
      lines.push(`${node}: unchanged`);
      continue;
    }
    lines.push(`${node}:`);
    for (const [kind, d] of Object.entries(kinds)) {
      for (const n of d.added) lines.push(`  + ${kind} ${n}`);
      for (const n of d.changed) lines.push(`  ~ ${kind} ${n}`);
      for (const n of d.removed) lines.push(`  - ${kind} ${n}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Polls /v1/status until every connected node is in sync, one NACKs, or time runs out. */
async function waitForAcks(client: AdminClientOptions, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await call<StatusReport>(client, 'GET', '/v1/status');
    const connected = s.nodes.filter((n) => n.connected);
    const nacks = connected.filter((n) => n.nacked);
    if (nacks.length > 0) return failWait(nacks, [], 'NACKed');
    const lagging = connected.filter((n) => !n.inSync);
    if (lagging.length === 0) {
      process.stdout.write(`all ${connected.length} connected node(s) ACKed revision ${s.revision}\n`);
      return 0;
    }
    if (Date.now() >= deadline) return failWait([], lagging, `did not ACK within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function failWait(nacks: StatusReport['nodes'], lagging: StatusReport['nodes'], what: string): number {
  const lines = [`error MESH097: apply --wait: ${what}`];
  for (const n of nacks) {
    for (const [kind, t] of Object.entries(n.types)) {
      if (t?.lastNack && t.lastNack.version === t.current) lines.push(`  NACK ${n.node} ${kind}: ${t.lastNack.message}`);
    }
  }
  for (const n of lagging) {
    const pending = Object.entries(n.types).filter(([, t]) => t?.acked !== t?.current).map(([k]) => k);
    lines.push(`  no answer: ${n.node} (${pending.join(', ') || 'no subscriptions'})`);
  }
  process.stdout.write(escapeControls(lines.join('\n'), true) + '\n');
  return 1;
}
