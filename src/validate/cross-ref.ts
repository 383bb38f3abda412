import { ENVOY_CODES as C, type Finding, error } from './codes';
import { type JsonObject, type JsonPath } from './json-path';
import {
  type ResourceKind,
  RESOURCE_TYPES,
  ROUTER_FILTER_NAME,
  ROUTER_TYPE,
  getField,
  getPath,
  stringField,
} from './resource-types';
import { typeNameOfUrl } from './proto-registry';

/**
 * The reference checks Envoy (or an xDS snapshot consistency check, as in
 * go-control-plane) enforces over ONE node's resources: names that must
 * resolve, addresses that must be unique, the router filter placement.
 * References are collected while the structural checker walks each
 * document (so they are found at any depth, inside any typed_config), then
 * resolved once every document of the node has been walked. `D` identifies
 * the document (file) a path belongs to.
 */
export interface Located<D> {
  readonly doc: D;
  readonly path: JsonPath;
}

export type LocatedFinding<D> = Finding & { readonly doc: D };

interface NamedResource<D> extends Located<D> {
  readonly kind: ResourceKind;
  readonly value: JsonObject;
}

type RefKind = 'clusters' | 'routes' | 'secrets';

interface Reference<D> extends Located<D> {
  readonly kind: RefKind;
  readonly name: string;
  readonly from: string;
}

interface FilterList<D> extends Located<D> {
  readonly filters: readonly unknown[];
}

/** Message types whose fields name other resources, and which field. */
const CLUSTER_REFS: Readonly<Record<string, string>> = {
  'envoy.config.route.v3.RouteAction': 'cluster',
  'envoy.config.route.v3.WeightedCluster.ClusterWeight': 'name',
  'envoy.config.route.v3.RouteAction.RequestMirrorPolicy': 'cluster',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': 'cluster',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight': 'name',
};
const RDS = 'envoy.extensions.filters.network.http_connection_manager.v3.Rds';
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const SDS_SECRET_CONFIG = 'envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig';

export class NodeCollector<D> {
  private readonly resources: NamedResource<D>[] = [];
  private readonly references: Reference<D>[] = [];
  private readonly filterLists: FilterList<D>[] = [];
  /** Kinds for which this node's full set is known; references to other kinds are not checked. */
  readonly provided = new Set<ResourceKind>();

  /** `complete`: this kind's set is known in full once all documents are in (false for a bootstrap's static part). */
  addResource(kind: ResourceKind, value: JsonObject, path: JsonPath, doc: D, complete = true): void {
    this.resources.push({ kind, value, path, doc });
    if (complete) this.provided.add(kind);
  }

  /**
   * Whether visit() reads messages of this type (every other visit is a no-op):
   * a cached check keeps only these visits, to replay for each node holding the
   * resource (a route configuration's walk visits hundreds of messages, a few of them references).
   */
  static reads(typeName: string): boolean {
    return CLUSTER_REFS[typeName] !== undefined || typeName === RDS || typeName === SDS_SECRET_CONFIG || typeName === HCM;
  }

  /** The structural checker's onMessage hook for one document. */
  visitor(doc: D): (typeName: string, value: JsonObject, path: JsonPath) => void {
    return (typeName, value, path) => this.visit(typeName, value, path, doc);
  }

  private visit(typeName: string, value: JsonObject, path: JsonPath, doc: D): void {
    const clusterField = CLUSTER_REFS[typeName];
    if (clusterField !== undefined) this.reference('clusters', value, clusterField, path, doc, typeName);
    else if (typeName === RDS) this.reference('routes', value, 'route_config_name', path, doc, typeName);
    else if (typeName === SDS_SECRET_CONFIG && !isExternalSource(getField(value, 'sds_config')?.value)) {
      this.reference('secrets', value, 'name', path, doc, typeName);
    } else if (typeName === HCM) {
      const list = getPath(value, ['http_filters'], path);
      if (list !== undefined && Array.isArray(list.value)) this.filterLists.push({ filters: list.value, path: list.path, doc });
    }
  }

  private reference(kind: RefKind, value: JsonObject, field: string, path: JsonPath, doc: D, typeName: string): void {
    const f = getField(value, field);
    if (f === undefined || typeof f.value !== 'string' || f.value === '') return; // empty names are PGV's job
    this.references.push({ kind, name: f.value, path: [...path, f.key], doc, from: typeName.split('.').slice(-1)[0] ?? typeName });
  }

  /** Runs every cross-reference check over what was collected. */
  check(): LocatedFinding<D>[] {
    return [
      ...this.duplicateNames(),
      ...this.unresolvedReferences(),
      ...this.edsWithoutAssignment(),
      ...this.duplicateAddresses(),
      ...this.routerPlacement(),
    ];
  }

  private namesOf(kind: ResourceKind): Set<string> {
    const field = RESOURCE_TYPES[kind].nameField;
    return new Set(this.resources.filter((r) => r.kind === kind).map((r) => stringField(r.value, field) ?? ''));
  }

  private duplicateNames(): LocatedFinding<D>[] {
    const out: LocatedFinding<D>[] = [];
    const seen = new Map<string, NamedResource<D>>();
    for (const r of this.resources) {
      const f = getField(r.value, RESOURCE_TYPES[r.kind].nameField);
      if (f === undefined || typeof f.value !== 'string') continue;
      const key = `${r.kind}\0${f.value}`;
      if (seen.has(key)) {
        const msg = `duplicate ${singular(r.kind)} name "${f.value}" (each ${singular(r.kind)} name must be unique per node)`;
        out.push({ ...error(C.DUPLICATE_NAME, [...r.path, f.key], msg), doc: r.doc });
      } else seen.set(key, r);
    }
    return out;
  }

  private unresolvedReferences(): LocatedFinding<D>[] {
    const names: Record<RefKind, Set<string>> = {
      clusters: this.namesOf('clusters'),
      routes: this.namesOf('routes'),
      secrets: this.namesOf('secrets'),
    };
    const code: Record<RefKind, Finding['code']> = { clusters: C.UNKNOWN_CLUSTER, routes: C.UNKNOWN_ROUTE_CONFIG, secrets: C.UNKNOWN_SECRET };
    const what: Record<RefKind, string> = { clusters: 'cluster', routes: 'RouteConfiguration', secrets: 'secret' };
    return this.references
      .filter((ref) => this.provided.has(ref.kind) && !names[ref.kind].has(ref.name))
      .map((ref) => {
        const msg = `${ref.from} references ${what[ref.kind]} "${ref.name}", which this node does not have`;
        return { ...error(code[ref.kind], ref.path, msg, hintFor(ref.kind, names[ref.kind], ref.name)), doc: ref.doc };
      });
  }

  /** An EDS cluster needs a ClusterLoadAssignment named by eds_cluster_config.service_name, or else the cluster name. */
  private edsWithoutAssignment(): LocatedFinding<D>[] {
    if (!this.provided.has('endpoints')) return [];
    const assignments = this.namesOf('endpoints');
    const out: LocatedFinding<D>[] = [];
    for (const c of this.resources.filter((r) => r.kind === 'clusters')) {
      const type = getField(c.value, 'type')?.value;
      if (type !== 'EDS' && type !== 3) continue;
      if (isExternalSource(getPath(c.value, ['eds_cluster_config', 'eds_config'])?.value)) continue;
      const service = getPath(c.value, ['eds_cluster_config', 'service_name'], c.path);
      const nameRef = typeof service?.value === 'string' && service.value !== '' ? service : getPath(c.value, ['name'], c.path);
      const name = typeof nameRef?.value === 'string' ? nameRef.value : '';
      if (nameRef === undefined || assignments.has(name)) continue;
      const msg = `EDS cluster needs a ClusterLoadAssignment with cluster_name "${name}", which this node does not have`;
      out.push({ ...error(C.MISSING_ENDPOINTS, nameRef.path, msg), doc: c.doc });
    }
    return out;
  }

  /** Two listeners cannot bind the same protocol/ip/port (Envoy rejects the second one). Port 0 means "any". */
  private duplicateAddresses(): LocatedFinding<D>[] {
    const out: LocatedFinding<D>[] = [];
    const seen = new Map<string, string>();
    for (const l of this.resources.filter((r) => r.kind === 'listeners')) {
      const listenerName = stringField(l.value, 'name') ?? '';
      for (const addr of listenerAddresses(l.value, l.path)) {
        const owner = seen.get(addr.key);
        if (owner === undefined) {
          seen.set(addr.key, listenerName);
          continue;
        }
        const msg = `listener "${listenerName}" uses address ${addr.text}, already used by listener "${owner}"`;
        out.push({ ...error(C.DUPLICATE_ADDRESS, addr.path, msg), doc: l.doc });
      }
    }
    return out;
  }

  /** The router must be the last HTTP filter and appear once; Envoy rejects other orders (it is terminal). */
  private routerPlacement(): LocatedFinding<D>[] {
    const out: LocatedFinding<D>[] = [];
    for (const list of this.filterLists) {
      if (list.filters.length === 0) continue;
      const routers = list.filters.map((f, i) => (isRouter(f) ? i : -1)).filter((i) => i >= 0);
      const last = list.filters.length - 1;
      const add = (path: JsonPath, msg: string): void => void out.push({ ...error(C.ROUTER_NOT_LAST, path, msg), doc: list.doc });
      const first = routers[0];
      if (first === undefined && !isDiscovered(list.filters[last])) {
        add(list.path, 'HTTP connection manager has no router filter (envoy.filters.http.router must be the last HTTP filter)');
      }
      for (const i of routers.slice(1)) add([...list.path, i], `router filter appears more than once (first at http_filters[${first}])`);
      if (first !== undefined && first !== last) {
        add([...list.path, first], `router filter must be the last HTTP filter (it is at index ${first} of ${list.filters.length})`);
      }
    }
    return out;
  }
}

function singular(kind: ResourceKind): string {
  return { listeners: 'listener', routes: 'route configuration', clusters: 'cluster', endpoints: 'cluster load assignment', secrets: 'secret' }[kind];
}

function hintFor(kind: RefKind, names: ReadonlySet<string>, missing: string): string | undefined {
  const close = [...names].filter((n) => n.includes(missing) || missing.includes(n)).sort();
  if (close.length > 0) return `did you mean "${close[0]}"?`;
  return names.size === 0 ? `this node has no ${kind}` : undefined;
}

/** Config sources served by someone else (a file) are outside this node's snapshot. */
function isExternalSource(source: unknown): boolean {
  return getField(source, 'path') !== undefined || getField(source, 'path_config_source') !== undefined;
}

function isRouter(filter: unknown): boolean {
  const typed = getField(getField(filter, 'typed_config')?.value, '@type')?.value;
  if (typeof typed === 'string') return typeNameOfUrl(typed) === ROUTER_TYPE;
  return stringField(filter, 'name') === ROUTER_FILTER_NAME && getField(filter, 'config_discovery') === undefined;
}

/** A filter configured through ECDS: its type is not known here, so it may be the terminal one. */
function isDiscovered(filter: unknown): boolean {
  return getField(filter, 'config_discovery') !== undefined;
}

interface ListenerAddress {
  readonly key: string;
  readonly text: string;
  readonly path: JsonPath;
}

function listenerAddresses(listener: JsonObject, base: JsonPath): ListenerAddress[] {
  const out: ListenerAddress[] = [];
  const one = (addressPath: { value: unknown; path: JsonPath } | undefined): void => {
    const socket = getPath(addressPath?.value, ['socket_address'], addressPath?.path ?? []);
    const pipe = getPath(addressPath?.value, ['pipe', 'path'], addressPath?.path ?? []);
    if (socket !== undefined) {
      const ip = stringField(socket.value, 'address') ?? '';
      const port = getField(socket.value, 'port_value')?.value ?? 0;
      const protocol = stringField(socket.value, 'protocol') ?? 'TCP';
      const text = `${ip}:${port}${protocol === 'TCP' ? '' : `/${protocol}`}`;
      if (Number(port) !== 0) out.push({ key: `${protocol}/${ip}/${port}`, text, path: socket.path });
    } else if (pipe !== undefined && typeof pipe.value === 'string') {
      out.push({ key: `pipe/${pipe.value}`, text: `pipe ${pipe.value}`, path: pipe.path });
    }
  };
  one(getPath(listener, ['address'], base));
  const extra = getPath(listener, ['additional_addresses'], base);
  if (extra !== undefined && Array.isArray(extra.value)) {
    extra.value.forEach((a, i) => one(getPath(a, ['address'], [...extra.path, i])));
  }
  return out;
}
