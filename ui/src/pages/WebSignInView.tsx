// Signing in to `eio serve` from a browser: the user's own PostgreSQL login. The
// password is sent once over this connection; the server connects with it and forgets it.
import { Alert, Button, Center, Group, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import type { ApiError, WebSession } from "../api/bindings.gen";
import { toApiError, webSession } from "../api/client";

export function WebSignInView(props: { session: WebSession | null; unreachable?: string; onSignedIn: (s: WebSession) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await webSession.signIn({ username, password });
      setPassword("");
      props.onSignedIn(s);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (props.session && !props.session.sign_in_available) {
    // The embedded default: no passwords to check, so no sign-in form; `eio serve` printed a
    // link with this start's token, which opens a session as the local login.
    return (
      <Center mih="100vh" p="md">
        <Paper withBorder shadow="sm" p="xl" w={480} data-testid="web-token-needed">
          <Stack>
            <Title order={2}>Open the link eio serve printed</Title>
            <Text size="sm">
              This server runs on the embedded database of its machine, which has no passwords to check. When it started,
              it printed a link with a token (it changes at every start): open that link to use EIO as the local login.
            </Text>
            {props.unreachable && (
              <Alert color="red" role="alert">
                {props.unreachable}
              </Alert>
            )}
          </Stack>
        </Paper>
      </Center>
    );
  }
  return (
    <Center mih="100vh" p="md">
      <Paper component="form" onSubmit={submit} withBorder shadow="sm" p="xl" w={420} data-testid="web-sign-in">
        <Stack>
          <div>
            <Title order={2}>Sign in to EIO</Title>
            <Text size="sm" c="dimmed">
              {props.session ? `With your database login for ${props.session.database}.` : "With your database login."}
            </Text>
          </div>
          {props.unreachable && (
            <Alert color="red" role="alert">
              {props.unreachable}
            </Alert>
          )}
          {error && (
            <Alert color="red" role="alert" data-testid="sign-in-error">
              {error.message}
            </Alert>
          )}
          <TextInput label="Login" value={username} onChange={(e) => setUsername(e.currentTarget.value)} autoComplete="username" required autoFocus data-testid="login" />
          <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="current-password" data-testid="password" />
          <Group justify="flex-end">
            <Button type="submit" loading={busy} data-testid="sign-in-submit">
              Sign in
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Center>
  );
}
