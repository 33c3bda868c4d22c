// Reports: definitions (`report_define`), their schedules, "run now" (`report_run`, a
// definition or one type in one format), and the history of executions with their files.
// In the desktop a file (or its folder) opens with the system's application (`open_report`)
// or is saved where the operator chooses (`save_report`, a Save as… dialog); in a browser
// each file downloads from `eio serve` (`/api/report-files/{execution}/{n}`, the same rule
// as the desktop's opener) when it ran there.
import {
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Drawer,
  Group,
  MultiSelect,
  Select,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconDeviceFloppy, IconDownload, IconFileReport, IconFolderOpen, IconPlayerPlay, IconPlus } from "@tabler/icons-react";
import { useState } from "react";
import type {
  NewDefinition,
  ReportDefinition,
  ReportExecution,
  ReportFormat,
  ReportType,
  ReportTypeInfo,
  ReportsPage as ReportsModel,
} from "../api/bindings.gen";
import { api, desktop, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, PageHeader, StatusBadge } from "../components/common";
import { ago, dateTime, words } from "../lib/format";
import { useMay } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";

/** A file size in words: 512 B, 4.2 KiB, 12.5 MiB. */
export function sizeText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "–";
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** Filters as typed in a form: blank values are "not filtered", keys and values trimmed. */
export function cleanFilters(values: Record<string, string | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    const value = (v ?? "").trim();
    if (k.trim() && value) out[k.trim()] = value;
  }
  return out;
}

/** `k=v k=v` for a table cell. */
export function filtersText(filters: Record<string, string | undefined>): string {
  const parts = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(" ") : "–";
}

/** What a definition's form submits; the schedule and folder are null when blank. */
export function definitionInput(form: DefinitionForm): NewDefinition {
  return {
    name: form.name.trim(),
    type: form.type,
    formats: form.formats,
    schedule: form.schedule.trim() || null,
    filters: cleanFilters(form.filters),
    output_dir: form.output_dir.trim() || null,
    enabled: form.enabled,
  };
}

/** A form from an existing definition (editing), or a blank one. */
export function definitionForm(d?: ReportDefinition): DefinitionForm {
  return {
    name: d?.name ?? "",
    type: d?.type ?? "inventory_summary",
    formats: d?.formats ?? ["xlsx"],
    schedule: d?.schedule ?? "",
    filters: { ...(d?.filters ?? {}) } as Record<string, string>,
    output_dir: d?.output_dir ?? "",
    enabled: d?.enabled ?? true,
  };
}

export type DefinitionForm = {
  name: string;
  type: ReportType;
  formats: ReportFormat[];
  schedule: string;
  filters: Record<string, string>;
  output_dir: string;
  enabled: boolean;
};

function typeTitle(m: ReportsModel, t: ReportType): string {
  return m.types.find((x) => x.type === t)?.title ?? words(t);
}

/** Inputs for a report type's filters (plus `sheet` for multi-sheet reports). */
function FilterInputs(props: {
  info: ReportTypeInfo | undefined;
  values: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
}) {
  const { info, values, onChange } = props;
  if (!info) return null;
  const set = (k: string, v: string | null) => onChange({ ...values, [k]: v ?? "" });
  return (
    <>
      {info.filters.map((f) =>
        f.choices.length ? (
          <Select
            key={f.key}
            label={f.key}
            description={f.help}
            data={f.choices}
            value={values[f.key] || null}
            onChange={(v) => set(f.key, v)}
            clearable
          />
        ) : (
          <TextInput
            key={f.key}
            label={f.key}
            description={f.kind === "time" ? `${f.help} (2026-01-31 or RFC 3339)` : f.help}
            value={values[f.key] ?? ""}
            onChange={(e) => set(f.key, e.currentTarget.value)}
          />
        ),
      )}
      {info.sheets.length > 1 && (
        <MultiSelect
          label="sheet"
          description="Only these sheets (all when empty)"
          data={info.sheets}
          value={(values.sheet ?? "").split(",").filter(Boolean)}
          onChange={(v) => set("sheet", v.join(","))}
          clearable
        />
      )}
    </>
  );
}

function DefineDrawer(props: {
  model: ReportsModel;
  initial: DefinitionForm | null;
  onClose: () => void;
  onSaved: () => void;
}) {
  const [form, setForm] = useState<DefinitionForm>(props.initial ?? definitionForm());
  const [saving, setSaving] = useState(false);
  const info = props.model.types.find((t) => t.type === form.type);
  const save = async () => {
    setSaving(true);
    try {
      const d = await api.report_define(definitionInput(form));
      notifications.show({
        color: "green",
        title: `Report "${d.name}" saved`,
        message: d.next_run_at ? `Next run ${dateTime(d.next_run_at)} (${d.schedule_description ?? d.schedule})` : "On demand",
      });
      props.onSaved();
    } catch (e) {
      notifications.show({ color: "red", title: "Not saved", message: toApiError(e).message });
    } finally {
      setSaving(false);
    }
  };
  return (
    <Drawer opened={props.initial !== null} onClose={props.onClose} position="right" size="lg" title="Report definition">
      <Stack data-testid="report-define">
        <TextInput
          label="Name"
          description="Letters, digits, . _ -; also the start of each file's name"
          value={form.name}
          onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
          required
        />
        <Select
          label="Report"
          data={props.model.types.map((t) => ({ value: t.type, label: t.title }))}
          value={form.type}
          onChange={(v) => v && setForm({ ...form, type: v as ReportType, filters: {} })}
          allowDeselect={false}
        />
        {info && (
          <Text size="sm" c="dimmed">
            {info.description}
          </Text>
        )}
        <MultiSelect
          label="Formats"
          data={props.model.formats}
          value={form.formats}
          onChange={(v) => setForm({ ...form, formats: v as ReportFormat[] })}
          required
        />
        <TextInput
          label="Schedule"
          description='Cron in UTC, five fields ("0 6 * * 1" = Mondays 06:00) or @daily; blank = on demand'
          value={form.schedule}
          onChange={(e) => setForm({ ...form, schedule: e.currentTarget.value })}
        />
        <TextInput
          label="Output folder"
          description={`An absolute folder; blank = ${props.model.default_folder} on the machine that runs it`}
          value={form.output_dir}
          onChange={(e) => setForm({ ...form, output_dir: e.currentTarget.value })}
        />
        <Checkbox
          label="Enabled (scheduled runs happen)"
          checked={form.enabled}
          onChange={(e) => setForm({ ...form, enabled: e.currentTarget.checked })}
        />
        <Title order={5}>Filters</Title>
        <FilterInputs info={info} values={form.filters} onChange={(filters) => setForm({ ...form, filters })} />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Cancel
          </Button>
          <Button onClick={save} loading={saving} disabled={!form.name.trim() || !form.formats.length} data-testid="report-save">
            Save
          </Button>
        </Group>
      </Stack>
    </Drawer>
  );
}

/** Run one report type in one format now, into the default folder. */
function RunNowCard(props: { model: ReportsModel; onDone: () => void }) {
  const [type, setType] = useState<ReportType>("inventory_summary");
  const [format, setFormat] = useState<ReportFormat>("xlsx");
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [running, setRunning] = useState(false);
  const info = props.model.types.find((t) => t.type === type);
  const run = async () => {
    setRunning(true);
    try {
      const [e] = await api.report_run({ definition: null, type, format, filters: cleanFilters(filters) });
      notifications.show({
        color: "green",
        title: "Report written",
        message: `${e?.storage_path ?? ""} (${e?.row_count ?? 0} rows, ${sizeText(e?.size_bytes)})`,
      });
    } catch (e) {
      notifications.show({ color: "red", title: "Report failed", message: toApiError(e).message });
    } finally {
      setRunning(false);
      props.onDone();
    }
  };
  return (
    <Card withBorder data-testid="report-run-now">
      <Stack gap="xs">
        <Title order={4}>Run a report now</Title>
        <Group align="flex-end">
          <Select
            label="Report"
            data={props.model.types.map((t) => ({ value: t.type, label: t.title }))}
            value={type}
            onChange={(v) => {
              if (v) {
                setType(v as ReportType);
                setFilters({});
              }
            }}
            allowDeselect={false}
            w={260}
          />
          <Select
            label="Format"
            data={props.model.formats}
            value={format}
            onChange={(v) => v && setFormat(v as ReportFormat)}
            allowDeselect={false}
            w={120}
          />
          <Button leftSection={<IconPlayerPlay size={16} />} onClick={run} loading={running} data-testid="report-run">
            Run
          </Button>
        </Group>
        {info && (
          <Text size="sm" c="dimmed">
            {info.description}. Written to {props.model.default_folder}.
          </Text>
        )}
        <Group align="flex-start" grow>
          <FilterInputs info={info} values={filters} onChange={setFilters} />
        </Group>
      </Stack>
    </Card>
  );
}

/** Open, open the folder or save as… in the desktop; download in a browser. */
function FileCell(props: { e: ReportExecution }) {
  const { e } = props;
  if (e.status === "failed") {
    return (
      <Text size="sm" c="red" data-testid="report-error">
        {e.error}
      </Text>
    );
  }
  if (!e.storage_path) return <Text size="sm">–</Text>;
  const open = async (folder: boolean) => {
    try {
      await desktop?.open_report({ execution_id: e.id, folder, file: null });
    } catch (err) {
      notifications.show({ color: "red", title: "Cannot open", message: toApiError(err).message });
    }
  };
  const save = async (file: number) => {
    try {
      const saved = await desktop?.save_report({ execution_id: e.id, folder: false, file });
      if (saved?.path) notifications.show({ color: "green", title: "Report saved", message: saved.path });
    } catch (err) {
      notifications.show({ color: "red", title: "Cannot save", message: toApiError(err).message });
    }
  };
  const base = (p: string) => p.split(/[\\/]/).pop() ?? p;
  return (
    <Stack gap={2}>
      <Code data-testid="report-path">{e.files.length > 1 ? `${e.storage_path} (+${e.files.length - 1})` : e.storage_path}</Code>
      <Group gap={4} wrap="wrap">
        {desktop ? (
          <>
            <Tooltip label="Open the file">
              <Button size="compact-xs" variant="light" onClick={() => open(false)} leftSection={<IconFileReport size={14} />}>
                Open
              </Button>
            </Tooltip>
            <Tooltip label="Open the folder">
              <Button size="compact-xs" variant="subtle" onClick={() => open(true)} leftSection={<IconFolderOpen size={14} />}>
                Folder
              </Button>
            </Tooltip>
            {(e.files.length ? e.files : [e.storage_path]).map((f, i) => (
              <Tooltip key={f} label={`Save a copy of ${base(f)} where you choose`}>
                <Button size="compact-xs" variant="subtle" onClick={() => save(i)} leftSection={<IconDeviceFloppy size={14} />} data-testid="report-save">
                  {e.files.length > 1 ? `Save ${base(f)} as…` : "Save as…"}
                </Button>
              </Tooltip>
            ))}
          </>
        ) : (
          (e.files.length ? e.files : [e.storage_path]).map((f, i) => (
            <Button
              key={f}
              component="a"
              href={`/api/report-files/${encodeURIComponent(e.id)}/${i}`}
              download={base(f)}
              size="compact-xs"
              variant="light"
              leftSection={<IconDownload size={14} />}
              data-testid="report-download"
            >
              {e.files.length > 1 ? base(f) : "Download"}
            </Button>
          ))
        )}
      </Group>
    </Stack>
  );
}

export function ReportsPage() {
  const page = usePageModel(() => api.reports_page({}), [], ["job"]);
  const may = useMay();
  const [editing, setEditing] = useState<DefinitionForm | null>(null);
  const [running, setRunning] = useState<string | null>(null);

  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const m = page.data;
  if (!m) return <Skeleton height={400} />;

  const runDefinition = async (name: string) => {
    setRunning(name);
    try {
      const done = await api.report_run({ definition: name, type: null, format: null, filters: {} });
      notifications.show({
        color: "green",
        title: `Report "${name}" written`,
        message: done.map((e) => `${e.format}: ${sizeText(e.size_bytes)}`).join(", "),
      });
    } catch (e) {
      notifications.show({ color: "red", title: `Report "${name}" failed`, message: toApiError(e).message });
    } finally {
      setRunning(null);
      page.reload();
    }
  };

  return (
    <Stack data-testid="reports">
      <PageHeader
        title="Reports"
        description="Inventory, compliance, IPAM and job reports as HTML, CSV, JSON or XLSX files."
        actions={
          may.submit_jobs && (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing(definitionForm())} data-testid="report-new">
              New definition
            </Button>
          )
        }
      />
      {page.error && <ErrorAlert error={page.error} onRetry={page.reload} />}
      {may.submit_jobs && <RunNowCard model={m} onDone={page.reload} />}

      <Card withBorder>
        <Title order={4} mb="xs">
          Definitions
        </Title>
        {m.definitions.length === 0 ? (
          <EmptyState title="No report definitions yet" icon={<IconFileReport size={26} />} testId="reports-none">
            A definition names a report, its formats and filters, and optionally a cron schedule the job engine runs it
            on.
          </EmptyState>
        ) : (
          <Table striped highlightOnHover data-testid="report-definitions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Report</Table.Th>
                <Table.Th>Formats</Table.Th>
                <Table.Th>Filters</Table.Th>
                <Table.Th>Folder</Table.Th>
                <Table.Th>Last run</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {m.definitions.map((d) => (
                <Table.Tr key={d.id} data-testid={`report-definition-${d.name}`}>
                  <Table.Td>
                    <Text fw={600}>{d.name}</Text>
                    {d.created_by && (
                      <Text size="xs" c="dimmed">
                        {d.created_by}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{typeTitle(m, d.type)}</Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {d.formats.map((f) => (
                        <Badge key={f} variant="light" radius="sm">
                          {f}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{filtersText(d.filters)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{d.output_dir ?? m.default_folder}</Text>
                  </Table.Td>
                  <Table.Td>
                    {d.last_status ? <StatusBadge value={d.last_status} /> : "–"} {d.last_run_at && ago(d.last_run_at)}
                  </Table.Td>
                  <Table.Td>
                    {may.submit_jobs && (
                      <Group gap={4} wrap="nowrap">
                        <Button
                          size="compact-sm"
                          leftSection={<IconPlayerPlay size={14} />}
                          loading={running === d.name}
                          onClick={() => runDefinition(d.name)}
                          data-testid={`report-run-${d.name}`}
                        >
                          Run now
                        </Button>
                        <Button size="compact-sm" variant="default" onClick={() => setEditing(definitionForm(d))}>
                          Edit
                        </Button>
                      </Group>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <Card withBorder>
        <Title order={4} mb="xs">
          Schedules
        </Title>
        {m.schedules.length === 0 ? (
          <Text size="sm" c="dimmed" data-testid="report-schedules-none">
            No definition has a schedule: reports run only when asked.
          </Text>
        ) : (
          <Table data-testid="report-schedules">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Definition</Table.Th>
                <Table.Th>Schedule (UTC)</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Last result</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {m.schedules.map((s) => (
                <Table.Tr key={s.definition}>
                  <Table.Td>
                    {s.definition}{" "}
                    {!s.enabled && (
                      <Badge color="gray" variant="light" radius="sm">
                        disabled
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Code>{s.schedule}</Code>{" "}
                    <Text span size="sm" c="dimmed">
                      {s.description}
                    </Text>
                  </Table.Td>
                  <Table.Td>{s.enabled && s.next_run_at ? dateTime(s.next_run_at) : "–"}</Table.Td>
                  <Table.Td>
                    {s.last_status ? <StatusBadge value={s.last_status} /> : "–"} {s.last_run_at && ago(s.last_run_at)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <Card withBorder>
        <Title order={4} mb="xs">
          History
        </Title>
        {m.history.length === 0 ? (
          <Text size="sm" c="dimmed" data-testid="report-history-none">
            No report has run yet.
          </Text>
        ) : (
          <Table striped data-testid="report-history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>Report</Table.Th>
                <Table.Th>Format</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Rows</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th>By</Table.Th>
                <Table.Th>File</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {m.history.map((e) => (
                <Table.Tr key={e.id} data-testid="report-execution">
                  <Table.Td>
                    <Tooltip label={dateTime(e.started_at ?? e.created_at)}>
                      <Text size="sm">{ago(e.started_at ?? e.created_at)}</Text>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{e.definition ?? typeTitle(m, e.type)}</Text>
                    {e.definition && (
                      <Text size="xs" c="dimmed">
                        {typeTitle(m, e.type)}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{e.format}</Table.Td>
                  <Table.Td>
                    <StatusBadge value={e.status} />
                  </Table.Td>
                  <Table.Td>{e.row_count ?? "–"}</Table.Td>
                  <Table.Td>{sizeText(e.size_bytes)}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{e.requested_by ?? (e.job_id ? "schedule" : "–")}</Text>
                  </Table.Td>
                  <Table.Td>
                    <FileCell e={e} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {!desktop && m.history.length > 0 && (
          <Text size="xs" c="dimmed" mt="xs">
            Download fetches a file from this server; a report that ran on another machine (a desktop's worker) is kept
            there.
          </Text>
        )}
      </Card>

      {editing && (
        <DefineDrawer
          model={m}
          initial={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            page.reload();
          }}
        />
      )}
    </Stack>
  );
}
