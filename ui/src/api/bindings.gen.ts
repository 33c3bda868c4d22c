// Generated from the Rust operation registry (src-tauri/core/src/api.rs) by
// `cargo test -p eio-core api::`. Do not edit: change the Rust types and rerun.

/**
 * What crosses a process boundary (Tauri IPC, HTTP, `--json`): a code and a sentence.
 * Internal details never do; they are logged where the error is turned into this.
 */
export type ApiError = { code: ErrorCode, message: string, };

export type ConnectionStatus = { mode: DatabaseMode, 
/**
 * The redacted URL, or the embedded cluster's folder.
 */
target: string, database: string, server_version: string, 
/**
 * The PostgreSQL login this session runs as.
 */
login: string, superuser: boolean, 
/**
 * EIO group roles the login belongs to (eio_viewer, eio_operator, ...).
 */
roles: Array<string>, 
/**
 * The EIO user the login is mapped to, if any.
 */
user: UserSummary | null, };

export type DatabaseMode = "embedded" | "external";

/**
 * What kind of failure this is, for a UI or script to act on.
 */
export type ErrorCode = "forbidden" | "not_found" | "conflict" | "invalid_input" | "unavailable" | "schema_outdated" | "embedded_postgres" | "config" | "internal";

export type KillSwitchStatus = { engaged: boolean, reason: string | null, changed_by: string | null, changed_at: string | null, };

/**
 * Input of operations that take none.
 */
export type NoInput = Record<symbol, never>;

export type SchemaStatus = { applied_version: number | null, latest_version: number, pending: Array<number>, up_to_date: boolean, };

export type StatusPage = { connection: ConnectionStatus, schema: SchemaStatus, 
/**
 * Rows per table, keyed by table name, as far as this login may see them.
 */
tables: { [key in string]: number }, 
/**
 * Jobs awaiting approval (None before the schema exists).
 */
pending_approvals: number | null, kill_switch: KillSwitchStatus | null, 
/**
 * Things an operator should act on, in plain words.
 */
warnings: Array<string>, };

export type UserSummary = { email: string, role: string, capabilities: Array<string>, };

export type HttpMethod = "GET" | "POST";

/** Every operation: name → HTTP method and path. */
export const operations = {
  status: { method: "GET", path: "/api/status" },
} as const;

export type OperationName = keyof typeof operations;

/** How a call reaches the backend: Tauri IPC in the desktop, HTTP in a browser. */
export interface Transport {
  call<T>(op: OperationName, method: HttpMethod, path: string, input: unknown): Promise<T>;
}

/** A typed client: one method per operation. */
export function makeApi(transport: Transport) {
  return {
    /** The status page: connection, schema version, row counts, pending approvals, kill switch. */
    status: (input: NoInput = {}): Promise<StatusPage> =>
      transport.call<StatusPage>("status", operations.status.method, operations.status.path, input),
  };
}

export type Api = ReturnType<typeof makeApi>;
