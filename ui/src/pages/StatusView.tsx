// The status page: the `status` page model, from one backend call.
import { useCallback, useEffect, useState } from "react";
import { api, toApiError, type ApiError } from "../api/client";
import type { StatusPage } from "../api/bindings.gen";

type State = { kind: "loading" } | { kind: "ready"; page: StatusPage } | { kind: "failed"; error: ApiError };

export function StatusView() {
  const [state, setState] = useState<State>({ kind: "loading" });
  const load = useCallback(() => {
    setState({ kind: "loading" });
    api
      .status()
      .then((page) => setState({ kind: "ready", page }))
      .catch((e: unknown) => setState({ kind: "failed", error: toApiError(e) }));
  }, []);
  useEffect(load, [load]);

  if (state.kind === "loading") {
    return <p className="muted" data-testid="status-loading">Connecting to the database…</p>;
  }
  if (state.kind === "failed") {
    return (
      <section className="card error" role="alert" data-testid="status-error">
        <h2>Can't show the status</h2>
        <p>{state.error.message}</p>
        <button onClick={load}>Try again</button>
      </section>
    );
  }
  const { page } = state;
  const c = page.connection;
  const rows = Object.entries(page.tables);
  const total = rows.reduce((n, [, v]) => n + v, 0);
  return (
    <div className="stack" data-testid="status-page">
      <div className="row-between">
        <h1>Status</h1>
        <button onClick={load}>Refresh</button>
      </div>
      {page.warnings.length > 0 && (
        <section className="card warning" aria-label="Warnings">
          <ul>
            {page.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </section>
      )}
      <div className="tiles">
        <Tile label="Database" value={c.mode === "embedded" ? "Embedded" : "Shared"} detail={c.target} />
        <Tile
          label="Signed in as"
          value={c.user?.email ?? c.login}
          detail={c.user ? `${c.user.role} · login ${c.login}` : c.roles.join(", ") || "no EIO role"}
        />
        <Tile
          label="Schema"
          value={page.schema.applied_version === null ? "none" : `v${page.schema.applied_version}`}
          detail={page.schema.up_to_date ? "up to date" : `${page.schema.pending.length} migration(s) pending`}
          testId="schema-version"
        />
        <Tile
          label="Pending approvals"
          value={page.pending_approvals === null ? "–" : String(page.pending_approvals)}
          testId="pending-approvals"
        />
        <Tile
          label="Kill switch"
          value={page.kill_switch?.engaged ? "ENGAGED" : "off"}
          detail={page.kill_switch?.reason ?? undefined}
          tone={page.kill_switch?.engaged ? "danger" : undefined}
        />
      </div>
      <section className="card">
        <h2>
          Rows per table <span className="muted">({total.toLocaleString()} in all)</span>
        </h2>
        <table className="counts" data-testid="table-counts">
          <thead>
            <tr>
              <th>Table</th>
              <th className="num">Rows</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([name, n]) => (
              <tr key={name}>
                <td>{name}</td>
                <td className="num">{n.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted small">
          PostgreSQL {c.server_version} · database {c.database}
        </p>
      </section>
    </div>
  );
}

function Tile(props: { label: string; value: string; detail?: string; tone?: "danger"; testId?: string }) {
  return (
    <div className={`tile ${props.tone ?? ""}`} data-testid={props.testId}>
      <div className="tile-label">{props.label}</div>
      <div className="tile-value">{props.value}</div>
      {props.detail && <div className="tile-detail">{props.detail}</div>}
    </div>
  );
}
