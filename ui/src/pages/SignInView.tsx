// Sign in: this computer's embedded database, or a shared PostgreSQL with the user's own
// login. The password goes to the backend once; it is kept only in the OS keyring, and
// only when "Remember" is ticked.
import { useState, type FormEvent } from "react";
import { desktop, toApiError, type ApiError } from "../api/client";
import type { ConnectionMode, ConnectionState } from "../api/bindings.gen";

export function SignInView(props: { state: ConnectionState; onSignedIn: (s: ConnectionState) => void }) {
  const s = props.state.settings;
  const [mode, setMode] = useState<ConnectionMode>(s.mode);
  const [host, setHost] = useState(s.host);
  const [port, setPort] = useState(String(s.port || 5432));
  const [database, setDatabase] = useState(s.database || "eio");
  const [username, setUsername] = useState(s.username);
  const [password, setPassword] = useState("");
  const [remember, setRemember] = useState(props.state.password_remembered);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(props.state.error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const portNumber = Number(port);
      if (mode === "shared" && (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535)) {
        throw { code: "invalid_input", message: "The port is a number from 1 to 65535." };
      }
      const next = await desktop!.sign_in({
        settings: { mode, host, port: portNumber || 5432, database, username },
        password: mode === "shared" && password ? password : null,
        remember: mode === "shared" && remember,
      });
      setPassword("");
      props.onSignedIn(next);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card signin" onSubmit={submit} data-testid="sign-in">
      <h1>Sign in</h1>
      {error && (
        <p className="error-text" role="alert" data-testid="sign-in-error">
          {error.message}
        </p>
      )}
      <fieldset className="choices">
        <label>
          <input type="radio" name="mode" checked={mode === "embedded"} onChange={() => setMode("embedded")} />
          This computer <span className="muted">— a private database, for trying EIO out or working alone</span>
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === "shared"} onChange={() => setMode("shared")} />
          Shared database <span className="muted">— your team's PostgreSQL, with your own login</span>
        </label>
      </fieldset>
      {mode === "shared" && (
        <div className="fields">
          <label>
            Host
            <input value={host} onChange={(e) => setHost(e.target.value)} placeholder="db.example.com" required autoFocus />
          </label>
          <label>
            Port
            <input value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" required />
          </label>
          <label>
            Database
            <input value={database} onChange={(e) => setDatabase(e.target.value)} required />
          </label>
          <label>
            Login
            <input value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" required />
          </label>
          <label>
            Password
            <input
              type="password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              autoComplete="current-password"
              placeholder={props.state.password_remembered ? "(remembered)" : "leave empty for LDAP/Kerberos set up by your DBA"}
            />
          </label>
          <label className="inline">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
            Remember the password in this computer's keyring
          </label>
        </div>
      )}
      <div className="row-between">
        <span />
        <button type="submit" disabled={busy} className="primary">
          {busy ? "Connecting…" : "Connect"}
        </button>
      </div>
    </form>
  );
}
