import { useEffect, useState } from "react";
import { desktop, toApiError } from "./api/client";
import type { ConnectionState } from "./api/bindings.gen";
import { SignInView } from "./pages/SignInView";
import { StatusView } from "./pages/StatusView";

export function App() {
  // In a browser, `eio serve` owns the connection; only the desktop signs in.
  const [connection, setConnection] = useState<ConnectionState | null | "loading">(desktop ? "loading" : null);
  useEffect(() => {
    if (!desktop) return;
    desktop
      .connection_state()
      .then(setConnection)
      .catch((e: unknown) => setConnection({ ...blankState(), error: toApiError(e) }));
  }, []);

  const signedIn = connection === null || (connection !== "loading" && connection.connected);
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">EIO</span>
        <span className="subtitle">Enterprise Infrastructure Orchestrator</span>
        <span className="spacer" />
        {desktop && connection !== "loading" && connection?.connected && (
          <button onClick={() => desktop!.sign_out().then(setConnection)} data-testid="sign-out">
            Switch database
          </button>
        )}
      </header>
      <main className="content">
        {connection === "loading" ? (
          <p className="muted">Connecting…</p>
        ) : signedIn ? (
          <StatusView />
        ) : (
          <SignInView state={connection!} onSignedIn={setConnection} />
        )}
      </main>
    </div>
  );
}

function blankState(): ConnectionState {
  return {
    connected: false,
    settings: { mode: "embedded", host: "", port: 5432, database: "eio", username: "" },
    password_remembered: false,
    error: null,
    warnings: [],
  };
}
