// Jobs: the list, the approval queue (each with the plan being approved), the create
// wizard, and the kill switch — all from `jobs_page`, reloaded on live job events.
import {
  Badge,
  Button,
  Card,
  Checkbox,
  Group,
  Modal,
  SegmentedControl,
  Skeleton,
  Stack,
  Table,
  Tabs,
  Text,
  Textarea,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAlertOctagon, IconPlus } from "@tabler/icons-react";
import { useState } from "react";
import { useNavigate } from "react-router";
import type { ApprovalItem, JobsPage as Model, KillSwitch } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, PageHeader, StatusBadge } from "../components/common";
import { ago, words } from "../lib/format";
import { useMay, useMe } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";
import { JobWizard } from "./JobWizard";
import { PlanView } from "./PlanView";

export function JobsPage(props: { onChange?: () => void }) {
  const [status, setStatus] = useState<string>("all");
  const page = usePageModel(
    () => api.jobs_page({ status: status === "all" ? null : status, limit: 200 }),
    [status],
    ["job", "approval", "kill_switch"],
  );
  const [wizard, setWizard] = useState(false);
  const [tab, setTab] = useState<string | null>("jobs");
  const may = useMay();
  const navigate = useNavigate();
  const changed = () => {
    page.reload();
    props.onChange?.();
  };

  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const m = page.data;
  if (!m) return <Skeleton height={400} />;
  return (
    <Stack data-testid="jobs">
      <PageHeader
        title="Jobs"
        description="Maintenance, firmware, power and sync jobs: planned, approved by a second person, run by the workers."
        actions={
          <>
            <KillSwitchControl value={m.kill_switch} onChanged={changed} />
            {may.submit_jobs && (
              <Button leftSection={<IconPlus size={16} />} onClick={() => setWizard(true)} data-testid="new-job">
                New job
              </Button>
            )}
          </>
        }
      />
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="jobs" data-testid="tab-jobs">
            All jobs
          </Tabs.Tab>
          <Tabs.Tab
            value="approvals"
            data-testid="tab-approvals"
            rightSection={
              m.approvals.length > 0 ? (
                <Badge size="sm" color="orange" circle>
                  {m.approvals.length}
                </Badge>
              ) : undefined
            }
          >
            Approval queue
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="jobs" pt="sm">
          <Group mb="sm">
            <SegmentedControl
              size="xs"
              value={status}
              onChange={setStatus}
              data={[{ value: "all", label: "All" }, ...m.counts.filter((c) => c.count > 0).map((c) => ({ value: c.value, label: `${words(c.value)} (${c.count})` }))]}
            />
          </Group>
          {m.jobs.length === 0 ? (
            <EmptyState title="No jobs yet" testId="jobs-empty" action={may.submit_jobs ? <Button onClick={() => setWizard(true)}>Create the first job</Button> : undefined}>
              {may.submit_jobs
                ? "Create a job: the wizard shows its plan before anything is submitted."
                : "Operators create jobs; you'll see them here as they run."}
            </EmptyState>
          ) : (
            <Table highlightOnHover data-testid="jobs-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Job</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>By</Table.Th>
                  <Table.Th>Approved by</Table.Th>
                  <Table.Th>Created</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {m.jobs.map((j) => (
                  <Table.Tr
                    key={j.id}
                    onClick={() => navigate(`/jobs/${j.id}`)}
                    onKeyDown={(e) => e.key === "Enter" && navigate(`/jobs/${j.id}`)}
                    tabIndex={0}
                    style={{ cursor: "pointer" }}
                    data-testid="job-row"
                    data-job-id={j.id}
                  >
                    <Table.Td>
                      <Text size="sm" fw={500}>
                        {j.title}
                      </Text>
                      {j.error && (
                        <Text size="xs" c="red" lineClamp={1}>
                          {j.error}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{words(j.type)}</Table.Td>
                    <Table.Td>
                      <StatusBadge value={j.status} />
                    </Table.Td>
                    <Table.Td>{j.initiated_by ?? "–"}</Table.Td>
                    <Table.Td>{j.approved_by ?? "–"}</Table.Td>
                    <Table.Td>{ago(j.created_at)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Tabs.Panel>
        <Tabs.Panel value="approvals" pt="sm">
          <ApprovalQueue model={m} onDecided={changed} />
        </Tabs.Panel>
      </Tabs>
      <Modal opened={wizard} onClose={() => setWizard(false)} title="New job" size="xl" closeOnClickOutside={false}>
        <JobWizard
          targets={m.targets}
          onSubmitted={(id) => {
            setWizard(false);
            changed();
            navigate(`/jobs/${id}`);
          }}
        />
      </Modal>
    </Stack>
  );
}

function ApprovalQueue(props: { model: Model; onDecided: () => void }) {
  if (props.model.approvals.length === 0) {
    return (
      <EmptyState title="Nothing waits for approval" testId="approvals-empty">
        Jobs that need a second person's approval appear here with their plan.
      </EmptyState>
    );
  }
  return (
    <Stack>
      {props.model.approvals.map((a) => (
        // Keyed by its blockers too: a plan sent back with new ones starts unacknowledged.
        <ApprovalCard key={`${a.job.id}/${JSON.stringify(a.plan?.blockers ?? [])}`} item={a} onDecided={props.onDecided} />
      ))}
    </Stack>
  );
}

function ApprovalCard(props: { item: ApprovalItem; onDecided: () => void }) {
  const { job, plan } = props.item;
  const me = useMe();
  const may = useMay();
  const [comment, setComment] = useState("");
  const [acknowledged, setAcknowledged] = useState(false);
  const [busy, setBusy] = useState<"approve" | "deny" | null>(null);
  const blockers = plan?.blockers.length ?? 0;
  const own = !!me?.email && job.initiated_by === me.email;
  const decide = async (how: "approve" | "deny") => {
    setBusy(how);
    try {
      const input = {
        id: job.id,
        comment: comment.trim() || null,
        acknowledge_blockers: how === "approve" && acknowledged,
        plan_hash: props.item.plan_hash,
      };
      const j = how === "approve" ? await api.job_approve(input) : await api.job_deny(input);
      notifications.show({ color: how === "approve" ? "green" : "gray", message: `${j.title}: ${words(j.status)}.` });
      props.onDecided();
    } catch (e) {
      notifications.show({ color: "red", title: how === "approve" ? "Not approved" : "Not denied", message: toApiError(e).message });
    } finally {
      setBusy(null);
    }
  };
  return (
    <Card withBorder data-testid="approval-card" data-job-id={job.id}>
      <Group justify="space-between" mb="xs">
        <div>
          <Text fw={600}>{job.title}</Text>
          <Text size="xs" c="dimmed">
            {words(job.type)} · submitted by {job.initiated_by ?? "?"} {ago(job.created_at)}
          </Text>
        </div>
        <StatusBadge value={job.status} />
      </Group>
      {plan ? <PlanView plan={plan} compact /> : <Text size="sm" c="dimmed">No plan recorded.</Text>}
      {own ? (
        <Text size="sm" c="dimmed" mt="sm">
          You submitted this job: another approver must decide (four eyes).
        </Text>
      ) : may.approve_jobs ? (
        <Stack gap="xs" mt="sm">
          <Textarea placeholder="Comment for the record (optional)" value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={1} aria-label="Comment" />
          {blockers > 0 && (
            <Checkbox
              label={`I have read the ${blockers} predicted blocker(s): approve anyway (the job pauses at each and asks)`}
              checked={acknowledged}
              onChange={(e) => setAcknowledged(e.currentTarget.checked)}
              data-testid="acknowledge-blockers"
            />
          )}
          <Group>
            <Button color="green" onClick={() => decide("approve")} loading={busy === "approve"} disabled={blockers > 0 && !acknowledged} data-testid="approve">
              Approve
            </Button>
            <Button color="red" variant="light" onClick={() => decide("deny")} loading={busy === "deny"} data-testid="deny">
              Deny
            </Button>
          </Group>
        </Stack>
      ) : (
        <Text size="sm" c="dimmed" mt="sm">
          An approver decides on this job.
        </Text>
      )}
    </Card>
  );
}

/** The kill switch, behind a confirmation that asks why. */
export function KillSwitchControl(props: { value: KillSwitch; onChanged: () => void }) {
  const may = useMay();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const engaging = !props.value.engaged;
  if (engaging ? !may.engage_kill_switch : !may.release_kill_switch) return null;
  const confirm = async () => {
    setBusy(true);
    try {
      await api.kill_switch_set({ engaged: engaging, reason: reason.trim() });
      notifications.show({ color: engaging ? "red" : "green", message: engaging ? "Kill switch engaged." : "Kill switch released." });
      setOpen(false);
      setReason("");
      props.onChanged();
    } catch (e) {
      notifications.show({ color: "red", title: "Kill switch unchanged", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button
        color={engaging ? "red" : "green"}
        variant={engaging ? "outline" : "filled"}
        leftSection={<IconAlertOctagon size={16} />}
        onClick={() => setOpen(true)}
        data-testid={engaging ? "kill-switch-engage" : "kill-switch-release"}
      >
        {engaging ? "Kill switch" : "Release kill switch"}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={engaging ? "Engage the kill switch?" : "Release the kill switch?"}>
        <Stack>
          <Text size="sm">
            {engaging
              ? "Every job stops making external calls at once, on every worker. Running jobs pause at their next safe point."
              : "Jobs may make external calls again. Jobs the kill switch paused wait for a retry decision."}
          </Text>
          <Textarea label="Why" placeholder="e.g. storage outage in DC2" value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-autofocus data-testid="kill-switch-reason" />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button color={engaging ? "red" : "green"} onClick={confirm} loading={busy} disabled={!reason.trim()} data-testid="kill-switch-confirm">
              {engaging ? "Engage" : "Release"}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
