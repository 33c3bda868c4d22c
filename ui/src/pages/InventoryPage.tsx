// Inventory: VMs and ESXi hosts in a virtualized table. The table asks the backend for
// the window it scrolls to (`inventory_page` with offset/limit), so 100k rows never
// travel at once; search is fuzzy and server-side, as you type; filters come from the
// page model's facets. A row opens its detail drawer.
import { Badge, Drawer, Group, SegmentedControl, Select, Stack, Text, TextInput } from "@mantine/core";
import { useDebouncedValue, useHotkeys } from "@mantine/hooks";
import { IconSearch } from "@tabler/icons-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Count, HostListRow, InventoryFacets, InventoryKind, InventoryQuery, VmListRow } from "../api/bindings.gen";
import { api } from "../api/client";
import { EmptyState, ErrorAlert, PageHeader, StatusBadge } from "../components/common";
import { VirtualTable, type Column } from "../components/VirtualTable";
import { memory } from "../lib/format";
import { useWindowedRows, type Windowed } from "../lib/useWindowedRows";
import { HostDetailView, VmDetailView } from "./InventoryDrawers";

type Filters = { q: string; site: string | null; cluster: string | null; power: string | null; tools: string | null; tag: string | null };
const NO_FILTERS: Filters = { q: "", site: null, cluster: null, power: null, tools: null, tag: null };

/** Rows of `kind` matching `filters`, fetched a window at a time as the table scrolls. */
function useInventoryRows<T>(kind: InventoryKind, filters: Filters) {
  const fetchWindow = useCallback(
    (offset: number, limit: number): Promise<Windowed<T, InventoryFacets>> => {
      const query: InventoryQuery = {
        kind,
        q: filters.q || null,
        site: filters.site,
        cluster: filters.cluster,
        power: filters.power,
        tools: kind === "vms" ? filters.tools : null,
        tag: filters.tag,
        offset,
        limit,
      };
      return api
        .inventory_page(query)
        .then((page) => ({ rows: (kind === "vms" ? page.vms : page.hosts) as T[], total: page.total, facets: page.facets }));
    },
    [kind, filters],
  );
  return useWindowedRows(fetchWindow, ["inventory"]);
}

function options(list: Count[] | undefined) {
  return (list ?? []).map((c) => ({ value: c.value, label: `${c.value} (${c.count.toLocaleString()})` }));
}

export function InventoryPage() {
  const [kind, setKind] = useState<InventoryKind>("vms");
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 200);
  const [open, setOpen] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  useHotkeys([["/", () => searchRef.current?.focus()]]);
  useEffect(() => setFilters((f) => (f.q === debounced ? f : { ...f, q: debounced })), [debounced]);
  const set = (k: keyof Filters) => (v: string | null) => setFilters((f) => ({ ...f, [k]: v }));

  const vms = useInventoryRows<VmListRow>("vms", kind === "vms" ? filters : NO_FILTERS);
  const hosts = useInventoryRows<HostListRow>("hosts", kind === "hosts" ? filters : NO_FILTERS);
  const current = kind === "vms" ? vms : hosts;
  const facets = current.facets;

  const vmColumns = useMemo<Column<VmListRow>[]>(
    () => [
      { key: "name", header: "Name", width: "minmax(180px, 2fr)", render: (r) => <Text size="sm" fw={500} truncate>{r.name}</Text> },
      { key: "power", header: "Power", width: "110px", render: (r) => <StatusBadge value={r.power_state} /> },
      { key: "ip", header: "IP", width: "130px", render: (r) => <span className="mono">{r.ip ?? "–"}</span> },
      { key: "os", header: "Guest OS", width: "minmax(120px, 1.4fr)", render: (r) => r.guest_os ?? "–" },
      { key: "cpu", header: "vCPU / RAM", width: "110px", render: (r) => `${r.vcpu ?? "–"} / ${memory(r.memory_mb)}` },
      { key: "cluster", header: "Cluster", width: "minmax(100px, 1fr)", render: (r) => r.cluster ?? "–" },
      { key: "site", header: "Site", width: "110px", render: (r) => r.site ?? "–" },
      { key: "host", header: "Host", width: "minmax(120px, 1fr)", render: (r) => r.host ?? "–" },
      { key: "tools", header: "Tools", width: "110px", render: (r) => <StatusBadge value={r.tools_status} /> },
      {
        key: "tags",
        header: "Tags",
        width: "minmax(100px, 1fr)",
        render: (r) => (
          <Group gap={4} wrap="nowrap">
            {r.tags.slice(0, 2).map((t) => (
              <Badge key={t} size="xs" variant="outline">
                {t}
              </Badge>
            ))}
            {r.tags.length > 2 && <Text size="xs">+{r.tags.length - 2}</Text>}
          </Group>
        ),
      },
    ],
    [],
  );
  const hostColumns = useMemo<Column<HostListRow>[]>(
    () => [
      { key: "name", header: "Name", width: "minmax(180px, 2fr)", render: (r) => <Text size="sm" fw={500} truncate>{r.name}</Text> },
      { key: "state", header: "State", width: "130px", render: (r) => <StatusBadge value={r.in_maintenance_mode ? "paused" : r.connection_state} label={r.in_maintenance_mode ? "Maintenance" : undefined} /> },
      { key: "power", header: "Power", width: "110px", render: (r) => <StatusBadge value={r.power_state} /> },
      { key: "version", header: "ESXi", width: "100px", render: (r) => r.esxi_version ?? "–" },
      { key: "cluster", header: "Cluster", width: "minmax(100px, 1fr)", render: (r) => r.cluster ?? "–" },
      { key: "site", header: "Site", width: "110px", render: (r) => r.site ?? "–" },
      { key: "vms", header: "VMs", width: "70px", render: (r) => r.vms },
      { key: "server", header: "Server", width: "minmax(100px, 1fr)", render: (r) => r.server ?? <Text size="sm" c="dimmed">not mapped</Text> },
      { key: "model", header: "Model", width: "minmax(100px, 1fr)", render: (r) => r.model ?? "–" },
    ],
    [],
  );

  const anyFilter = Object.values(filters).some((v) => v);
  const empty =
    current.total === 0 ? (
      anyFilter ? (
        <EmptyState title="Nothing matches" testId="inventory-no-match">
          Try fewer words or clear a filter. Search matches names, guest hostnames, exact IP addresses and tags.
        </EmptyState>
      ) : (
        <EmptyState title={kind === "vms" ? "No VMs yet" : "No ESXi hosts yet"} testId="inventory-empty">
          Add a vCenter under Settings → Sources and sync it; its {kind === "vms" ? "VMs" : "hosts"} appear here.
        </EmptyState>
      )
    ) : null;

  return (
    <Stack gap="sm" data-testid="inventory">
      <PageHeader
        title="Inventory"
        description="What vCenter reports, as of the last sync. Press / to search; ↑↓ and Enter in the table."
        actions={
          <SegmentedControl
            value={kind}
            onChange={(v) => {
              // VMs and hosts have power states of their own (and only VMs have Tools):
              // a state picked on one tab is not a filter on the other.
              setFilters((f) => ({ ...f, power: null, tools: null }));
              setKind(v as InventoryKind);
            }}
            data={[
              { value: "vms", label: "VMs" },
              { value: "hosts", label: "Hosts" },
            ]}
            data-testid="inventory-kind"
          />
        }
      />
      <Group gap="xs" align="flex-end">
        <TextInput
          ref={searchRef}
          placeholder="Search names, hostnames, IPs, tags"
          leftSection={<IconSearch size={16} />}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={320}
          aria-label="Search"
          data-testid="inventory-search"
        />
        <Select placeholder="Site" data={options(facets?.sites)} value={filters.site} onChange={set("site")} clearable searchable w={150} aria-label="Site" data-testid="filter-site" />
        <Select placeholder="Cluster" data={options(facets?.clusters)} value={filters.cluster} onChange={set("cluster")} clearable searchable w={170} aria-label="Cluster" />
        <Select placeholder="Power" data={options(facets?.power)} value={filters.power} onChange={set("power")} clearable w={160} aria-label="Power" data-testid="filter-power" />
        {kind === "vms" && (
          <Select placeholder="Tools" data={options(facets?.tools)} value={filters.tools} onChange={set("tools")} clearable w={160} aria-label="Tools" />
        )}
        <Select placeholder="Tag" data={options(facets?.tags)} value={filters.tag} onChange={set("tag")} clearable searchable w={150} aria-label="Tag" />
        <Text size="sm" c="dimmed" data-testid="inventory-total">
          {current.total === null ? "" : `${current.total.toLocaleString()} ${kind === "vms" ? "VMs" : "hosts"}`}
        </Text>
      </Group>
      {current.error && <ErrorAlert error={current.error} onRetry={current.reload} />}
      {empty ??
        (kind === "vms" ? (
          <VirtualTable<VmListRow>
            label="Virtual machines"
            testId="vm-table"
            columns={vmColumns}
            count={vms.total ?? 0}
            row={vms.row}
            rowKey={(r) => r.id}
            onRange={vms.onRange}
            onOpen={(r) => setOpen(`vm:${r.id}`)}
          />
        ) : (
          <VirtualTable<HostListRow>
            label="ESXi hosts"
            testId="host-table"
            columns={hostColumns}
            count={hosts.total ?? 0}
            row={hosts.row}
            rowKey={(r) => r.id}
            onRange={hosts.onRange}
            onOpen={(r) => setOpen(`host:${r.id}`)}
          />
        ))}
      <Drawer
        opened={open !== null}
        onClose={() => setOpen(null)}
        position="right"
        size="xl"
        title={open?.startsWith("vm:") ? "Virtual machine" : "ESXi host"}
        data-testid="inventory-drawer"
      >
        {open?.startsWith("vm:") && <VmDetailView id={open.slice(3)} />}
        {open?.startsWith("host:") && <HostDetailView id={open.slice(5)} />}
      </Drawer>
    </Stack>
  );
}
