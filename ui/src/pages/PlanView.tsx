// A job's dry-run plan, as the approver reads it: the summary, what the inventory predicts
// will block it (first, never collapsed), the hosts in order with the VMs that move, power targets, firmware from → to, what the policy forbids, what
// refuses the job, and notes.
import { Alert, Badge, Collapse, Group, List, Stack, Table, Text, UnstyledButton } from "@mantine/core";
import { IconAlertTriangle, IconBan, IconChevronDown, IconChevronRight, IconInfoCircle } from "@tabler/icons-react";
import { useState } from "react";
import type { Plan, PredictedBlocker } from "../api/bindings.gen";

/** The predicted blockers, by host in the plan's order. */
function PredictedBlockers(props: { blockers: PredictedBlocker[] }) {
  const hosts = [...new Set(props.blockers.map((b) => b.host))];
  return (
    <Alert color="orange" icon={<IconAlertTriangle size={18} />} title={`Predicted blockers (${props.blockers.length})`} data-testid="plan-blockers">
      <Text size="sm" mb="xs">
        From the last sync, these will keep DRS from emptying a host: the job will pause there and ask. Approving needs them acknowledged.
      </Text>
      {hosts.map((h) => (
        <Stack key={h} gap={2} mb="xs">
          <Text size="sm" fw={500}>
            Emptying {h}
          </Text>
          <Table>
            <Table.Tbody>
              {props.blockers
                .filter((b) => b.host === h)
                .map((b) => (
                  <Table.Tr key={`${b.vm_moid ?? "cluster"}/${b.reason_code}`} data-testid="plan-blocker" data-vm={b.vm_moid ?? ""} data-reason={b.reason_code}>
                    <Table.Td>{b.vm_name ?? "the cluster"}</Table.Td>
                    <Table.Td>{b.reason}</Table.Td>
                    <Table.Td className="mono">{b.evidence ?? ""}</Table.Td>
                  </Table.Tr>
                ))}
            </Table.Tbody>
          </Table>
        </Stack>
      ))}
    </Alert>
  );
}

export function PlanView(props: { plan: Plan; compact?: boolean }) {
  const p = props.plan;
  const [open, setOpen] = useState(!props.compact);
  const hasDetail = p.hosts.length + p.vms.length + p.servers.length + p.firmware.length > 0;
  return (
    <Stack gap="xs" data-testid="plan">
      <Text fw={500} data-testid="plan-summary">
        {p.summary}
      </Text>
      {p.blockers.length > 0 && <PredictedBlockers blockers={p.blockers} />}
      {p.refusals.length > 0 && (
        <Alert color="red" icon={<IconBan size={18} />} title="This job can't run" data-testid="plan-refusals">
          <List size="sm">
            {p.refusals.map((r) => (
              <List.Item key={r}>{r}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      {p.forbidden.length > 0 && (
        <Alert color="yellow" icon={<IconAlertTriangle size={18} />} title="The policy forbids" data-testid="plan-forbidden">
          <List size="sm">
            {p.forbidden.map((r) => (
              <List.Item key={r}>{r}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      {p.notes.length > 0 && (
        <Alert color="blue" icon={<IconInfoCircle size={18} />} variant="light">
          <List size="sm">
            {p.notes.map((r) => (
              <List.Item key={r}>{r}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      {hasDetail && (
        <UnstyledButton onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          <Group gap={4}>
            {open ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
            <Text size="sm" c="dimmed">
              {p.hosts.length} host(s), {p.vms.length} VM action(s), {p.servers.length} server(s), {p.firmware.length} firmware update(s)
            </Text>
          </Group>
        </UnstyledButton>
      )}
      <Collapse in={open && hasDetail}>
        <Stack gap="xs">
          {p.hosts.length > 0 && (
            <Table data-testid="plan-hosts">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th>
                  <Table.Th>Host</Table.Th>
                  <Table.Th>Cluster</Table.Th>
                  <Table.Th>VMs to move</Table.Th>
                  <Table.Th>Server</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {p.hosts.map((h) => (
                  <Table.Tr key={h.moid}>
                    <Table.Td>{h.order}</Table.Td>
                    <Table.Td>
                      {h.name} {h.in_maintenance_mode && <Badge size="xs">in maintenance</Badge>}
                    </Table.Td>
                    <Table.Td>{h.cluster ?? "–"}</Table.Td>
                    <Table.Td>{h.vms_to_move.length}</Table.Td>
                    <Table.Td>{h.server ?? "–"}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {p.vms.length > 0 && (
            <Table>
              <Table.Tbody>
                {p.vms.map((v) => (
                  <Table.Tr key={v.moid}>
                    <Table.Td>{v.name}</Table.Td>
                    <Table.Td>{v.host ?? "–"}</Table.Td>
                    <Table.Td>{v.action}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {p.servers.length > 0 && (
            <Table>
              <Table.Tbody>
                {p.servers.map((s) => (
                  <Table.Tr key={`${s.service_tag}${s.idrac}`}>
                    <Table.Td>{s.service_tag ?? s.idrac}</Table.Td>
                    <Table.Td>{s.esxi_host ?? "–"}</Table.Td>
                    <Table.Td>{s.action}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {p.firmware.length > 0 && (
            <Table data-testid="plan-firmware">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Host</Table.Th>
                  <Table.Th>Component</Table.Th>
                  <Table.Th>From</Table.Th>
                  <Table.Th>To</Table.Th>
                  <Table.Th>Package</Table.Th>
                  <Table.Th>Restart</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {p.firmware.map((f) => (
                  <Table.Tr key={`${f.host}/${f.fqdd}`}>
                    <Table.Td>{f.host}</Table.Td>
                    <Table.Td>
                      {f.name} <span className="mono">{f.fqdd}</span>
                    </Table.Td>
                    <Table.Td className="mono">{f.from}</Table.Td>
                    <Table.Td className="mono">{f.to}</Table.Td>
                    <Table.Td className="mono" fz="xs" style={{ wordBreak: "break-all" }}>
                      {f.package ?? "—"}
                    </Table.Td>
                    <Table.Td>{f.restart ? "the host's one restart" : "applies at once"}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      </Collapse>
    </Stack>
  );
}
