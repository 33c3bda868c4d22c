// The detail drawers of the inventory: one VM (`vm_detail`) or one host (`host_detail`),
// with where site inference placed it and every opinion with its evidence
// (`site_placement`); operators pin it to a site by hand (`site_pin`, a pin wins) or hand
// it back to inference (`site_unpin`). The servers' drawer shows the same card.
import { Badge, Button, Divider, Group, Progress, Select, Skeleton, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import type { MappingInfo } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { ErrorAlert, Evidence, Facts, StatusBadge } from "../components/common";
import { ago, confidenceWord, memory, percent, words } from "../lib/format";
import { useMay } from "../lib/me";
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

/** Where inference placed this object, every opinion, and a pin (operators). */
export function SitePlacementCard(props: { kind: "vm" | "host" | "server"; id: string; onChanged: () => void }) {
  const placement = usePageModel(() => api.site_placement({ kind: props.kind, id: props.id }), [props.kind, props.id], ["inventory"]);
  const sites = usePageModel(() => api.sites(), [], []);
  const may = useMay();
  const [site, setSite] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  if (placement.error) return <ErrorAlert error={placement.error} onRetry={placement.reload} />;
  const p = placement.data;
  if (!p) return <Skeleton height={60} />;
  const pinned = p.winner?.method === "manual";
  const act = async (pin: boolean) => {
    setBusy(true);
    try {
      if (pin) {
        if (!site) return;
        await api.site_pin({ kind: props.kind, id: props.id, site, note: note.trim() || null });
      } else {
        await api.site_unpin({ kind: props.kind, id: props.id });
      }
      notifications.show({ color: "green", message: pin ? `Pinned to ${site}.` : "Unpinned: inference places it again." });
      placement.reload();
      props.onChanged();
    } catch (e) {
      notifications.show({ color: "red", title: pin ? "Not pinned" : "Not unpinned", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap={6} data-testid="site-placement">
      <Text size="sm">
        {p.winner
          ? `At ${p.winner.site}: ${pinned ? "pinned by hand" : `by ${words(p.winner.method)}`} (${percent(p.winner.confidence)})${p.conflict ? "; the opinions disagree" : ""}.`
          : `No opinion places it yet: its ${props.kind === "server" ? "iDRAC's or OpenManage's" : "vCenter's"} site applies.`}
      </Text>
      {p.inferences.map((i, n) => (
        <Text size="xs" c="dimmed" key={n} data-testid="site-opinion">
          {`${i.site} by ${words(i.method)} (${percent(i.confidence)}): ${i.because}`}
        </Text>
      ))}
      {may.plan_ipam && (
        <Group gap="xs" align="flex-end">
          <Select size="xs" label="Pin to a site" placeholder="Site" data={(sites.data ?? []).map((s) => s.code)} value={site} onChange={setSite} searchable w={150} data-testid="pin-site" />
          <TextInput size="xs" label="Why (optional)" value={note} onChange={(e) => setNote(e.currentTarget.value)} w={200} />
          <Button size="xs" variant="light" disabled={!site} loading={busy} onClick={() => act(true)} data-testid="pin-save">
            Pin
          </Button>
          {pinned && (
            <Button size="xs" variant="subtle" loading={busy} onClick={() => act(false)} data-testid="pin-remove">
              Unpin
            </Button>
          )}
        </Group>
      )}
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
      <Divider label="Site" labelPosition="left" />
      <SitePlacementCard key={vm.id} kind="vm" id={vm.id} onChanged={page.reload} />
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
      <Divider label="Site" labelPosition="left" />
      <SitePlacementCard key={h.id} kind="host" id={h.id} onChanged={page.reload} />
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
