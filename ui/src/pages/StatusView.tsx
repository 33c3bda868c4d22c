// The status page: the `status` model (connection, schema, row counts) from one call.
import { Alert, Button, Card, Group, SimpleGrid, Skeleton, Stack, Table, Text } from "@mantine/core";
import { api } from "../api/client";
import { ErrorAlert, PageHeader } from "../components/common";
import { usePageModel } from "../lib/usePageModel";

export function StatusView() {
  const page = usePageModel(() => api.status(), []);
  if (page.error && !page.data) return <ErrorAlert error={page.error} title="Can't show the status" onRetry={page.reload} />;
  if (!page.data) return <Skeleton height={300} data-testid="status-loading" />;
  const p = page.data;
  const c = p.connection;
  const rows = Object.entries(p.tables);
  const total = rows.reduce((n, [, v]) => n + v, 0);
  return (
    <Stack data-testid="status-page">
      <PageHeader title="Status" actions={<Button variant="default" onClick={page.reload}>Refresh</Button>} />
      {p.warnings.map((w) => (
        <Alert key={w} color="yellow">
          {w}
        </Alert>
      ))}
      <SimpleGrid cols={{ base: 2, md: 5 }}>
        <Tile label="Database" value={c.mode === "embedded" ? "Embedded" : "Shared"} detail={c.target} />
        <Tile label="Signed in as" value={c.user?.email ?? c.login} detail={c.user ? `${c.user.role} · login ${c.login}` : c.roles.join(", ") || "no EIO role"} />
        <Tile
          label="Schema"
          value={p.schema.applied_version === null ? "none" : `v${p.schema.applied_version}`}
          detail={p.schema.up_to_date ? "up to date" : `${p.schema.pending.length} migration(s) pending`}
          testId="schema-version"
        />
        <Tile label="Pending approvals" value={p.pending_approvals === null ? "–" : String(p.pending_approvals)} testId="pending-approvals" />
        <Tile label="Kill switch" value={p.kill_switch?.engaged ? "ENGAGED" : "off"} detail={p.kill_switch?.reason ?? undefined} />
      </SimpleGrid>
      <Card withBorder>
        <Text fw={600} mb="xs">
          Rows per table ({total.toLocaleString()} in all)
        </Text>
        <Table data-testid="table-counts" striped>
          <Table.Tbody>
            {rows.map(([name, n]) => (
              <Table.Tr key={name}>
                <Table.Td>{name}</Table.Td>
                <Table.Td ta="right">{n.toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Text size="xs" c="dimmed" mt="xs">
          PostgreSQL {c.server_version} · database {c.database}
        </Text>
      </Card>
    </Stack>
  );
}

function Tile(props: { label: string; value: string; detail?: string; testId?: string }) {
  return (
    <Card withBorder padding="sm" data-testid={props.testId}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {props.label}
      </Text>
      <Text fw={700} size="lg" truncate>
        {props.value}
      </Text>
      {props.detail && (
        <Group>
          <Text size="xs" c="dimmed" lineClamp={2}>
            {props.detail}
          </Text>
        </Group>
      )}
    </Card>
  );
}
