// Settings → identity pieces beyond the lists: worker keys (trust, revoke), a user's
// capabilities and password. Each action is one registry operation (worker_key_trust,
// worker_key_revoke, user_set_capabilities, user_set_password); the database decides.
import { Alert, Badge, Button, Group, Modal, PasswordInput, Stack, Table, TagsInput, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState, type FormEvent } from "react";
import type { User, WorkerKeyRow } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { useMay } from "../lib/me";

const CAPABILITIES = ["maintenance_mode", "firmware_update", "power", "relaxed_policy"];

function failed(title: string, e: unknown) {
  notifications.show({ color: "red", title, message: toApiError(e).message });
}

export function WorkerKeys(props: { keys: WorkerKeyRow[]; reload: () => void }) {
  const may = useMay();
  const [adding, setAdding] = useState(false);
  const [publicKey, setPublicKey] = useState("");
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const trust = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const done = await api.worker_key_trust({ public_key: publicKey, label });
      notifications.show({ color: "green", message: done.message });
      setAdding(false);
      setPublicKey("");
      setLabel("");
      props.reload();
    } catch (err) {
      failed("Key not trusted", err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: WorkerKeyRow) => {
    try {
      const done = await api.worker_key_revoke({ public_key: k.public_key, label: null });
      notifications.show({ color: "green", message: done.message });
      props.reload();
    } catch (err) {
      failed("Key not revoked", err);
    }
  };
  return (
    <Stack gap="xs" data-testid="worker-keys">
      <Group justify="space-between">
        <Text fw={600}>Worker keys credentials are sealed for</Text>
        {may.manage_service_identities && (
          <Button size="xs" variant="light" onClick={() => setAdding(true)} data-testid="worker-key-trust">
            Trust a worker key
          </Button>
        )}
      </Group>
      {props.keys.length === 0 ? (
        <Text size="sm" c="dimmed">
          None yet: run `eio identity init-worker-key` on the worker's machine, then trust the public key it prints.
        </Text>
      ) : (
        <Table>
          <Table.Tbody>
            {props.keys.map((k) => (
              <Table.Tr key={k.public_key} data-testid="worker-key-row">
                <Table.Td className="mono" title={k.public_key}>
                  {k.public_key.slice(0, 24)}…
                </Table.Td>
                <Table.Td>{k.label}</Table.Td>
                <Table.Td>{k.revoked ? <Badge color="red">revoked</Badge> : <Badge variant="outline">trusted</Badge>}</Table.Td>
                <Table.Td>
                  {may.manage_service_identities && !k.revoked && (
                    <Button size="xs" variant="subtle" color="red" onClick={() => revoke(k)}>
                      Revoke
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Modal opened={adding} onClose={() => setAdding(false)} title="Trust a worker key">
        <form onSubmit={trust}>
          <Stack>
            <TextInput
              label="Public key"
              description="The age1… key `eio identity init-worker-key` printed on the worker's machine"
              value={publicKey}
              onChange={(e) => setPublicKey(e.currentTarget.value)}
              required
              className="mono"
            />
            <TextInput label="Label" description="Which machine it is" value={label} onChange={(e) => setLabel(e.currentTarget.value)} required />
            <Alert color="blue">Credentials sealed from now on include this key. Reseal on a worker so existing ones include it too.</Alert>
            <Group justify="flex-end">
              <Button type="submit" loading={busy}>
                Trust
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Stack>
  );
}

/** A user's capabilities, replaced as a whole. */
export function CapabilitiesForm(props: { user: User; onDone: () => void }) {
  const [capabilities, setCapabilities] = useState<string[]>(props.user.capabilities);
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const u = await api.user_set_capabilities({ email: props.user.email, capabilities });
      notifications.show({ color: "green", message: `${u.email}: ${u.capabilities.join(", ") || "no capabilities"}.` });
      props.onDone();
    } catch (err) {
      failed("Not changed", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save}>
      <Stack>
        <TagsInput
          label="Capabilities"
          data={CAPABILITIES}
          value={capabilities}
          onChange={setCapabilities}
          description="Job types they may submit or approve; relaxed_policy lets them use named relaxed policies; site:<CODE> limits them to a site"
          data-testid="capabilities-input"
        />
        <Group justify="flex-end">
          <Button type="submit" loading={busy} data-testid="capabilities-save">
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** Set a user's password (admins: anyone's). Only its SCRAM verifier is stored. */
export function PasswordForm(props: { user: User; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const done = await api.user_set_password({ email: props.user.email, password });
      setPassword("");
      setAgain("");
      notifications.show({ color: "green", message: done.message });
      props.onDone();
    } catch (err) {
      failed("Password not changed", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save}>
      <Stack>
        <PasswordInput label="New password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} required autoComplete="new-password" />
        <PasswordInput
          label="Again"
          value={again}
          onChange={(e) => setAgain(e.currentTarget.value)}
          required
          autoComplete="new-password"
          error={again && again !== password ? "The two don't match" : undefined}
        />
        <Text size="xs" c="dimmed">
          Only its SCRAM verifier reaches the database. Logins authenticated by LDAP or Kerberos don't use it.
        </Text>
        <Group justify="flex-end">
          <Button type="submit" loading={busy} disabled={!password || password !== again}>
            Set password
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
