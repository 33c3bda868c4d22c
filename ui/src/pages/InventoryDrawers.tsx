// The detail drawers of the inventory: one VM (`vm_detail`) or one host (`host_detail`).
import { Badge, Divider, Group, Progress, Skeleton, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import type { MappingInfo } from "../api/bindings.gen";
import { api } from "../api/client";
import { ErrorAlert, Evidence, Facts, StatusBadge } from "../components/common";
import { ago, confidenceWord, memory, percent, words } from "../lib/format";
import { usePageModel } from "../lib/usePageModel";

function Confidence(props: { value: number }) {
  const color = props.value >= 0.85 ? "green" : props.value >= 0.6 ? "yellow" : "red";
  return (
    <Tooltip label={`${percent(props.value)} (${confidenceWord(props.value)})`}>
      <Group gap={6} wrap="nowrap">
        <Progress value={props.value * 100} color={color} w={70} size="sm" />
        <Text size="xs">{percent(props.value)}</Text>
      </Group>
    </Tooltip>
  );
}

export function MappingCard(props: { m: MappingInfo }) {
  const m = props.m;
  return (
    <Stack gap={6} data-testid="mapping">
      <Group gap="xs">
        <Text fw={600}>{m.service_tag ?? m.idrac ?? "server"}</Text>
        <Text c="dimmed">↔</Text>
        <Text fw={600}>{m.esxi_host}</Text>
        <StatusBadge value={m.status} />
        {m.verified && (
          <Badge color="green" variant="outline" size="sm">
            verified
          </Badge>
        )}
      </Group>
      <Group gap="md">
        <Text size="sm">Method: {words(m.method)}</Text>
        <Confidence value={m.confidence} />
      </Group>
      <Evidence value={m.evidence} />
    </Stack>
  );
}

export function VmDetailView(props: { id: string }) {
  const page = usePageModel(() => api.vm_detail({ id: props.id }), [props.id], ["inventory"]);
  if (page.error) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const vm = page.data;
  if (!vm) return <Skeleton height={300} />;
  return (
    <Stack data-testid="vm-detail">
      <Group gap="xs">
        <Title order={3}>{vm.name}</Title>
        <StatusBadge value={vm.power_state} />
        {vm.has_snapshot && <Badge color="yellow">{vm.snapshot_count} snapshot(s)</Badge>}
      </Group>
      <Facts
        rows={[
          ["Guest OS", vm.guest_os],
          ["Guest hostname", vm.guest_hostname],
          ["vCPU / memory", `${vm.vcpu ?? "–"} / ${memory(vm.memory_mb)}`],
          ["VMware Tools", <StatusBadge key="t" value={vm.tools_status} />],
          ["Runs on", vm.host ? `${vm.host} (${vm.cluster ?? "no cluster"})` : "–"],
          ["Site / vCenter", `${vm.site ?? "no site"} / ${vm.vcenter}`],
          ["Folder", vm.folder_path],
          ["Moid / UUID", <span key="m" className="mono">{`${vm.moid} / ${vm.uuid ?? "–"}`}</span>],
          ["Last sync", ago(vm.last_sync)],
        ]}
      />
      <Divider label="IP addresses" labelPosition="left" />
      {vm.ips.length === 0 ? (
        <Text size="sm" c="dimmed">
          The guest reports no address (VMware Tools not running, or no network).
        </Text>
      ) : (
        <Table data-testid="vm-ips">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Address</Table.Th>
              <Table.Th>MAC</Table.Th>
              <Table.Th>Confidence</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {vm.ips.map((ip) => (
              <Table.Tr key={ip.ip}>
                <Table.Td className="mono">{ip.ip}</Table.Td>
                <Table.Td className="mono">{ip.mac ?? "–"}</Table.Td>
                <Table.Td>
                  <Confidence value={ip.confidence} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Divider label="Network adapters" labelPosition="left" />
      <Table data-testid="vm-nics">
        <Table.Tbody>
          {vm.nics.map((n) => (
            <Table.Tr key={n.mac}>
              <Table.Td>{n.label}</Table.Td>
              <Table.Td className="mono">{n.mac}</Table.Td>
              <Table.Td>{n.network ?? "–"}</Table.Td>
              <Table.Td>
                <StatusBadge value={n.connected ? "connected" : "disconnected"} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Divider label="Tags and custom attributes" labelPosition="left" />
      <Group gap={4}>
        {vm.tags.length === 0 ? <Text size="sm" c="dimmed">No tags.</Text> : vm.tags.map((t) => <Badge key={t} variant="outline">{t}</Badge>)}
      </Group>
      {vm.custom_attributes.length > 0 && <Facts rows={vm.custom_attributes.map((a) => [a.name, a.value])} />}
      {vm.notes && (
        <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
          {vm.notes}
        </Text>
      )}
      <Divider label="Physical server" labelPosition="left" />
      {vm.host_mapping ? (
        <MappingCard m={vm.host_mapping} />
      ) : (
        <Text size="sm" c="dimmed">
          Its host isn't mapped to a Dell server yet: sync the iDRACs, or map it by hand on the Dell servers page.
        </Text>
      )}
    </Stack>
  );
}

export function HostDetailView(props: { id: string }) {
  const page = usePageModel(() => api.host_detail({ id: props.id }), [props.id], ["inventory"]);
  if (page.error) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const h = page.data;
  if (!h) return <Skeleton height={300} />;
  return (
    <Stack data-testid="host-detail">
      <Group gap="xs">
        <Title order={3}>{h.name}</Title>
        <StatusBadge value={h.connection_state} />
        {h.in_maintenance_mode && <Badge color="yellow">maintenance mode</Badge>}
      </Group>
      <Facts
        rows={[
          ["Model", `${h.vendor ?? ""} ${h.model ?? ""}`.trim() || "–"],
          ["Service tag / serial", `${h.service_tag ?? "–"} / ${h.serial_number ?? "–"}`],
          ["ESXi", `${h.esxi_version ?? "–"} (build ${h.esxi_build ?? "–"})`],
          ["CPU", `${h.cpu_model ?? "–"} · ${h.cpu_cores ?? "–"} cores`],
          ["Memory", memory(h.memory_mb)],
          ["Management IPs", h.management_ips.join(", ") || "–"],
          ["Cluster / site", `${h.cluster ?? "–"} / ${h.site ?? "no site"}`],
          ["Last sync", ago(h.last_sync)],
        ]}
      />
      <Divider label="Mapping to a physical server" labelPosition="left" />
      {h.mappings.length === 0 ? (
        <Text size="sm" c="dimmed">No candidate server: sync the iDRACs, or map it by hand on the Dell servers page.</Text>
      ) : (
        h.mappings.map((m) => <MappingCard key={`${m.server_id}`} m={m} />)
      )}
      <Divider label={`VMs (${h.vms.length})`} labelPosition="left" />
      <Group gap={4}>
        {h.vms.map((v) => (
          <Badge key={v.id} variant="light" color={v.power_state === "powered_on" ? "green" : "gray"}>
            {v.name}
          </Badge>
        ))}
      </Group>
    </Stack>
  );
}
