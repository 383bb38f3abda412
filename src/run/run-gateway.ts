/**
 * `mesh run <gateway>`: an ingress gateway's Envoy as a local process. A
 * gateway is a mesh workload with no app (translate/gateway.ts), so there is
 * no command: Envoy starts on the gateway's compiled bootstrap, `mesh run`
 * says where it listens once /ready answers 200 (its listeners, routes,
 * clusters and certificate from the control plane are accepted and warm), and
 * runs until Envoy exits or a signal stops it (exit 0 after SIGINT/SIGTERM,
 * 1 when Envoy exits on its own).
 *
 * The bootstrap is `mesh dev`'s (its control plane port and PKI) when that
 * state exists and compiled the gateway, else `<mesh>/out/<gateway>/`; the
 * admin port is read from the bootstrap itself, so both agree with what
 * Envoy binds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { localSidecarArgv } from '../compose/local-plan';
import { UserError } from '../diag/errors';
import type { MeshModel } from '../model/types';
import { readDevState } from './dev-state';

export interface GatewayRunPlan {
  readonly gateway: string;
  readonly bootstrap: string;
  readonly adminPort: number;
  /** `<address>:<port> (<hostnames>)`, one per declared listener. */
  readonly listens: readonly string[];
  /** Envoy's argv (the same launch as a sidecar's, src/compose/local-plan.ts). */
  readonly argv: readonly string[];
  readonly where: string;
}

/** Is `name` a gateway of the mesh (and not also a service, MESH220)? */
export function isGateway(model: MeshModel, name: string): boolean {
  return !model.services.some((s) => s.name === name) && (model.gateways ?? []).some((g) => g.name === name);
}

/** What `mesh run <gateway>` starts, without starting it (the CLI test asserts it). */
export function gatewayRunPlan(model: MeshModel, meshDir: string, gateway: string, command: readonly string[], envoy: string): GatewayRunPlan {
  const g = (model.gateways ?? []).find((x) => x.name === gateway)!;
  if (command.length > 0) {
    throw new UserError('MESH230', `${gateway} is an ingress gateway: it has no app, so \`mesh run ${gateway}\` takes no command (it runs the gateway's Envoy until stopped)`);
  }
  const dev = readDevState(meshDir);
  const devBootstrap = dev ? path.join(dev.outDir, gateway, 'bootstrap.yaml') : undefined;
  const bootstrap = devBootstrap && fs.existsSync(devBootstrap) ? devBootstrap : path.join(path.resolve(meshDir), 'out', gateway, 'bootstrap.yaml');
  if (!fs.existsSync(bootstrap)) {
    throw new UserError('MESH231', `no compiled bootstrap ${bootstrap} for gateway ${gateway}: run \`mesh build ${meshDir} --out ${path.join(meshDir, 'out')}\``);
  }
  return {
    gateway,
    bootstrap,
    adminPort: bootstrapAdminPort(bootstrap, g.adminPort),
    listens: g.listeners.map((l) => `${l.address}:${l.port} (${l.hostnames.map((h) => h.name).join(', ')})`),
    argv: localSidecarArgv(envoy, bootstrap),
    where: bootstrap === devBootstrap ? `mesh dev state in ${path.dirname(dev!.outDir)}` : path.resolve(meshDir),
  };
}

/** admin.address.socket_address.port_value of a compiled bootstrap; the declared port if it cannot be read. */
function bootstrapAdminPort(file: string, declared: number): number {
  try {
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { admin?: { address?: { socket_address?: { port_value?: unknown } } } };
    const port = doc.admin?.address?.socket_address?.port_value;
    return typeof port === 'number' ? port : declared;
  } catch {
    return declared;
  }
}
