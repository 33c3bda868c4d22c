// Dell servers: generation, driver, firmware compliance, mapping to ESXi hosts. The table
// asks the backend for the window it scrolls to (`servers_page` with offset/limit), so
// thousands of servers never travel at once; search and filters are server-side, and the
// cards and filter choices come from the first window's facets. A server's drawer shows
// firmware per component against the baseline, every mapping candidate with its evidence,
// and the manual mapping override (`server_detail`, `mapping_set`), and where site
// inference placed it, with a pin (`site_placement`, `site_pin`, `site_unpin`).
import { BarChart } from "@mantine/charts";
import {
  Badge,
  Button,
  Card,
  Divider,
  Drawer,
  Group,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconSearch } from "@tabler/icons-react";
import { useCallback, useMemo, useState } from "react";
import type { Count, ServerFacets, ServerRow, ServersQuery } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, Facts, PageHeader, StatusBadge } from "../components/common";
import { VirtualTable, type Column } from "../components/VirtualTable";
import { ago, percent, words } from "../lib/format";
import { useMay } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";
import { useWindowedRows, type Windowed } from "../lib/useWindowedRows";
import { MappingCard, SitePlacementCard } from "./InventoryDrawers";

function options(list: Count[] | undefined) {
  return (list ?? []).map((c) => ({ value: c.value, label: `${c.value} (${c.count.toLocaleString()})` }));
}

export function ServersPage() {
  const [search, setSearch] = useState("");
  const [q] = useDebouncedValue(search.trim(), 200);
  const [generation, setGeneration] = useState<string | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [show, setShow] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const fetchWindow = useCallback(
    (offset: number, limit: number): Promise<Windowed<ServerRow, ServerFacets>> => {
      const query: ServersQuery = { q: q || null, site, generation, show, offset, limit };
      return api.servers_page(query).then((p) => ({ rows: p.servers, total: p.total, facets: p.facets }));
    },
    [q, site, generation, show],
  );
  const servers = useWindowedRows(fetchWindow, ["inventory"]);
  const m = servers.facets;

  const columns = useMemo<Column<ServerRow>[]>(
    () => [
      { key: "tag", header: "Service tag", width: "120px", render: (r) => <span className="mono">{r.service_tag ?? "–"}</span> },
      { key: "name", header: "Hostname / iDRAC", width: "minmax(160px, 1.5fr)", render: (r) => r.hostname ?? r.idrac ?? "–" },
      { key: "model", header: "Model", width: "minmax(120px, 1fr)", render: (r) => r.model ?? "–" },
      { key: "site", header: "Site", width: "110px", render: (r) => r.site ?? "–" },
      { key: "gen", header: "iDRAC", width: "90px", render: (r) => r.generation ?? "–" },
      { key: "driver", header: "Driver", width: "90px", render: (r) => r.driver ?? "–" },
      { key: "fw", header: "iDRAC fw", width: "110px", render: (r) => r.idrac_firmware ?? "–" },
      { key: "bios", header: "BIOS", width: "90px", render: (r) => r.bios_version ?? "–" },
      {
        key: "compliance",
        header: "Compliance",
        width: "130px",
        render: (r) =>
          r.noncompliant_components > 0 ? (
            <StatusBadge value="upgrade" label={`${r.noncompliant_components} behind`} />
          ) : (
            <StatusBadge value="compliant" label="compliant" />
          ),
      },
      {
        key: "host",
        header: "ESXi host",
        width: "minmax(140px, 1.2fr)",
        render: (r) =>
          r.esxi_host ? (
            <Group gap={4} wrap="nowrap">
              <Text size="sm" truncate>
                {r.esxi_host}
              </Text>
              <Badge size="xs" variant="light" color={(r.mapping_confidence ?? 0) >= 0.85 ? "green" : "yellow"}>
                {r.mapping_method} {percent(r.mapping_confidence)}
              </Badge>
            </Group>
          ) : (
            <Text size="sm" c="dimmed">
              not mapped
            </Text>
          ),
      },
      { key: "power", header: "Power", width: "80px", render: (r) => <StatusBadge value={r.power_state} /> },
    ],
    [],
  );

  if (servers.error && servers.total === null) return <ErrorAlert error={servers.error} onRetry={servers.reload} />;
  if (servers.total === null || !m) return <Skeleton height={400} />;
  const anyFilter = !!(q || site || generation || show);
  return (
    <Stack gap="sm" data-testid="servers">
      <PageHeader title="Dell servers" description="iDRAC and OpenManage inventory, firmware against the baseline, and the ESXi host each one runs." />
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Generations
          </Text>
          <BarChart h={110} data={m.generations.map((g) => ({ g: g.value, Servers: g.count }))} dataKey="g" series={[{ name: "Servers", color: "orange.6" }]} />
        </Card>
        <Card withBorder data-testid="compliance-card">
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Firmware compliance
          </Text>
          <Stack gap={4} mt="xs">
            {m.compliance.map((c) => (
              <Group key={c.value} justify="space-between">
                <Text size="sm">{words(c.value)}</Text>
                <Text size="sm" fw={600}>
                  {c.count}
                </Text>
              </Group>
            ))}
          </Stack>
        </Card>
        <Card withBorder>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Mapping
          </Text>
          <Text size="sm" mt="xs">
            {m.unmapped} server(s) not mapped to an ESXi host
          </Text>
          <Text size="sm">{m.ambiguous_mappings.length} ambiguous mapping(s) to settle</Text>
        </Card>
      </SimpleGrid>
      <Group gap="xs">
        <TextInput
          placeholder="Service tag, hostname, model, host, iDRAC IP"
          leftSection={<IconSearch size={16} />}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={300}
          aria-label="Search servers"
          data-testid="servers-search"
        />
        <Select placeholder="Site" data={options(m.sites)} value={site} onChange={setSite} clearable searchable w={150} aria-label="Site" />
        <Select placeholder="Generation" data={options(m.generations)} value={generation} onChange={setGeneration} clearable w={170} aria-label="Generation" />
        <Select
          placeholder="Show"
          data={[
            { value: "noncompliant", label: "Not compliant" },
            { value: "mapped", label: "Mapped" },
            { value: "unmapped", label: "Not mapped" },
          ]}
          value={show}
          onChange={setShow}
          clearable
          w={160}
          aria-label="Show"
        />
        <Text size="sm" c="dimmed" data-testid="servers-total">
          {`${servers.total.toLocaleString()} ${servers.total === 1 ? "server" : "servers"}`}
        </Text>
      </Group>
      {servers.error && <ErrorAlert error={servers.error} onRetry={servers.reload} />}
      {servers.total === 0 ? (
        anyFilter ? (
          <EmptyState title="Nothing matches" testId="servers-no-match">
            Try fewer letters or clear a filter. Search matches service tags, hostnames, iDRAC names, models, ESXi hosts and
            exact iDRAC addresses.
          </EmptyState>
        ) : (
          <EmptyState title="No Dell servers yet" testId="servers-empty">
            Add iDRACs (or an OpenManage Enterprise) under Settings → Sources and sync them.
          </EmptyState>
        )
      ) : (
        <VirtualTable<ServerRow>
          label="Dell servers"
          testId="server-table"
          columns={columns}
          count={servers.total}
          row={servers.row}
          rowKey={(r) => r.uuid}
          onRange={servers.onRange}
          onOpen={(r) => setOpen(r.uuid)}
          height="calc(100vh - 430px)"
        />
      )}
      <Drawer opened={open !== null} onClose={() => setOpen(null)} position="right" size="xl" title="Dell server">
        {open && <ServerDetailView server={open} onChanged={servers.reload} />}
      </Drawer>
    </Stack>
  );
}

export function ServerDetailView(props: { server: string; onChanged: () => void }) {
  const page = usePageModel(() => api.server_detail({ server: props.server }), [props.server], ["inventory"]);
  const may = useMay();
  const [host, setHost] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const d = page.data;
  if (!d) return <Skeleton height={300} />;
  const s = d.server;
  const behind = d.firmware.filter((f) => f.compliance === "upgrade" || f.compliance === "downgrade").length;

  const changed = () => {
    page.reload();
    props.onChanged();
  };
  const map = async () => {
    if (!host) return;
    setBusy(true);
    try {
      await api.mapping_set({ server: s.uuid, host });
      notifications.show({ color: "green", message: `${s.service_tag ?? s.idrac} is now mapped to ${host}.` });
      page.reload();
      props.onChanged();
    } catch (e) {
      notifications.show({ color: "red", title: "Not mapped", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack data-testid="server-detail">
      <Group gap="xs">
        <Title order={3}>{s.service_tag ?? s.idrac ?? "Server"}</Title>
        <StatusBadge value={s.health} label={`health ${s.health}`} />
        <StatusBadge value={s.power_state} />
      </Group>
      <Facts
        rows={[
          ["Model", s.model],
          ["Hostname", s.hostname],
          ["Site", s.site ?? "no site"],
          ["iDRAC", `${s.idrac ?? "–"} (${s.generation ?? "generation unknown"}) at ${s.idrac_ip ?? "–"}`],
          ["Driver", s.driver],
          ["iDRAC firmware", s.idrac_firmware],
          ["BIOS", s.bios_version],
          ["System UUID", <span key="u" className="mono">{s.system_uuid ?? "–"}</span>],
          ["Last sync", ago(s.last_sync)],
        ]}
      />
      <Divider label="Site" labelPosition="left" />
      <SitePlacementCard key={s.uuid} kind="server" id={s.uuid} onChanged={changed} />
      <Divider label={`Firmware (${d.firmware.length} components, ${behind} behind the baseline)`} labelPosition="left" />
      <Table striped data-testid="firmware-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Component</Table.Th>
            <Table.Th>Installed</Table.Th>
            <Table.Th>Baseline</Table.Th>
            <Table.Th>Compliance</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {d.firmware.map((f) => (
            <Table.Tr key={f.fqdd} data-testid="firmware-row">
              <Table.Td>
                <Text size="sm">{f.name}</Text>
                <Text size="xs" c="dimmed" className="mono">
                  {f.fqdd}
                </Text>
              </Table.Td>
              <Table.Td className="mono">{f.version}</Table.Td>
              <Table.Td className="mono">{f.baseline_version ?? "–"}</Table.Td>
              <Table.Td>{f.compliance ? <StatusBadge value={f.compliance} /> : <Text size="xs" c="dimmed">no baseline</Text>}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Divider label="Mapping to an ESXi host" labelPosition="left" />
      {d.mappings.length === 0 ? (
        <Text size="sm" c="dimmed">
          No candidate host: neither service tag, UUID nor name matched an ESXi host.
        </Text>
      ) : (
        d.mappings.map((m) => <MappingCard key={m.esxi_host} m={m} />)
      )}
      {may.submit_jobs || may.plan_ipam ? (
        <Group align="flex-end" data-testid="manual-mapping">
          <Select
            label="Map by hand to"
            placeholder="ESXi host"
            data={d.hosts}
            value={host}
            onChange={setHost}
            searchable
            w={300}
            aria-label="ESXi host"
          />
          <Button onClick={map} loading={busy} disabled={!host}>
            Set manual mapping
          </Button>
        </Group>
      ) : null}
      <Text size="xs" c="dimmed">
        A manual mapping wins over every automatic one and survives resyncs.
      </Text>
    </Stack>
  );
}
