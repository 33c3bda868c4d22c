// Generated from the Rust operation registry (src-tauri/core/src/api.rs) by
// `cargo test -p eio-core api::`. Do not edit: change the Rust types and rerun.

/**
 * What crosses a process boundary (Tauri IPC, HTTP, `--json`): a code and a sentence.
 * Internal details never do; they are logged where the error is turned into this.
 */
export type ApiError = { code: ErrorCode, message: string, };

export type ConnectionMode = "embedded" | "shared";

export type ConnectionSettings = { mode: ConnectionMode, host: string, port: number, database: string, username: string, };

/**
 * Where the desktop stands: connected or not, to what, and why not.
 */
export type ConnectionState = { connected: boolean, settings: ConnectionSettings, password_remembered: boolean, error: ApiError | null, warnings: Array<string>, };

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

export type EmailInput = { email: string, };

/**
 * What kind of failure this is, for a UI or script to act on.
 */
export type ErrorCode = "forbidden" | "not_found" | "conflict" | "invalid_input" | "unavailable" | "schema_outdated" | "embedded_postgres" | "config" | "internal";

export type ExternalSystem = "vcenter" | "idrac" | "ome" | "other";

export type KillSwitchStatus = { engaged: boolean, reason: string | null, changed_by: string | null, changed_at: string | null, };

/**
 * The session's identity and what it may do, as the database will judge it.
 */
export type Me = { login: string, email: string | null, role: string | null, capabilities: Array<string>, disabled: boolean, may: Permissions, };

/**
 * Input of operations that take none.
 */
export type NoInput = Record<symbol, never>;

/**
 * One flag per action the UI offers. A hint only: the database decides.
 */
export type Permissions = { read: boolean, submit_jobs: boolean, approve_jobs: boolean, engage_kill_switch: boolean, release_kill_switch: boolean, plan_ipam: boolean, manage_users: boolean, manage_sources: boolean, manage_service_identities: boolean, run_workers: boolean, 
/**
 * Job types this user may submit or approve, after capabilities.
 */
job_types: Array<string>, };

export type SchemaStatus = { applied_version: number | null, latest_version: number, pending: Array<number>, up_to_date: boolean, };

/**
 * A service identity as listings show it: never the ciphertext, never a password.
 */
export type ServiceIdentity = { id: string, name: string, system: ExternalSystem, username: string, 
/**
 * The worker public keys the credentials are sealed for.
 */
sealed_for: Array<string>, rotation_due: string | null, rotation_overdue: boolean, rotation_period_days: number, rotated_at: string, last_success: string | null, last_failure: string | null, last_error: string | null, 
/**
 * Sources that authenticate with it ("vcenter vc-prod", "idrac r740-01", …).
 */
used_by: Array<string>, };

/**
 * Credentials for a service identity: sealed for the workers as soon as they arrive.
 */
export type ServiceIdentityInput = { name: string, system: ExternalSystem, username: string, password: string, rotation_period_days: number | null, };

/**
 * What a sign-in form sends.
 */
export type SignInInput = { settings: ConnectionSettings, password: string | null, 
/**
 * Keep the password in the OS keyring for next time.
 */
remember: boolean, };

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

/**
 * A user as listings show it.
 */
export type User = { id: string, email: string, display_name: string | null, role: UserRole, capabilities: Array<string>, login: string, disabled: boolean, created_at: string, };

/**
 * A new user. The password, if any, is turned into a SCRAM verifier before it leaves.
 */
export type UserAddInput = { email: string, role: UserRole, login: string, capabilities: Array<string>, display_name: string | null, password: string | null, };

export type UserRole = "viewer" | "operator" | "approver" | "admin";

export type UserSummary = { email: string, role: string, capabilities: Array<string>, };

export type HttpMethod = "GET" | "POST";

/** Every operation: name → HTTP method and path. */
export const operations = {
  status: { method: "GET", path: "/api/status" },
  me: { method: "GET", path: "/api/me" },
  users: { method: "GET", path: "/api/users" },
  user_add: { method: "POST", path: "/api/users" },
  user_disable: { method: "POST", path: "/api/users/disable" },
  service_identities: { method: "GET", path: "/api/service-identities" },
  service_identity_add: { method: "POST", path: "/api/service-identities" },
  service_identity_rotate: { method: "POST", path: "/api/service-identities/rotate" },
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
    /** Who this session is and what it may do (a hint for hiding actions; the database decides). */
    me: (input: NoInput = {}): Promise<Me> =>
      transport.call<Me>("me", operations.me.method, operations.me.path, input),
    /** Every user (admins manage them). */
    users: (input: NoInput = {}): Promise<Array<User>> =>
      transport.call<Array<User>>("users", operations.users.method, operations.users.path, input),
    /** Create a login and its user, or map an existing login (admins). */
    user_add: (input: UserAddInput): Promise<User> =>
      transport.call<User>("user_add", operations.user_add.method, operations.user_add.path, input),
    /** Refuse a user's logins and end their sessions (admins). */
    user_disable: (input: EmailInput): Promise<User> =>
      transport.call<User>("user_disable", operations.user_disable.method, operations.user_disable.path, input),
    /** Every service identity, without its credentials. */
    service_identities: (input: NoInput = {}): Promise<Array<ServiceIdentity>> =>
      transport.call<Array<ServiceIdentity>>("service_identities", operations.service_identities.method, operations.service_identities.path, input),
    /** Seal and store credentials for a new service identity (admins). */
    service_identity_add: (input: ServiceIdentityInput): Promise<ServiceIdentity> =>
      transport.call<ServiceIdentity>("service_identity_add", operations.service_identity_add.method, operations.service_identity_add.path, input),
    /** Replace a service identity's credentials (admins). */
    service_identity_rotate: (input: ServiceIdentityInput): Promise<ServiceIdentity> =>
      transport.call<ServiceIdentity>("service_identity_rotate", operations.service_identity_rotate.method, operations.service_identity_rotate.path, input),
  };
}

export type Api = ReturnType<typeof makeApi>;

/** Invokes a desktop shell command (Tauri `invoke`). */
export type DesktopInvoke = <T>(command: string, args: Record<string, unknown>) => Promise<T>;

/** Commands only the desktop shell answers (signing in happens before any session exists). */
export function makeDesktop(invoke: DesktopInvoke) {
  return {
    /** Where the desktop stands: connected, to what, and why not. */
    connection_state: (): Promise<ConnectionState> => invoke<ConnectionState>("connection_state", {}),
    /** Connect with these settings; save the address (and the password in the keyring, if asked). */
    sign_in: (input: SignInInput): Promise<ConnectionState> => invoke<ConnectionState>("sign_in", { input }),
    /** Close the session; the sign-in page shows next. */
    sign_out: (): Promise<ConnectionState> => invoke<ConnectionState>("sign_out", {}),
  };
}

export type Desktop = ReturnType<typeof makeDesktop>;
