// The desktop's sign-in: this computer's embedded database, or a shared PostgreSQL with
// the user's own login. The password goes to the backend once; it is kept only in the OS
// keyring, and only when "Remember" is ticked.
import {
  Alert,
  Button,
  Center,
  Checkbox,
  Group,
  Paper,
  PasswordInput,
  Radio,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useState, type FormEvent } from "react";
import type { ApiError, ConnectionMode, ConnectionState } from "../api/bindings.gen";
import { desktop, toApiError } from "../api/client";

export function SignInView(props: { state: ConnectionState; onSignedIn: (s: ConnectionState) => void }) {
  const s = props.state.settings;
  const [mode, setMode] = useState<ConnectionMode>(s.mode);
  const [host, setHost] = useState(s.host);
  const [port, setPort] = useState(String(s.port || 5432));
  const [database, setDatabase] = useState(s.database || "eio");
  const [username, setUsername] = useState(s.username);
  const [sslmode, setSslmode] = useState<string>(s.sslmode ?? "");
  const [sslrootcert, setSslrootcert] = useState<string>(s.sslrootcert ?? "");
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
        settings: {
          mode,
          host,
          port: portNumber || 5432,
          database,
          username,
          sslmode: sslmode || null,
          sslrootcert: sslrootcert.trim() || null,
          tls: "",
        },
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
    <Center mih="100vh" p="md">
      <Paper component="form" onSubmit={submit} withBorder shadow="sm" p="xl" w={520} data-testid="sign-in">
        <Stack>
          <div>
            <Title order={2}>Sign in to EIO</Title>
            <Text size="sm" c="dimmed">
              Choose the database EIO works on.
            </Text>
          </div>
          {error && (
            <Alert color="red" role="alert" data-testid="sign-in-error">
              {error.message}
            </Alert>
          )}
          <Radio.Group value={mode} onChange={(v) => setMode(v as ConnectionMode)}>
            <Stack gap="xs">
              <Radio value="embedded" label="This computer" description="A private database, for trying EIO out or working alone" />
              <Radio value="shared" label="Shared database" description="Your team's PostgreSQL, with your own login" />
            </Stack>
          </Radio.Group>
          {mode === "shared" && (
            <Stack gap="xs">
              <SimpleGrid cols={2}>
                <TextInput label="Host" value={host} onChange={(e) => setHost(e.currentTarget.value)} placeholder="db.example.com" required autoFocus data-testid="desktop-host" />
                <TextInput label="Port" value={port} onChange={(e) => setPort(e.currentTarget.value)} inputMode="numeric" required />
              </SimpleGrid>
              <TextInput label="Database" value={database} onChange={(e) => setDatabase(e.currentTarget.value)} required />
              <TextInput label="Login" value={username} onChange={(e) => setUsername(e.currentTarget.value)} autoComplete="username" required data-testid="desktop-login" />
              <PasswordInput
                label="Password"
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
                autoComplete="current-password"
                data-testid="desktop-password"
                placeholder={props.state.password_remembered ? "(remembered)" : "empty for LDAP/Kerberos set up by your DBA"}
              />
              <Checkbox label="Remember the password in this computer's keyring" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} />
              <SimpleGrid cols={2}>
                <Select
                  label="Encryption (sslmode)"
                  value={sslmode}
                  onChange={(v) => setSslmode(v ?? "")}
                  allowDeselect={false}
                  data={[
                    { value: "", label: "Automatic: verified TLS for a remote host" },
                    { value: "verify-full", label: "verify-full: TLS, certificate and name checked" },
                    { value: "verify-ca", label: "verify-ca: TLS, certificate checked" },
                    { value: "require", label: "require: TLS, certificate not checked" },
                    { value: "prefer", label: "prefer: TLS if offered (may be unencrypted)" },
                    { value: "disable", label: "disable: never TLS (unencrypted)" },
                  ]}
                  data-testid="desktop-sslmode"
                />
                <TextInput label="CA file (optional)" value={sslrootcert} onChange={(e) => setSslrootcert(e.currentTarget.value)} placeholder="the system's roots" />
              </SimpleGrid>
              {s.mode === "shared" && s.tls && (
                <Text size="xs" c="dimmed" data-testid="desktop-tls">
                  Now: {s.tls}
                </Text>
              )}
            </Stack>
          )}
          <Group justify="flex-end">
            <Button type="submit" loading={busy} data-testid="connect">
              Connect
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Center>
  );
}
