// The app: first where the backend stands (desktop: which database; browser: the session
// with `eio serve`), then the shell with its pages.
import { Center, Loader, Stack, Text } from "@mantine/core";
import { useCallback, useEffect, useState } from "react";
import type { ConnectionState, WebSession } from "./api/bindings.gen";
import { desktop, toApiError, webSession } from "./api/client";
import { setUnauthorizedHandler } from "./api/transport";
import { Shell } from "./Shell";
import { SignInView } from "./pages/SignInView";
import { WebSignInView } from "./pages/WebSignInView";

type Where =
  | { kind: "loading" }
  | { kind: "desktop"; state: ConnectionState }
  | { kind: "browser"; session: WebSession | null; error?: string };

export function App() {
  const [where, setWhere] = useState<Where>({ kind: "loading" });

  const refresh = useCallback(() => {
    if (desktop) {
      desktop
        .connection_state()
        .then((state) => setWhere({ kind: "desktop", state }))
        .catch((e: unknown) => setWhere({ kind: "desktop", state: { ...blankState(), error: toApiError(e) } }));
    } else {
      webSession
        .get()
        .then((session) => setWhere({ kind: "browser", session }))
        .catch((e: unknown) => setWhere({ kind: "browser", session: null, error: toApiError(e).message }));
    }
  }, []);
  useEffect(refresh, [refresh]);
  useEffect(() => {
    if (desktop) return;
    setUnauthorizedHandler(refresh);
    return () => setUnauthorizedHandler(null);
  }, [refresh]);

  if (where.kind === "loading") {
    return (
      <Center h="100vh" data-testid="app-loading">
        <Stack align="center" gap="xs">
          <Loader />
          <Text c="dimmed">Connecting…</Text>
        </Stack>
      </Center>
    );
  }
  if (where.kind === "desktop") {
    if (!where.state.connected) {
      return <SignInView state={where.state} onSignedIn={(state) => setWhere({ kind: "desktop", state })} />;
    }
    return (
      <Shell
        account={where.state.settings.mode === "embedded" ? "This computer" : `${where.state.settings.username}@${where.state.settings.host}`}
        signOutLabel="Switch database"
        onSignOut={() => desktop!.sign_out().then((state) => setWhere({ kind: "desktop", state }))}
      />
    );
  }
  const s = where.session;
  if (!s || s.mode === "none") {
    return <WebSignInView session={s} unreachable={where.error} onSignedIn={(session) => setWhere({ kind: "browser", session })} />;
  }
  return (
    <Shell
      account={s.mode === "local" ? "Local login (this machine)" : `${s.login ?? ""} · ${s.database}`}
      signOutLabel={s.sign_in_available ? "Sign out" : undefined}
      onSignOut={() => webSession.signOut().then((session) => setWhere({ kind: "browser", session }))}
    />
  );
}

function blankState(): ConnectionState {
  return {
    connected: false,
    settings: { mode: "embedded", host: "", port: 5432, database: "eio", username: "", sslmode: null, sslrootcert: null, tls: "" },
    password_remembered: false,
    error: null,
    warnings: [],
  };
}
