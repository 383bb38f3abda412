/**
 * The part of node-postgres (`pg`, an allowed dependency) the PostgreSQL store
 * uses. Declared here rather than adding @types/pg, which is not on the list
 * of allowed dependencies.
 */
declare module 'pg' {
  import { EventEmitter } from 'node:events';

  export interface QueryResult<R> {
    readonly rows: R[];
    readonly rowCount: number | null;
  }

  export interface ClientConfig {
    readonly connectionString?: string;
    readonly connectionTimeoutMillis?: number;
    readonly query_timeout?: number;
    readonly statement_timeout?: number;
    readonly application_name?: string;
    readonly keepAlive?: boolean;
  }

  export interface PoolConfig extends ClientConfig {
    readonly max?: number;
    readonly idleTimeoutMillis?: number;
  }

  export interface Notification {
    readonly channel: string;
    readonly payload?: string;
  }

  export interface Queryable {
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
  }

  export class Client extends EventEmitter implements Queryable {
    constructor(config?: ClientConfig);
    connect(): Promise<void>;
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    end(): Promise<void>;
  }

  export interface PoolClient extends Queryable {
    release(err?: Error | boolean): void;
  }

  export class Pool extends EventEmitter implements Queryable {
    constructor(config?: PoolConfig);
    connect(): Promise<PoolClient>;
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    end(): Promise<void>;
  }
}
