// The dashboard: the `dashboard_page` model from one call, reloaded on live updates.
import { BarChart, DonutChart } from "@mantine/charts";
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Collapse,
  Group,
  Progress,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
} from "@mantine/core";
import { IconAlertTriangle, IconPlugConnected } from "@tabler/icons-react";
import { Link } from "react-router";
import { useState } from "react";
import type { ApiError, Count, DashboardPage as Model, JobSummary, SyncFailureGroup } from "../api/bindings.gen";
import { api, desktop, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, PageHeader, StatusBadge } from "../components/common";
import { ago, words } from "../lib/format";
import { usePageModel } from "../lib/usePageModel";

export function DashboardPage() {
  const page = usePageModel(() => api.dashboard_page(), [], ["job", "approval", "kill_switch", "inventory"]);
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  if (!page.data) return <Skeleton height={400} data-testid="dashboard-loading" />;
  return <Dashboard model={page.data} onChanged={page.reload} />;
}

/** "Try the demo lab" (desktop, embedded default): the same setup as `eio demo`, in-process. */
function TryDemo(props: { onStarted: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!desktop) return null;
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      await desktop?.start_demo();
      props.onStarted();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs" mt="sm">
      <Text size="sm">
        Or try EIO on a simulated estate: 2 vCenters, 60 hosts, 800 VMs, 60 Dell servers, synced and waiting
        for you, with a maintenance job to approve.
      </Text>
      <Group>
        <Button onClick={start} loading={busy} data-testid="try-demo">
          Try the demo lab
        </Button>
      </Group>
      {error && <ErrorAlert error={error} title="The demo lab did not start" />}
    </Stack>
  );
}

function Stat(props: { label: string; value: number; detail?: string; testId: string; to?: string }) {
  const body = (
    <Card withBorder padding="md" data-testid={props.testId}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {props.label}
      </Text>
      <Text fz={28} fw={700} data-testid={`${props.testId}-value`}>
        {props.value.toLocaleString()}
      </Text>
      {props.detail && (
        <Text size="xs" c="dimmed">
          {props.detail}
        </Text>
      )}
    </Card>
  );
  return props.to ? (
    <Anchor component={Link} to={props.to} underline="never" c="inherit">
      {body}
    </Anchor>
  ) : (
    body
  );
}

const SEVERITY_COLOR: Record<string, string> = { error: "red.6", warning: "yellow.6", info: "blue.5" };

/** Failed syncs in one paragraph, grouped by why; the sources one click away. */
function SyncFailures({ groups }: { groups: SyncFailureGroup[] }) {
  const [open, setOpen] = useState(false);
  const total = groups.reduce((n, g) => n + g.sources.length, 0);
  return (
    <Alert color="red" icon={<IconAlertTriangle size={18} />} title={`${total} source${total === 1 ? "" : "s"} failed their last sync`} data-testid="sync-failures">
      <Text size="sm" data-testid="sync-failures-text">
        {groups.map((g) => g.sentence).join(" ")}
      </Text>
      <Anchor component="button" size="sm" onClick={() => setOpen((o) => !o)} data-testid="sync-failures-toggle">
        {open ? "Hide the list" : `Show which (${total})`}
      </Anchor>
      <Collapse in={open} transitionDuration={0}>
        <Stack gap={4} mt="xs" data-testid="sync-failures-list">
          {groups.map((g) => (
            <Text key={`${g.reason}-${g.demo_lab}`} size="xs">
              <b>{g.reason.replace("_", " ")}{g.demo_lab ? " (demo lab)" : ""}</b>: {g.sources.join(", ")}
            </Text>
          ))}
        </Stack>
      </Collapse>
    </Alert>
  );
}

export function Dashboard({ model, onChanged }: { model: Model; onChanged?: () => void }) {
  const t = model.totals;
  const sites = model.sites.map((s) => ({ site: s.site ?? "(no site)", VMs: s.vms, Hosts: s.hosts, Servers: s.servers }));
  const findings = model.findings.filter((f) => f.count > 0);
  const count = (list: Count[], v: string) => list.find((c) => c.value === v)?.count ?? 0;
  return (
    <Stack data-testid="dashboard">
      <PageHeader title="Dashboard" description="The estate at a glance; updates itself as syncs and jobs progress." />
      {model.sync_failures.length > 0 && <SyncFailures groups={model.sync_failures} />}
      {model.warnings.map((w) => (
        <Alert key={w} color="yellow" icon={<IconAlertTriangle size={18} />} data-testid="dashboard-warning">
          {w}
        </Alert>
      ))}
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }}>
        <Stat label="VMs" value={t.vms} detail={`${t.vms_powered_on.toLocaleString()} powered on`} testId="stat-vms" to="/inventory" />
        <Stat label="ESXi hosts" value={t.hosts} detail={`${t.hosts_in_maintenance} in maintenance`} testId="stat-hosts" />
        <Stat label="Clusters" value={t.clusters} testId="stat-clusters" />
        <Stat label="Dell servers" value={t.servers} detail={`${t.servers_noncompliant} not compliant`} testId="stat-servers" to="/servers" />
        <Stat label="Awaiting approval" value={count(model.job_counts, "awaiting_approval")} testId="stat-approvals" to="/jobs" />
        <Stat label="Running / paused" value={count(model.job_counts, "running") + count(model.job_counts, "paused")} testId="stat-active" to="/jobs" />
      </SimpleGrid>

      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder data-testid="sites-card">
          <Title order={4} mb="sm">
            Inventory per site
          </Title>
          {sites.length === 0 ? (
            <EmptyState title="Nothing synced yet">Add a vCenter or iDRAC under Settings → Sources, then sync it.</EmptyState>
          ) : (
            <BarChart
              h={240}
              data={sites}
              dataKey="site"
              withLegend
              series={[
                { name: "VMs", color: "indigo.6" },
                { name: "Hosts", color: "teal.6" },
                { name: "Servers", color: "orange.6" },
              ]}
            />
          )}
        </Card>
        <Card withBorder data-testid="findings-card">
          <Title order={4} mb="sm">
            Open IPAM findings
          </Title>
          {findings.length === 0 ? (
            <EmptyState title="No open findings">Address conflicts and unplanned addresses appear here after a sync.</EmptyState>
          ) : (
            <Group align="center" wrap="nowrap">
              <DonutChart
                size={160}
                thickness={24}
                withTooltip
                data={findings.map((f) => ({ name: words(f.value), value: f.count, color: SEVERITY_COLOR[f.value] ?? "gray.5" }))}
              />
              <Stack gap={4}>
                {model.findings.map((f) => (
                  <Group key={f.value} gap="xs">
                    <Badge color={SEVERITY_COLOR[f.value]?.split(".")[0] ?? "gray"} variant="light" w={80}>
                      {f.value}
                    </Badge>
                    <Text size="sm">{f.count}</Text>
                  </Group>
                ))}
              </Stack>
            </Group>
          )}
        </Card>
      </SimpleGrid>

      <Card withBorder data-testid="sources-card">
        <Title order={4} mb="sm">
          Sync status
        </Title>
        {model.sources.length === 0 && model.sources_hidden === 0 ? (
          <EmptyState
            title="No sources yet"
            icon={<IconPlugConnected size={26} />}
            action={<TryDemo onStarted={() => onChanged?.()} />}
          >
            An admin adds vCenters, iDRACs and OpenManage under Settings → Sources (or with `eio source add`).
          </EmptyState>
        ) : model.sources.length === 0 ? null : (
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Source</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Site</Table.Th>
                <Table.Th>Last sync</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Last error</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {model.sources.map((s) => (
                <Table.Tr key={`${s.kind}/${s.name}`} data-testid="source-row">
                  <Table.Td>{s.name}</Table.Td>
                  <Table.Td>{s.kind}</Table.Td>
                  <Table.Td>{s.site ?? "–"}</Table.Td>
                  <Table.Td>{ago(s.last_sync_at)}</Table.Td>
                  <Table.Td>
                    <StatusBadge value={s.enabled ? (s.last_sync_status ?? "never") : "disabled"} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c={s.last_error ? "red" : "dimmed"} lineClamp={2}>
                      {s.last_error ?? "–"}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {model.sources_hidden > 0 && (
          <Text size="sm" c="dimmed" mt="xs" data-testid="sources-hidden">
            {model.sources.length === 0
              ? `All ${model.sources_hidden} sources synced without error`
              : `${model.sources_hidden} more source${model.sources_hidden === 1 ? "" : "s"} synced without error`}
            : Settings → Sources lists every one.
          </Text>
        )}
      </Card>

      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder data-testid="active-jobs-card">
          <Title order={4} mb="sm">
            Running and paused jobs
          </Title>
          <JobList jobs={model.active_jobs} empty="No job is running. Create one under Jobs." />
        </Card>
        <Card withBorder data-testid="approvals-card">
          <Title order={4} mb="sm">
            Pending approvals
          </Title>
          <JobList jobs={model.approvals} empty="Nothing waits for approval." />
        </Card>
      </SimpleGrid>

      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder data-testid="kill-switch-card">
          <Title order={4} mb="xs">
            Kill switch
          </Title>
          <Group>
            <StatusBadge value={model.kill_switch.engaged ? "error" : "ok"} label={model.kill_switch.engaged ? "Engaged" : "Off"} />
            <Text size="sm" c="dimmed">
              {model.kill_switch.engaged
                ? `by ${model.kill_switch.changed_by ?? "?"} ${ago(model.kill_switch.changed_at)}: ${model.kill_switch.reason ?? ""}`
                : "Jobs may make external calls. Engage it from the Jobs page in an emergency."}
            </Text>
          </Group>
        </Card>
        <Card withBorder data-testid="workers-card">
          <Title order={4} mb="xs">
            Workers
          </Title>
          {model.workers.length === 0 ? (
            <Text size="sm" c="dimmed">
              No worker has announced itself: jobs wait until `eio serve` or `eio worker` runs with a worker key.
            </Text>
          ) : (
            <Stack gap={4}>
              {model.workers.map((w) => (
                <Group key={w.id} gap="xs">
                  <StatusBadge value={w.alive ? "ok" : "warning"} label={w.alive ? "alive" : "silent"} />
                  <Text size="sm">{w.id}</Text>
                  <Text size="xs" c="dimmed">
                    {w.mode} · heartbeat {ago(w.heartbeat_at)}
                  </Text>
                </Group>
              ))}
            </Stack>
          )}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}

export function JobList(props: { jobs: JobSummary[]; empty: string }) {
  if (props.jobs.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        {props.empty}
      </Text>
    );
  }
  return (
    <Stack gap="xs">
      {props.jobs.map((j) => (
        <Anchor key={j.id} component={Link} to={`/jobs/${j.id}`} underline="never" c="inherit" data-testid="job-link">
          <Group justify="space-between" wrap="nowrap">
            <Stack gap={0} style={{ minWidth: 0 }}>
              <Text size="sm" fw={500} truncate>
                {j.title}
              </Text>
              <Text size="xs" c="dimmed">
                {words(j.type)} · by {j.initiated_by ?? "?"} · {ago(j.created_at)}
              </Text>
            </Stack>
            <Group gap="xs" wrap="nowrap">
              {j.progress !== null && j.status === "running" && (
                <Tooltip label={j.progress_message ?? ""}>
                  <Progress value={j.progress * 100} w={80} size="sm" animated />
                </Tooltip>
              )}
              <StatusBadge value={j.status} />
            </Group>
          </Group>
        </Anchor>
      ))}
    </Stack>
  );
}
