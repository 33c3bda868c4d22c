// One job (`job_detail`): status and progress, the plan, the live timeline of steps and
// events, the decision panel of a paused job (blocking VMs and why; cancel, retry, shut
// down or suspend selected VMs → `job_decide`), and cancel.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Grid,
  Group,
  Progress,
  Skeleton,
  Stack,
  Table,
  Text,
  Textarea,
  Timeline,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCircleCheck, IconCircleDashed, IconCircleX, IconHandStop, IconLoader } from "@tabler/icons-react";
import { useState } from "react";
import { Link, useParams } from "react-router";
import type { Choice, JobDetail, JobEvent, PauseReason, Policy } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { ErrorAlert, Facts, PageHeader, StatusBadge } from "../components/common";
import { ago, dateTime, words } from "../lib/format";
import { useMay, useMe } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";
import { PlanView } from "./PlanView";

export function JobDetailPage() {
  const { id = "" } = useParams();
  const page = usePageModel(() => api.job_detail({ id }), [id], ["job", "job_event"]);
  if (page.error && !page.data) {
    return (
      <Stack>
        <Anchor component={Link} to="/jobs">
          ← Jobs
        </Anchor>
        <ErrorAlert error={page.error} onRetry={page.reload} />
      </Stack>
    );
  }
  if (!page.data) return <Skeleton height={400} />;
  return <JobView d={page.data} reload={page.reload} />;
}

const ACTIVE = ["pending", "awaiting_approval", "scheduled", "running", "paused"];

function JobView(props: { d: JobDetail; reload: () => void }) {
  const { job } = props.d;
  const may = useMay();
  const me = useMe();
  const [busy, setBusy] = useState(false);
  const cancel = async () => {
    setBusy(true);
    try {
      const j = await api.job_cancel({ id: job.id, reason: "cancelled from the job page" });
      notifications.show({ message: j.status === "running" ? "Cancel requested: it stops at its next safe point." : `The job is ${words(j.status)}.` });
      props.reload();
    } catch (e) {
      notifications.show({ color: "red", title: "Not cancelled", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  const mayCancel = may.submit_jobs && (job.initiated_by === me?.email || may.approve_jobs);
  return (
    <Stack data-testid="job-detail" data-status={job.status}>
      <Anchor component={Link} to="/jobs" size="sm">
        ← Jobs
      </Anchor>
      <PageHeader
        title={job.title}
        description={`${words(job.type)} · submitted by ${job.initiated_by ?? "?"} ${ago(job.created_at)}`}
        actions={
          <>
            <StatusBadge value={job.status} />
            {ACTIVE.includes(job.status) && mayCancel && !job.cancel_requested && (
              <Button variant="light" color="red" onClick={cancel} loading={busy} data-testid="job-cancel">
                Cancel job
              </Button>
            )}
          </>
        }
      />
      {job.status === "running" && (
        <Progress value={(job.progress ?? 0) * 100} animated size="lg" data-testid="job-progress" />
      )}
      {job.progress_message && <Text size="sm">{job.progress_message}</Text>}
      {job.error && (
        <Alert color="red" title="Error">
          {job.error}
        </Alert>
      )}
      {job.status === "awaiting_approval" && (
        <Alert color="orange" data-testid="awaiting-approval">
          This job waits for a second person's approval (Jobs → Approval queue).
        </Alert>
      )}
      {job.status === "paused" && <DecisionPanel d={props.d} onDecided={props.reload} />}
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Card withBorder>
            <Title order={4} mb="sm">
              Timeline
            </Title>
            <TimelineView d={props.d} />
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Stack>
            <Card withBorder>
              <Title order={4} mb="sm">
                Plan
              </Title>
              {props.d.plan ? <PlanView plan={props.d.plan} /> : <Text c="dimmed">No plan recorded.</Text>}
            </Card>
            <Card withBorder>
              <Title order={4} mb="sm">
                Details
              </Title>
              <Facts
                rows={[
                  ["Approved by", job.approved_by],
                  ["Started", dateTime(job.started_at)],
                  ["Finished", dateTime(job.finished_at)],
                  ["Attempts", String(job.attempts)],
                  ["External tasks", job.external_task_ids.join(", ") || "–"],
                  ["Policy", <PolicySummary key="p" policy={props.d.policy} />],
                ]}
              />
            </Card>
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function PolicySummary(props: { policy: Policy | null }) {
  const p = props.policy;
  if (!p) return <Text size="sm" c="dimmed">none (the system's own job)</Text>;
  return (
    <Group gap={4}>
      <Badge variant="outline">{p.policy_name ?? "default"}</Badge>
      {p.allow_vm_shutdown && <Badge color="orange">VM shutdown allowed</Badge>}
      {p.allow_hard_poweroff && <Badge color="red">hard power-off allowed</Badge>}
      {p.require_approval && <Badge color="blue">approval required</Badge>}
      <Badge variant="light">vm_limit {p.vm_limit}</Badge>
    </Group>
  );
}

function stepIcon(status: string) {
  switch (status) {
    case "succeeded":
      return <IconCircleCheck size={14} />;
    case "failed":
    case "cancelled":
      return <IconCircleX size={14} />;
    case "running":
    case "waiting":
      return <IconLoader size={14} />;
    default:
      return <IconCircleDashed size={14} />;
  }
}

function TimelineView(props: { d: JobDetail }) {
  const { steps, events } = props.d;
  const done = steps.filter((s) => ["succeeded", "skipped"].includes(s.status)).length;
  return (
    <Stack data-testid="job-timeline">
      {steps.length > 0 && (
        <Timeline active={done - 1} bulletSize={22} lineWidth={2}>
          {steps.map((s) => (
            <Timeline.Item key={s.seq} bullet={stepIcon(s.status)} title={s.name} data-testid="job-step">
              <Group gap="xs">
                <StatusBadge value={s.status} />
                <Text size="xs" c="dimmed">
                  {s.kind}
                  {s.external_task_id ? ` · task ${s.external_task_id}` : ""}
                  {s.started_at ? ` · ${ago(s.started_at)}` : ""}
                </Text>
              </Group>
              {s.error && (
                <Text size="sm" c="red">
                  {s.error}
                </Text>
              )}
            </Timeline.Item>
          ))}
        </Timeline>
      )}
      <EventList events={events} />
    </Stack>
  );
}

const LEVEL_COLOR: Record<string, string> = { error: "red", warning: "yellow", info: "blue", debug: "gray" };

function EventList(props: { events: JobEvent[] }) {
  return (
    <Table data-testid="job-events">
      <Table.Tbody>
        {[...props.events].reverse().map((e) => (
          <Table.Tr key={e.id} data-testid="job-event">
            <Table.Td w={150}>
              <Text size="xs" c="dimmed">
                {dateTime(e.at)}
              </Text>
            </Table.Td>
            <Table.Td w={80}>
              <Badge size="xs" color={LEVEL_COLOR[e.level] ?? "gray"} variant="light">
                {e.level}
              </Badge>
            </Table.Td>
            <Table.Td>
              <Text size="sm">{e.message}</Text>
              <Text size="xs" c="dimmed">
                {e.actor}
              </Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

type Blocking = { vm_moid: string; name: string; reason: string; host: string | null };

/** The VMs that block a pause (a step's pause carries them under `details`; a blocked
 * evacuation names its host once for all of them). Its sentence comes from Rust
 * (`JobDetail.pause_message`). */
export function blockingOf(reason: PauseReason | null): Blocking[] {
  if (!reason) return [];
  const host = reason.kind === "blocked_evacuation" || reason.kind === "dell_queue_busy" ? reason.host : null;
  const vms = reason.kind === "blocked_evacuation" ? reason.blocking_vms : reason.kind === "blocked" ? reason.details.blocking_vms : [];
  return vms.map((b) => ({ vm_moid: b.vm_moid, name: b.vm_name, reason: b.reason, host }));
}

function DecisionPanel(props: { d: JobDetail; onDecided: () => void }) {
  const may = useMay();
  const blocking = blockingOf(props.d.pause_reason);
  const message = props.d.pause_message ?? "The job paused and waits for a decision.";
  const allowShutdown = props.d.policy?.allow_vm_shutdown === true;
  const [chosen, setChosen] = useState<string[]>([]);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<Choice | null>(null);
  const decide = async (choice: Choice) => {
    setBusy(choice);
    try {
      const j = await api.job_decide({
        id: props.d.job.id,
        choice,
        vms: choice === "shutdown" || choice === "suspend" ? chosen : [],
        comment: comment.trim() || null,
      });
      notifications.show({ message: `Decision recorded: the job is ${words(j.status)}.` });
      props.onDecided();
    } catch (e) {
      notifications.show({ color: "red", title: "Decision refused", message: toApiError(e).message });
    } finally {
      setBusy(null);
    }
  };
  return (
    <Card withBorder style={{ borderColor: "var(--mantine-color-yellow-6)" }} data-testid="decision-panel">
      <Group gap="xs" mb="xs">
        <IconHandStop size={20} color="var(--mantine-color-yellow-6)" />
        <Title order={4}>The job paused: your decision</Title>
      </Group>
      <Text size="sm" mb="sm" data-testid="pause-message">
        {message}
      </Text>
      {blocking.length > 0 && (
        <Table mb="sm" data-testid="blocking-vms">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={40} />
              <Table.Th>VM</Table.Th>
              <Table.Th>Host</Table.Th>
              <Table.Th>Why it can't move</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {blocking.map((b) => (
              <Table.Tr key={b.vm_moid}>
                <Table.Td>
                  <Checkbox
                    aria-label={`Choose ${b.name}`}
                    checked={chosen.includes(b.vm_moid)}
                    onChange={(e) => setChosen((c) => (e.currentTarget.checked ? [...c, b.vm_moid] : c.filter((x) => x !== b.vm_moid)))}
                  />
                </Table.Td>
                <Table.Td>{b.name}</Table.Td>
                <Table.Td>{b.host ?? "–"}</Table.Td>
                <Table.Td>{b.reason}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {may.submit_jobs ? (
        <Stack gap="xs">
          <Textarea placeholder="Comment for the record (optional)" value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={1} aria-label="Decision comment" />
          <Group>
            <Button color="red" variant="light" onClick={() => decide("cancel")} loading={busy === "cancel"} data-testid="decide-cancel">
              Cancel the job
            </Button>
            <Button onClick={() => decide("retry")} loading={busy === "retry"} data-testid="decide-retry">
              Retry
            </Button>
            {blocking.length > 0 && (
              <>
                <Button
                  color="orange"
                  onClick={() => decide("shutdown")}
                  loading={busy === "shutdown"}
                  disabled={!allowShutdown || chosen.length === 0}
                  title={allowShutdown ? undefined : "The job's policy doesn't allow shutting VMs down"}
                  data-testid="decide-shutdown"
                >
                  Shut down selected ({chosen.length})
                </Button>
                <Button variant="light" onClick={() => decide("suspend")} loading={busy === "suspend"} disabled={chosen.length === 0} data-testid="decide-suspend">
                  Suspend selected ({chosen.length})
                </Button>
              </>
            )}
          </Group>
          {!allowShutdown && blocking.length > 0 && (
            <Text size="xs" c="dimmed">
              Shutting VMs down is off: the job's policy has allow_vm_shutdown false.
            </Text>
          )}
        </Stack>
      ) : (
        <Text size="sm" c="dimmed">
          An operator decides how this job goes on.
        </Text>
      )}
    </Card>
  );
}
