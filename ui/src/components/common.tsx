// Small pieces every page uses: the backend's error as a sentence, empty states that say
// what to do next, status badges, page headers.
import { Alert, Badge, Button, Group, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconAlertTriangle, IconInbox } from "@tabler/icons-react";
import type { ReactNode } from "react";
import type { ApiError } from "../api/bindings.gen";
import { statusColor, words } from "../lib/format";

export function ErrorAlert(props: { error: ApiError; title?: string; onRetry?: () => void }) {
  return (
    <Alert
      color="red"
      variant="light"
      icon={<IconAlertTriangle size={18} />}
      title={props.title ?? "That didn't work"}
      role="alert"
      data-testid="error"
      data-code={props.error.code}
    >
      <Stack gap="xs">
        <Text size="sm">{props.error.message}</Text>
        {props.onRetry && (
          <Group>
            <Button size="xs" variant="light" color="red" onClick={props.onRetry}>
              Try again
            </Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}

export function EmptyState(props: { title: string; children?: ReactNode; icon?: ReactNode; action?: ReactNode; testId?: string }) {
  return (
    <Stack align="center" gap="xs" py="xl" data-testid={props.testId ?? "empty"}>
      <ThemeIcon size={48} radius="xl" variant="light" color="gray">
        {props.icon ?? <IconInbox size={26} />}
      </ThemeIcon>
      <Text fw={600}>{props.title}</Text>
      {props.children && (
        <Text size="sm" c="dimmed" ta="center" maw={520}>
          {props.children}
        </Text>
      )}
      {props.action}
    </Stack>
  );
}

export function StatusBadge(props: { value: string | null | undefined; label?: string }) {
  return (
    <Badge color={statusColor(props.value)} variant="light" radius="sm" data-status={props.value ?? ""}>
      {props.label ?? words(props.value)}
    </Badge>
  );
}

export function PageHeader(props: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-end" wrap="nowrap" mb="md">
      <div>
        <Title order={2}>{props.title}</Title>
        {props.description && (
          <Text size="sm" c="dimmed">
            {props.description}
          </Text>
        )}
      </div>
      {props.actions && <Group gap="xs">{props.actions}</Group>}
    </Group>
  );
}

/** Label/value rows for a detail drawer. */
export function Facts(props: { rows: [string, ReactNode][] }) {
  return (
    <Stack gap={6}>
      {props.rows.map(([k, v]) => (
        <Group key={k} gap="md" wrap="nowrap" align="flex-start">
          <Text size="sm" c="dimmed" w={150} style={{ flexShrink: 0 }}>
            {k}
          </Text>
          <Text size="sm" component="div" style={{ wordBreak: "break-word" }}>
            {v ?? "–"}
          </Text>
        </Group>
      ))}
    </Stack>
  );
}

/** Evidence (a JSON object) as readable lines. */
export function Evidence(props: { value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined || (typeof v === "object" && Object.keys(v as object).length === 0)) {
    return <Text size="sm" c="dimmed">No evidence recorded.</Text>;
  }
  if (typeof v !== "object" || Array.isArray(v)) {
    return <Text size="sm" ff="monospace">{JSON.stringify(v)}</Text>;
  }
  return (
    <Facts
      rows={Object.entries(v as Record<string, unknown>).map(([k, x]) => [
        words(k),
        typeof x === "string" ? x : JSON.stringify(x),
      ])}
    />
  );
}
