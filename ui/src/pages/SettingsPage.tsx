// Settings (`settings_page`): the database connection, sources (sync now), service
// identities (admins add and rotate; nobody reads them back), users and roles (admins),
// sites, workers, and the theme.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Select,
  Skeleton,
  Stack,
  Table,
  TagsInput,
  Tabs,
  Text,
  TextInput,
  useMantineColorScheme,
  type MantineColorScheme,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import type { ExternalSystem, ServiceIdentity, SettingsPage as Model, User, UserRole } from "../api/bindings.gen";
import { api, desktop, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, Facts, PageHeader, StatusBadge } from "../components/common";
import { ago } from "../lib/format";
import { useMay } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";
import { CapabilitiesForm, PasswordForm, WorkerKeys } from "./IdentitySettings";
import { JobPoliciesSettings } from "./JobPoliciesSettings";
import { SitesSettings } from "./SitesSettings";
import { Sources } from "./SourcesSettings";

export function SettingsPage() {
  const page = usePageModel(() => api.settings_page(), [], ["inventory", "job"]);
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  if (!page.data) return <Skeleton height={400} />;
  return <Settings m={page.data} reload={page.reload} />;
}

function Settings(props: { m: Model; reload: () => void }) {
  const { m } = props;
  return (
    <Stack data-testid="settings">
      <PageHeader title="Settings" description="Where EIO connects, what it syncs from, who may do what." />
      <Tabs defaultValue="sources" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="sources" data-testid="tab-sources">Sources</Tabs.Tab>
          <Tabs.Tab value="identities" data-testid="tab-identities">Service identities</Tabs.Tab>
          <Tabs.Tab value="users" data-testid="tab-users">Users and roles</Tabs.Tab>
          <Tabs.Tab value="connection" data-testid="tab-connection">Database</Tabs.Tab>
          <Tabs.Tab value="sites" data-testid="tab-sites">Sites</Tabs.Tab>
          <Tabs.Tab value="job-policies" data-testid="tab-job-policies">Job policies</Tabs.Tab>
          <Tabs.Tab value="workers">Workers</Tabs.Tab>
          <Tabs.Tab value="appearance" data-testid="tab-appearance">Appearance</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="sources" pt="md">
          <Sources identities={m.service_identities} sites={m.sites} reload={props.reload} />
        </Tabs.Panel>
        <Tabs.Panel value="identities" pt="md">
          <Identities list={m.service_identities} reload={props.reload} />
        </Tabs.Panel>
        <Tabs.Panel value="users" pt="md">
          <Users list={m.users} reload={props.reload} />
        </Tabs.Panel>
        <Tabs.Panel value="connection" pt="md">
          <Stack>
            {m.warnings.map((w) => (
              <Alert key={w} color="yellow">
                {w}
              </Alert>
            ))}
            <Card withBorder data-testid="connection-card">
              <Facts
                rows={[
                  ["Database", m.connection.mode === "embedded" ? "Embedded (this computer)" : "Shared"],
                  ["Address", m.connection.target],
                  ["Database name", m.connection.database],
                  ["PostgreSQL", m.connection.server_version],
                  ["Encryption", m.connection.encryption],
                  ["Signed in as", m.connection.login],
                  ["EIO roles", m.connection.roles.join(", ") || "none"],
                  ["Schema", `v${m.schema.applied_version ?? "–"} of v${m.schema.latest_version}${m.schema.up_to_date ? " (up to date)" : ""}`],
                ]}
              />
            </Card>
            <Text size="sm">
              To connect somewhere else, use the account menu (top right). Row counts per table are on the{" "}
              <Anchor component={Link} to="/status">
                status page
              </Anchor>
              .
            </Text>
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="sites" pt="md">
          <SitesSettings />
        </Tabs.Panel>
        <Tabs.Panel value="job-policies" pt="md">
          <JobPoliciesSettings />
        </Tabs.Panel>
        <Tabs.Panel value="workers" pt="md">
          <Stack>
            {m.workers.length === 0 ? (
              <EmptyState title="No worker is running">
                Jobs wait until `eio serve` (the team-wide instance) or `eio worker` runs on a machine with a worker key.
              </EmptyState>
            ) : (
              <Table>
                <Table.Tbody>
                  {m.workers.map((w) => (
                    <Table.Tr key={w.id}>
                      <Table.Td>{w.id}</Table.Td>
                      <Table.Td>{w.mode}</Table.Td>
                      <Table.Td>
                        <StatusBadge value={w.alive ? "ok" : "warning"} label={w.alive ? "alive" : "silent"} />
                      </Table.Td>
                      <Table.Td>heartbeat {ago(w.heartbeat_at)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
            <WorkerKeys keys={m.worker_keys} reload={props.reload} />
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="appearance" pt="md">
          <Appearance />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function Appearance() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  return (
    <Stack gap="xs">
      <Text fw={600}>Theme</Text>
      <SegmentedControl
        value={colorScheme}
        onChange={(v) => setColorScheme(v as MantineColorScheme)}
        data={[
          { value: "light", label: "Light" },
          { value: "dark", label: "Dark" },
          { value: "auto", label: "Follow the system" },
        ]}
        w={360}
        data-testid="theme-choice"
      />
      <Text size="sm" c="dimmed">
        Keyboard: Alt+1…7 switch pages, / searches the inventory, ↑↓ and Enter move through tables.
      </Text>
    </Stack>
  );
}

function IdentityForm(props: { initial?: ServiceIdentity; onDone: () => void }) {
  const rotating = !!props.initial;
  const [name, setName] = useState(props.initial?.name ?? "");
  const [system, setSystem] = useState<ExternalSystem>(props.initial?.system ?? "vcenter");
  const [username, setUsername] = useState(props.initial?.username ?? "");
  const [password, setPassword] = useState("");
  const [days, setDays] = useState<number>(props.initial?.rotation_period_days ?? 90);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (rotating) {
        // The period changes only when it was changed here.
        const period = days === props.initial?.rotation_period_days ? null : days;
        await api.service_identity_rotate({ name, username, password, rotation_period_days: period });
      } else await api.service_identity_add({ name, system, username, password, rotation_period_days: days });
      setPassword("");
      notifications.show({ color: "green", message: rotating ? `New credentials sealed for ${name}.` : `Service identity ${name} added.` });
      props.onDone();
    } catch (err) {
      notifications.show({ color: "red", title: "Not saved", message: toApiError(err).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required disabled={rotating} data-testid="identity-name" />
        <Select
          label="System"
          data={["vcenter", "idrac", "ome", "other"]}
          value={system}
          onChange={(v) => setSystem((v ?? "other") as ExternalSystem)}
          disabled={rotating}
          allowDeselect={false}
          data-testid="identity-system"
        />
        <TextInput label="Username" value={username} onChange={(e) => setUsername(e.currentTarget.value)} required data-testid="identity-username" />
        <PasswordInput
          label="Password"
          description="Sealed for the workers' keys at once; nobody (admins included) can read it back."
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          required
          autoComplete="new-password"
          data-testid="identity-password"
        />
        <NumberInput
          label="Rotate every (days)"
          description={rotating ? "The next rotation is due this many days after this one." : undefined}
          value={days}
          min={1}
          max={3650}
          onChange={(v) => setDays(typeof v === "number" ? v : (props.initial?.rotation_period_days ?? 90))}
          data-testid="identity-rotation-days"
        />
        <Group justify="flex-end">
          <Button type="submit" loading={busy} data-testid="identity-save">
            {rotating ? "Rotate" : "Add"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function Identities(props: { list: ServiceIdentity[]; reload: () => void }) {
  const may = useMay();
  const [form, setForm] = useState<ServiceIdentity | "new" | null>(null);
  const test = async (name: string) => {
    try {
      notifications.show({ color: "green", message: (await api.service_identity_test({ name })).message });
      props.reload();
    } catch (e) {
      notifications.show({ color: "red", title: `${name} did not open`, message: toApiError(e).message });
    }
  };
  const reseal = async () => {
    try {
      const r = await api.service_identities_reseal();
      notifications.show({
        color: r.failed.length ? "orange" : "green",
        message: `Resealed ${r.resealed.length} identit${r.resealed.length === 1 ? "y" : "ies"} for the trusted worker keys${r.failed.length ? `; not: ${r.failed.map((f) => `${f.name} (${f.reason})`).join(", ")}` : ""}.`,
      });
      props.reload();
    } catch (e) {
      notifications.show({ color: "red", title: "Not resealed", message: toApiError(e).message });
    }
  };
  return (
    <Stack>
      <Group>
        {may.manage_service_identities && (
          <Button onClick={() => setForm("new")} data-testid="identity-add">
            Add a service identity
          </Button>
        )}
        {desktop && may.manage_service_identities && may.run_workers && (
          <Button variant="light" onClick={reseal} data-testid="identity-reseal">
            Reseal for the trusted keys
          </Button>
        )}
      </Group>
      {props.list.length === 0 ? (
        <EmptyState title="No service identities">Sources authenticate with a service identity; an admin adds one here or with `eio identity add`.</EmptyState>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>System</Table.Th>
              <Table.Th>Username</Table.Th>
              <Table.Th>Rotation</Table.Th>
              <Table.Th>Last use</Table.Th>
              <Table.Th>Used by</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {props.list.map((i) => (
              <Table.Tr key={i.id}>
                <Table.Td>{i.name}</Table.Td>
                <Table.Td>{i.system}</Table.Td>
                <Table.Td>{i.username}</Table.Td>
                <Table.Td>{i.rotation_overdue ? <StatusBadge value="failed" label="overdue" /> : `due ${ago(i.rotation_due)}`}</Table.Td>
                <Table.Td>
                  {i.last_failure && (!i.last_success || i.last_failure > i.last_success) ? (
                    <Text size="xs" c="red">
                      failed {ago(i.last_failure)}: {i.last_error}
                    </Text>
                  ) : (
                    <Text size="xs">{i.last_success ? `ok ${ago(i.last_success)}` : "never used"}</Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Text size="xs">{i.used_by.join(", ") || "–"}</Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {desktop && may.run_workers && (
                      <Button size="xs" variant="subtle" onClick={() => test(i.name)} data-testid="identity-test">
                        Test
                      </Button>
                    )}
                    {may.manage_service_identities && (
                      <Button size="xs" variant="light" onClick={() => setForm(i)}>
                        Rotate
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Modal opened={form !== null} onClose={() => setForm(null)} title={form === "new" ? "New service identity" : "Rotate credentials"}>
        {form !== null && (
          <IdentityForm
            initial={form === "new" ? undefined : form}
            onDone={() => {
              setForm(null);
              props.reload();
            }}
          />
        )}
      </Modal>
    </Stack>
  );
}

const ROLES: UserRole[] = ["viewer", "operator", "approver", "admin"];

function Users(props: { list: User[]; reload: () => void }) {
  const may = useMay();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<{ user: User; what: "capabilities" | "password" } | null>(null);
  const act = async (what: Promise<User>, done: string) => {
    try {
      await what;
      notifications.show({ color: "green", message: done });
      props.reload();
    } catch (e) {
      notifications.show({ color: "red", title: "Not changed", message: toApiError(e).message });
    }
  };
  return (
    <Stack>
      {may.manage_users && (
        <Group>
          <Button onClick={() => setAdding(true)} data-testid="user-add">
            Add a user
          </Button>
        </Group>
      )}
      <Table data-testid="users-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Email</Table.Th>
            <Table.Th>Login</Table.Th>
            <Table.Th>Role</Table.Th>
            <Table.Th>Capabilities</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {props.list.map((u) => (
            <Table.Tr key={u.id} data-testid="user-row">
              <Table.Td>
                {u.email} {u.disabled && <Badge color="gray">disabled</Badge>}
              </Table.Td>
              <Table.Td className="mono">{u.login}</Table.Td>
              <Table.Td>
                {may.manage_users ? (
                  <Select
                    size="xs"
                    w={130}
                    data={ROLES}
                    value={u.role}
                    allowDeselect={false}
                    aria-label={`Role of ${u.email}`}
                    onChange={(v) => v && v !== u.role && act(api.user_set_role({ email: u.email, role: v as UserRole }), `${u.email} is now ${v}.`)}
                  />
                ) : (
                  u.role
                )}
              </Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {u.capabilities.map((c) => (
                    <Badge key={c} size="xs" variant="outline">
                      {c}
                    </Badge>
                  ))}
                </Group>
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                {may.manage_users && (
                  <>
                    <Button size="xs" variant="subtle" onClick={() => setEditing({ user: u, what: "capabilities" })} data-testid="user-capabilities">
                      Capabilities…
                    </Button>
                    <Button size="xs" variant="subtle" onClick={() => setEditing({ user: u, what: "password" })} data-testid="user-password">
                      Password…
                    </Button>
                  </>
                )}
                {may.manage_users &&
                  (u.disabled ? (
                    <Button size="xs" variant="light" onClick={() => act(api.user_enable({ email: u.email }), `${u.email} may sign in again.`)}>
                      Enable
                    </Button>
                  ) : (
                    <Button size="xs" variant="light" color="red" onClick={() => act(api.user_disable({ email: u.email }), `${u.email} is disabled.`)}>
                      Disable
                    </Button>
                  ))}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing ? `${editing.what === "password" ? "Password" : "Capabilities"} of ${editing.user.email}` : ""}
      >
        {editing?.what === "capabilities" && (
          <CapabilitiesForm
            user={editing.user}
            onDone={() => {
              setEditing(null);
              props.reload();
            }}
          />
        )}
        {editing?.what === "password" && <PasswordForm user={editing.user} onDone={() => setEditing(null)} />}
      </Modal>
      <Modal opened={adding} onClose={() => setAdding(false)} title="New user">
        <UserForm
          onDone={() => {
            setAdding(false);
            props.reload();
          }}
        />
      </Modal>
    </Stack>
  );
}

function UserForm(props: { onDone: () => void }) {
  const [email, setEmail] = useState("");
  const [login, setLogin] = useState("");
  const [role, setRole] = useState<UserRole>("viewer");
  const [capabilities, setCapabilities] = useState<string[]>([]);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.user_add({ email, login, role, capabilities, display_name: null, password: password || null });
      notifications.show({ color: "green", message: `${email} can sign in as ${login}.` });
      props.onDone();
    } catch (err) {
      notifications.show({ color: "red", title: "User not added", message: toApiError(err).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="Email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} required type="email" data-testid="new-user-email" />
        <TextInput label="PostgreSQL login" description="Created if it doesn't exist" value={login} onChange={(e) => setLogin(e.currentTarget.value)} required data-testid="new-user-login" />
        <Select label="Role" data={ROLES} value={role} onChange={(v) => setRole((v ?? "viewer") as UserRole)} allowDeselect={false} data-testid="new-user-role" />
        <TagsInput
          label="Capabilities"
          data={["maintenance_mode", "firmware_update", "power"]}
          value={capabilities}
          onChange={setCapabilities}
          description="Job types they may submit or approve; site:<CODE> limits them to a site"
          data-testid="new-user-capabilities"
        />
        <PasswordInput
          label="Initial password"
          description="Leave empty when the DBA set up LDAP or Kerberos; the database only ever receives its SCRAM verifier"
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          autoComplete="new-password"
          data-testid="new-user-password"
        />
        <Group justify="flex-end">
          <Button type="submit" loading={busy} data-testid="new-user-save">
            Add user
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
