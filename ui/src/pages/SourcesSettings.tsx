// Settings → Sources: the sources a page at a time (`sources_page`: searched and filtered
// on the server, so thousands of iDRACs never travel at once); add a vCenter, iDRAC or
// OpenManage Enterprise after looking at the
// certificate it presents (trust it, pin it, or refuse it); edit, enable/disable, re-pin
// after a certificate change, remove (saying what goes with it), import iDRACs from a CSV
// with a preview of every row, and sync now. Every action is a registry operation
// (source_add, source_update, source_probe, source_remove, source_import_idracs).
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  FileButton,
  Group,
  Menu,
  Modal,
  PasswordInput,
  Pagination,
  Radio,
  Select,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Textarea,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconSearch } from "@tabler/icons-react";
import { useEffect, useState, type ReactNode } from "react";
import { useNavigate } from "react-router";
import type {
  Certificate,
  ImportResult,
  ServiceIdentity,
  SiteRow,
  Source,
  SourceFacets,
  SourceKind,
  SourceProbe,
  SourceRemoval,
  TlsMode,
} from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, Facts, StatusBadge } from "../components/common";
import { ago, dateTime } from "../lib/format";
import { useMay } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";

const KINDS: { value: SourceKind; label: string }[] = [
  { value: "vcenter", label: "vCenter" },
  { value: "idrac", label: "iDRAC" },
  { value: "ome", label: "OpenManage Enterprise" },
];
const DRIVERS = ["auto", "redfish", "wsman", "racadm"];
const NEW_IDENTITY = "__new__";

const PAGE = 100;
const STATUSES = [
  { value: "failing", label: "Last sync failed" },
  { value: "never", label: "Never synced" },
  { value: "disabled", label: "Disabled" },
];

type Props = { identities: ServiceIdentity[]; sites: SiteRow[]; reload: () => void };

function failed(title: string, e: unknown) {
  notifications.show({ color: "red", title, message: toApiError(e).message });
}

export function Sources(props: Props) {
  const may = useMay();
  const navigate = useNavigate();
  const [busy, setBusy] = useState<string | null>(null);
  const [dialog, setDialog] = useState<
    { kind: "add" } | { kind: "import" } | { kind: "edit" | "repin" | "remove"; source: Source } | null
  >(null);
  const canSync = may.submit_jobs && may.job_types.includes("sync");
  const [search, setSearch] = useState("");
  const [q] = useDebouncedValue(search.trim(), 200);
  const [kind, setKind] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  // A new search or filter starts at the first page (set with it: one request, not two).
  const [asked, setAsked] = useState({ q, kind, status });
  if (asked.q !== q || asked.kind !== kind || asked.status !== status) {
    setAsked({ q, kind, status });
    setOffset(0);
  }
  const page = usePageModel(
    () => api.sources_page({ kind: kind as SourceKind | null, q: q || null, status, offset, limit: PAGE }),
    [kind, q, status, offset],
    ["inventory", "job"],
  );
  // Counts over every source come with the first page of an unsearched list; keep them.
  const [facets, setFacets] = useState<SourceFacets | null>(null);
  useEffect(() => {
    if (page.data?.facets) setFacets(page.data.facets);
  }, [page.data]);
  // A removal (or a live change) can leave the page past the end: go to the last one.
  const lastOffset = Math.max(0, Math.floor(((page.data?.total ?? 0) - 1) / PAGE) * PAGE);
  useEffect(() => {
    if (page.data && page.data.sources.length === 0 && page.data.offset > 0) setOffset(lastOffset);
  }, [page.data, lastOffset]);
  const known = (facets?.kinds ?? []).reduce((n, c) => n + c.count, 0);
  const sources: Source[] = page.data?.sources ?? [];
  const total = page.data?.total ?? 0;
  const filtered = !!(q || kind || status);
  const reload = () => {
    page.reload();
    props.reload();
  };
  const close = (changed: boolean) => {
    setDialog(null);
    if (changed) reload();
  };
  const sync = async (source: string | null) => {
    setBusy(source ?? "*");
    try {
      const done = await api.job_submit({
        spec: { type: "sync", source, kind: null, benchmark_noop: false },
        title: null,
        policy_name: null,
        policy: { require_approval: false },
        idempotency_key: null,
        run_at: null,
        schedule: null,
        dry_run: false,
      });
      notifications.show({ color: "blue", message: `Sync submitted: ${done.plan.summary}.` });
      if (done.job) navigate(`/jobs/${done.job.id}`);
    } catch (e) {
      failed("Sync not submitted", e);
    } finally {
      setBusy(null);
    }
  };
  const setEnabled = async (s: Source, enabled: boolean) => {
    try {
      await api.source_update({ kind: s.kind, name: s.name, url: null, identity: null, site: null, driver: null, enabled, trust: null });
      notifications.show({ color: "green", message: enabled ? `${s.name} syncs again.` : `${s.name} is disabled; its inventory stays as last synced.` });
      reload();
    } catch (e) {
      failed("Not changed", e);
    }
  };
  const actions = (
    <Group>
      {may.manage_sources && (
        <>
          <Button onClick={() => setDialog({ kind: "add" })} data-testid="source-add">
            Add a source
          </Button>
          <Button variant="light" onClick={() => setDialog({ kind: "import" })} data-testid="source-import">
            Import iDRACs from CSV
          </Button>
        </>
      )}
      {canSync && known > 0 && (
        <Button variant="light" onClick={() => sync(null)} loading={busy === "*"} data-testid="sync-all">
          Sync all sources now
        </Button>
      )}
    </Group>
  );
  const label = (list: { value: string; label: string }[], counts: { value: string; count: number }[] | undefined) =>
    list.map((o) => {
      const n = counts?.find((c) => c.value === o.value)?.count;
      return { value: o.value, label: n === undefined ? o.label : `${o.label} (${n.toLocaleString()})` };
    });
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  if (!page.data) return <Skeleton height={200} />;
  return (
    <Stack>
      {actions}
      {(known > 0 || filtered) && (
        <Group gap="xs">
          <TextInput
            placeholder="Name or address"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            w={260}
            aria-label="Search sources"
            data-testid="sources-search"
          />
          <Select placeholder="Kind" data={label(KINDS, facets?.kinds)} value={kind} onChange={setKind} clearable w={230} aria-label="Kind" />
          <Select placeholder="Status" data={label(STATUSES, facets?.statuses)} value={status} onChange={setStatus} clearable w={210} aria-label="Status" data-testid="sources-status" />
          <Text size="sm" c="dimmed" data-testid="sources-total">
            {sources.length === 0
              ? ""
              : `${(page.data.offset + 1).toLocaleString()}–${(page.data.offset + sources.length).toLocaleString()} of ${total.toLocaleString()}`}
          </Text>
        </Group>
      )}
      {page.error && <ErrorAlert error={page.error} onRetry={page.reload} />}
      {total === 0 && filtered ? (
        <EmptyState title="Nothing matches" testId="sources-no-match">
          Try fewer letters or clear a filter: search matches source names and addresses.
        </EmptyState>
      ) : total === 0 ? (
        <EmptyState title="No sources yet" testId="sources-empty">
          {may.manage_sources
            ? "Add a vCenter, iDRAC or OpenManage Enterprise: EIO shows you its certificate before you trust it."
            : "An admin adds the vCenters, iDRACs and OpenManage Enterprise instances EIO syncs from; they appear here with their sync status."}
        </EmptyState>
      ) : (
        <Table highlightOnHover data-testid="sources-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Address</Table.Th>
              <Table.Th>Identity</Table.Th>
              <Table.Th>Site</Table.Th>
              <Table.Th>TLS</Table.Th>
              <Table.Th>Last sync</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sources.map((s) => (
              <Table.Tr key={s.id} data-testid="source-row" data-name={s.name}>
                <Table.Td>
                  <Group gap={4}>
                    <Text size="sm" fw={500}>
                      {s.name}
                    </Text>
                    {!s.enabled && <Badge color="gray">{s.demo_lab ? "paused" : "disabled"}</Badge>}
                    {s.demo_lab && (
                      <Badge variant="light" color="grape" title="Added by the demo lab: paused while it isn't running" data-testid="source-demo-lab">
                        demo lab
                      </Badge>
                    )}
                  </Group>
                  {s.generation && (
                    <Text size="xs" c="dimmed">
                      {s.generation} · {s.driver ?? "driver auto"}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{s.kind}</Table.Td>
                <Table.Td className="mono">{s.url}</Table.Td>
                <Table.Td>{s.service_identity}</Table.Td>
                <Table.Td>{s.site ?? "–"}</Table.Td>
                <Table.Td>
                  <Badge variant="outline" color={s.tls === "insecure" ? "red" : "gray"} data-testid="source-tls">
                    {s.tls}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    <StatusBadge value={s.last_sync_status ?? "never"} />
                    <Text size="xs" c="dimmed">
                      {ago(s.last_sync_at)}
                    </Text>
                  </Group>
                  {s.last_error && (
                    <Text size="xs" c="red" lineClamp={2}>
                      {s.last_error}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {canSync && s.enabled && (
                      <Button size="xs" variant="light" onClick={() => sync(s.name)} loading={busy === s.name} data-testid="sync-source">
                        Sync now
                      </Button>
                    )}
                    {may.manage_sources && (
                      <Menu position="bottom-end">
                        <Menu.Target>
                          <Button size="xs" variant="subtle" aria-label={`Manage ${s.name}`} data-testid="source-menu">
                            Manage
                          </Button>
                        </Menu.Target>
                        <Menu.Dropdown>
                          <Menu.Item onClick={() => setDialog({ kind: "edit", source: s })}>Edit</Menu.Item>
                          <Menu.Item onClick={() => setDialog({ kind: "repin", source: s })} data-testid="source-repin">
                            Check the certificate / re-pin
                          </Menu.Item>
                          <Menu.Item onClick={() => setEnabled(s, !s.enabled)} data-testid="source-toggle">
                            {s.enabled ? "Disable" : "Enable"}
                          </Menu.Item>
                          <Menu.Item color="red" onClick={() => setDialog({ kind: "remove", source: s })} data-testid="source-remove">
                            Remove…
                          </Menu.Item>
                        </Menu.Dropdown>
                      </Menu>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {total > PAGE && (
        <Pagination
          total={Math.ceil(total / PAGE)}
          value={Math.min(Math.floor(offset / PAGE), Math.floor(lastOffset / PAGE)) + 1}
          onChange={(p) => setOffset((p - 1) * PAGE)}
          data-testid="sources-pages"
        />
      )}
      <Modal opened={dialog?.kind === "add"} onClose={() => close(false)} title="Add a source" size="lg">
        {dialog?.kind === "add" && <AddSource {...props} onDone={close} />}
      </Modal>
      <Modal opened={dialog?.kind === "import"} onClose={() => close(true)} title="Import iDRACs from a CSV file" size="xl">
        {dialog?.kind === "import" && <ImportIdracs {...props} onDone={close} />}
      </Modal>
      <Modal opened={dialog?.kind === "edit"} onClose={() => close(false)} title={dialog && "source" in dialog ? `Edit ${dialog.source.name}` : ""}>
        {dialog?.kind === "edit" && <EditSource {...props} source={dialog.source} onDone={close} />}
      </Modal>
      <Modal opened={dialog?.kind === "repin"} onClose={() => close(false)} title={dialog && "source" in dialog ? `Certificate of ${dialog.source.name}` : ""} size="lg">
        {dialog?.kind === "repin" && <Repin source={dialog.source} onDone={close} />}
      </Modal>
      <Modal opened={dialog?.kind === "remove"} onClose={() => close(false)} title={dialog && "source" in dialog ? `Remove ${dialog.source.name}?` : ""}>
        {dialog?.kind === "remove" && <RemoveSource source={dialog.source} onDone={close} />}
      </Modal>
    </Stack>
  );
}

/** What the endpoint presented, laid out for the decision to trust it. */
export function CertificateFacts(props: { c: Certificate }) {
  const c = props.c;
  const rows: [string, ReactNode][] = [
    ["Endpoint", <Code key="e">{c.endpoint}</Code>],
    ["Subject", <span key="su" data-testid="cert-subject">{c.subject || "–"}</span>],
    ["Issuer", `${c.issuer || "–"}${c.self_signed ? " (self-signed)" : ""}`],
    ["Valid", `${dateTime(c.not_before)} → ${dateTime(c.not_after)}`],
    ["Names", c.names.join(", ") || "–"],
    ["Key", c.key],
    ["SHA-256", <Code key="s" data-testid="cert-sha256" style={{ wordBreak: "break-all" }}>{c.sha256}</Code>],
  ];
  return (
    <Stack gap="xs" data-testid="certificate">
      <Facts rows={rows} />
      {c.refused ? (
        <Alert color="red" title="EIO cannot use this certificate" data-testid="cert-refused">
          The endpoint presents a certificate EIO refuses whatever you choose: {c.refused}.
        </Alert>
      ) : c.trusted_by_system ? (
        <Alert color="green" title="Trusted by this system">
          A certificate authority this system trusts issued it for this host.
        </Alert>
      ) : (
        <Alert color="yellow" title="Not trusted by this system" data-testid="cert-untrusted">
          This system's authorities don't vouch for it: {c.system_trust_error}. Compare the SHA-256 with what the endpoint's own console shows
          before you trust it.
        </Alert>
      )}
    </Stack>
  );
}

function IdentityFields(props: {
  identities: ServiceIdentity[];
  choice: string;
  setChoice: (v: string) => void;
  username: string;
  setUsername: (v: string) => void;
  password: string;
  setPassword: (v: string) => void;
  newName?: { value: string; set: (v: string) => void; required: boolean };
}) {
  return (
    <>
      <Select
        label="Service identity"
        description="The account EIO signs in with; its password is sealed for the workers and nobody reads it back"
        data={[{ value: NEW_IDENTITY, label: "New credentials…" }, ...props.identities.map((i) => ({ value: i.name, label: `${i.name} (${i.username})` }))]}
        value={props.choice}
        onChange={(v) => props.setChoice(v ?? NEW_IDENTITY)}
        allowDeselect={false}
        data-testid="source-identity"
      />
      {props.choice === NEW_IDENTITY && (
        <Group grow>
          {props.newName && (
            <TextInput label="Identity name" value={props.newName.value} onChange={(e) => props.newName?.set(e.currentTarget.value)} required={props.newName.required} data-testid="source-identity-name" />
          )}
          <TextInput label="Username" value={props.username} onChange={(e) => props.setUsername(e.currentTarget.value)} required data-testid="source-username" />
          <PasswordInput label="Password" value={props.password} onChange={(e) => props.setPassword(e.currentTarget.value)} required autoComplete="new-password" data-testid="source-password" />
        </Group>
      )}
    </>
  );
}

function AddSource(props: Props & { onDone: (changed: boolean) => void }) {
  const [kind, setKind] = useState<SourceKind>("vcenter");
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [identity, setIdentity] = useState(NEW_IDENTITY);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [site, setSite] = useState<string | null>(null);
  const [driver, setDriver] = useState("auto");
  const [probe, setProbe] = useState<SourceProbe | null>(null);
  const [trust, setTrust] = useState<TlsMode | "refuse">("refuse");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const check = async () => {
    setBusy(true);
    setError(null);
    setProbe(null);
    try {
      const p = await api.source_probe({ kind, url, name: null });
      setProbe(p);
      setUrl(p.url);
      setTrust(p.certificate.refused ? "refuse" : p.certificate.trusted_by_system ? "verify" : "refuse");
    } catch (e) {
      setError(toApiError(e).message);
    } finally {
      setBusy(false);
    }
  };
  const add = async () => {
    if (!probe || trust === "refuse") return;
    setBusy(true);
    setError(null);
    try {
      const s = await api.source_add({
        kind,
        name,
        url,
        identity: identity === NEW_IDENTITY ? null : identity,
        new_identity: identity === NEW_IDENTITY ? { name: null, username, password } : null,
        trust: { mode: trust, thumbprint: trust === "pinned" ? probe.certificate.sha256 : null },
        site,
        driver: kind === "idrac" ? driver : null,
      });
      setPassword("");
      notifications.show({ color: "green", message: `Added ${s.kind} source ${s.name} (TLS ${s.tls}). Sync it to fill the inventory.` });
      props.onDone(true);
    } catch (e) {
      setError(toApiError(e).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack>
      <Group grow>
        <Select label="Kind" data={KINDS} value={kind} onChange={(v) => { setKind((v ?? "vcenter") as SourceKind); setProbe(null); }} allowDeselect={false} data-testid="source-kind" />
        <TextInput label="Name" placeholder="vc-prod" value={name} onChange={(e) => setName(e.currentTarget.value)} required data-testid="source-name" />
      </Group>
      <TextInput
        label="Address"
        placeholder={kind === "vcenter" ? "https://vcenter.example.com/sdk" : "https://10.0.0.5"}
        value={url}
        onChange={(e) => { setUrl(e.currentTarget.value); setProbe(null); }}
        required
        data-testid="source-url"
      />
      <IdentityFields identities={props.identities} choice={identity} setChoice={setIdentity} username={username} setUsername={setUsername} password={password} setPassword={setPassword} />
      <Group grow>
        <Select label="Site" placeholder="none" data={props.sites.map((s) => ({ value: s.code, label: `${s.code}${s.name ? ` — ${s.name}` : ""}` }))} value={site} onChange={setSite} clearable />
        {kind === "idrac" && <Select label="Driver" data={DRIVERS} value={driver} onChange={(v) => setDriver(v ?? "auto")} allowDeselect={false} />}
      </Group>
      <Group>
        <Button variant="light" onClick={check} loading={busy && !probe} disabled={!url.trim()} data-testid="source-check">
          Check the certificate
        </Button>
        <Text size="xs" c="dimmed">
          EIO connects, reads what the endpoint presents and hangs up: it sends no credential.
        </Text>
      </Group>
      {probe && (
        <>
          <CertificateFacts c={probe.certificate} />
          {!probe.certificate.refused && (
            <Radio.Group label="Trust" value={trust} onChange={(v) => setTrust(v as TlsMode | "refuse")}>
              <Stack gap={6} mt={4}>
                {probe.certificate.trusted_by_system && <Radio value="verify" label="Verify it against the system's trusted authorities (recommended)" />}
                <Radio value="pinned" label="Trust exactly this certificate (pin its SHA-256)" data-testid="trust-pin" />
                <Radio value="refuse" label="Refuse it: this is not the certificate I expect" data-testid="trust-refuse" />
              </Stack>
            </Radio.Group>
          )}
        </>
      )}
      {error && (
        <Alert color="red" data-testid="source-error">
          {error}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={() => props.onDone(false)}>
          Cancel
        </Button>
        <Button
          onClick={add}
          loading={busy && !!probe}
          disabled={!probe || trust === "refuse" || !name.trim() || (identity === NEW_IDENTITY && (!username.trim() || !password))}
          data-testid="source-save"
        >
          Add source
        </Button>
      </Group>
    </Stack>
  );
}

function EditSource(props: Props & { source: Source; onDone: (changed: boolean) => void }) {
  const s = props.source;
  const [url, setUrl] = useState(s.url);
  const [identity, setIdentity] = useState(s.service_identity);
  const [site, setSite] = useState<string | null>(s.site);
  const [driver, setDriver] = useState(s.driver ?? "auto");
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    try {
      await api.source_update({
        kind: s.kind,
        name: s.name,
        url,
        identity,
        site: site ?? "",
        driver: s.kind === "idrac" ? driver : null,
        enabled: null,
        trust: null,
      });
      notifications.show({ color: "green", message: `${s.name} saved.` });
      props.onDone(true);
    } catch (e) {
      failed("Not saved", e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack>
      <TextInput label="Address" value={url} onChange={(e) => setUrl(e.currentTarget.value)} required />
      <Select label="Service identity" data={props.identities.map((i) => i.name)} value={identity} onChange={(v) => setIdentity(v ?? s.service_identity)} allowDeselect={false} />
      <Select label="Site" placeholder="none" data={props.sites.map((x) => x.code)} value={site} onChange={setSite} clearable />
      {s.kind === "idrac" && <Select label="Driver" data={DRIVERS} value={driver} onChange={(v) => setDriver(v ?? "auto")} allowDeselect={false} />}
      <Text size="xs" c="dimmed">
        A new address keeps the pinned certificate: check it afterwards with “Check the certificate / re-pin”.
      </Text>
      <Group justify="flex-end">
        <Button onClick={save} loading={busy}>
          Save
        </Button>
      </Group>
    </Stack>
  );
}

function Repin(props: { source: Source; onDone: (changed: boolean) => void }) {
  const s = props.source;
  const [probe, setProbe] = useState<SourceProbe | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .source_probe({ kind: s.kind, url: s.url, name: s.name })
      .then(setProbe)
      .catch((e) => setError(toApiError(e).message));
  }, [s.kind, s.url, s.name]);
  const pin = async () => {
    if (!probe) return;
    setBusy(true);
    try {
      await api.source_update({ kind: s.kind, name: s.name, url: null, identity: null, site: null, driver: null, enabled: null, trust: { mode: "pinned", thumbprint: probe.certificate.sha256 } });
      notifications.show({ color: "green", message: `${s.name} now trusts exactly this certificate.` });
      props.onDone(true);
    } catch (e) {
      failed("Not pinned", e);
    } finally {
      setBusy(false);
    }
  };
  if (error) return <Alert color="red">{error}</Alert>;
  if (!probe) return <Text size="sm">Reading the certificate {s.url} presents…</Text>;
  return (
    <Stack>
      {probe.matches_pin === true && (
        <Alert color="green" data-testid="pin-matches">
          It presents the certificate {s.name} pins.
        </Alert>
      )}
      {probe.matches_pin === false && (
        <Alert color="orange" title="The certificate changed" data-testid="pin-changed">
          {s.name} pins {probe.pinned}; it now presents another. Pin the new one only if you know why it changed.
        </Alert>
      )}
      <CertificateFacts c={probe.certificate} />
      <Group justify="flex-end">
        <Button variant="default" onClick={() => props.onDone(false)}>
          Close
        </Button>
        {!probe.certificate.refused && probe.matches_pin !== true && (
          <Button color="orange" onClick={pin} loading={busy} data-testid="repin-save">
            Pin this certificate
          </Button>
        )}
      </Group>
    </Stack>
  );
}

function RemoveSource(props: { source: Source; onDone: (changed: boolean) => void }) {
  const s = props.source;
  const [preview, setPreview] = useState<SourceRemoval | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .source_remove({ kind: s.kind, name: s.name, dry_run: true })
      .then(setPreview)
      .catch((e) => setError(toApiError(e).message));
  }, [s.kind, s.name]);
  const remove = async () => {
    setBusy(true);
    try {
      const done = await api.source_remove({ kind: s.kind, name: s.name, dry_run: false });
      notifications.show({ color: "green", message: done.summary });
      props.onDone(true);
    } catch (e) {
      failed("Not removed", e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack>
      {error && <Alert color="red">{error}</Alert>}
      {preview && <Text size="sm" data-testid="remove-summary">{preview.summary}</Text>}
      <Text size="xs" c="dimmed">
        To stop syncing but keep the inventory, disable the source instead.
      </Text>
      <Group justify="flex-end">
        <Button variant="default" onClick={() => props.onDone(false)}>
          Cancel
        </Button>
        <Button color="red" onClick={remove} loading={busy} disabled={!preview} data-testid="remove-confirm">
          Remove {s.name}
        </Button>
      </Group>
    </Stack>
  );
}

function ImportIdracs(props: Props & { onDone: (changed: boolean) => void }) {
  const [csv, setCsv] = useState("name,url,site,driver,thumbprint\n");
  const [identity, setIdentity] = useState(NEW_IDENTITY);
  const [identityName, setIdentityName] = useState("idrac-fleet");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [site, setSite] = useState<string | null>(null);
  const [insecure, setInsecure] = useState(false);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Any change after a preview makes it stale: preview again before adding.
  const changed =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      set(v);
      setResult(null);
    };
  const blankCredentials = identity === NEW_IDENTITY && (!username.trim() || !password || !identityName.trim());
  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.source_import_idracs({
        csv,
        identity: identity === NEW_IDENTITY ? null : identity,
        new_identity: identity === NEW_IDENTITY ? { name: identityName, username, password } : null,
        site,
        driver: null,
        thumbprint: null,
        insecure,
        dry_run: dryRun,
      });
      setResult(r);
      if (!dryRun && r.ok > 0 && identity === NEW_IDENTITY) {
        // The import created the identity: a retry of the remaining rows reuses it.
        setIdentity(identityName);
        props.reload();
      }
      if (!dryRun) {
        setPassword("");
        notifications.show({ color: r.failed ? "orange" : "green", message: `Added ${r.ok} iDRAC(s)${r.failed ? `; ${r.failed} row(s) were not added` : ""}.` });
        if (r.failed === 0) props.onDone(true);
      }
    } catch (e) {
      setError(toApiError(e).message);
    } finally {
      setBusy(false);
    }
  };
  const added = result && !result.dry_run;
  return (
    <Stack>
      <Group align="flex-end">
        <Textarea
          label="CSV"
          description="A header, then one iDRAC a line: name,url[,site][,driver][,thumbprint]. Rows without a thumbprint are verified against the system's roots."
          value={csv}
          onChange={(e) => { setCsv(e.currentTarget.value); setResult(null); }}
          autosize
          minRows={5}
          maxRows={14}
          style={{ flex: 1 }}
          className="mono"
          data-testid="import-csv"
        />
        <FileButton accept=".csv,text/csv" onChange={(f) => f?.text().then((t) => { setCsv(t); setResult(null); })}>
          {(p) => (
            <Button variant="default" {...p}>
              Open a file…
            </Button>
          )}
        </FileButton>
      </Group>
      <IdentityFields
        identities={props.identities}
        choice={identity}
        setChoice={changed(setIdentity)}
        username={username}
        setUsername={changed(setUsername)}
        password={password}
        setPassword={changed(setPassword)}
        newName={{ value: identityName, set: changed(setIdentityName), required: true }}
      />
      <Group grow align="flex-end">
        <Select label="Site for rows that name none" placeholder="none" data={props.sites.map((s) => s.code)} value={site} onChange={changed(setSite)} clearable />
        <Checkbox label="Trust any certificate (labs only)" checked={insecure} onChange={(e) => changed(setInsecure)(e.currentTarget.checked)} />
      </Group>
      {error && <Alert color="red">{error}</Alert>}
      {result && (
        <Stack gap={4}>
          <Text size="sm" fw={500} data-testid="import-summary">
            {result.dry_run ? `${result.ok} row(s) ready, ${result.failed} with errors (nothing added yet).` : `${result.ok} added, ${result.failed} not added.`}
          </Text>
          <Table data-testid="import-rows">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Line</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Address</Table.Th>
                <Table.Th>Site</Table.Th>
                <Table.Th>Result</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.rows.map((r) => (
                <Table.Tr key={r.line} data-testid="import-row" data-status={r.status}>
                  <Table.Td>{r.line}</Table.Td>
                  <Table.Td>{r.name}</Table.Td>
                  <Table.Td className="mono">{r.url}</Table.Td>
                  <Table.Td>{r.site ?? "–"}</Table.Td>
                  <Table.Td>{r.error ? <Text size="xs" c="red">{r.error}</Text> : <StatusBadge value={r.status === "added" ? "succeeded" : "pending"} label={r.status} />}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Stack>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={() => props.onDone(!!added)}>
          {added ? "Close" : "Cancel"}
        </Button>
        <Button variant="light" onClick={() => run(true)} loading={busy} disabled={blankCredentials} data-testid="import-preview">
          Preview
        </Button>
        <Button onClick={() => run(false)} loading={busy} disabled={!result || !result.dry_run || result.ok === 0 || blankCredentials} data-testid="import-confirm">
          Add {result?.dry_run ? result.ok : ""} iDRAC(s)
        </Button>
      </Group>
    </Stack>
  );
}
