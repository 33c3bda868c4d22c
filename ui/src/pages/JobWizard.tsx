// The create-job wizard: what → target → policy → the dry-run plan → submit. Nothing is
// submitted before the user has seen the plan (`job_submit` with dry_run, then without).
import {
  Alert,
  Button,
  Checkbox,
  Group,
  MultiSelect,
  NumberInput,
  Radio,
  SegmentedControl,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Stepper,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useEffect, useState } from "react";
import type { ApiError, JobSpec, JobTargets, JobType, PolicyOverrides, PowerAction, SourceKind, SubmitRequest, Submitted } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { ErrorAlert } from "../components/common";
import { useMay, useMe } from "../lib/me";
import { PlanView } from "./PlanView";

type Kind = JobType;
const KINDS: { value: Kind; label: string; description: string }[] = [
  { value: "maintenance_mode", label: "Maintenance mode", description: "Evacuate hosts one at a time (DRS) and enter or leave maintenance mode." },
  { value: "firmware_update", label: "Firmware update", description: "Rolling update: maintenance mode, update, reboot, verify, exit — one host at a time." },
  { value: "power", label: "Power", description: "Shut down, power off or suspend VMs; restart or power-cycle servers." },
  { value: "sync", label: "Sync", description: "A full sync of one source, or of all of them." },
  { value: "report", label: "Report", description: "Run a report definition: every format, into its folder (on a schedule, too)." },
];

/** What a sync job may be narrowed to (`eio job submit sync --kind`): every kind, named. */
const SOURCE_KIND_LABELS: Record<SourceKind, string> = { vcenter: "vCenters", idrac: "iDRACs", ome: "OpenManage Enterprise" };
const SOURCE_KINDS = (Object.keys(SOURCE_KIND_LABELS) as SourceKind[]).map((value) => ({ value, label: SOURCE_KIND_LABELS[value] }));

export type WizardState = {
  kind: Kind;
  hosts: string[];
  cluster: string | null;
  exit: boolean;
  /** Firmware: every component behind a baseline, or one component to one version. */
  firmwareTo: "baseline" | "component";
  /** The baseline ("": the one covering the hosts). */
  baseline: string;
  /** Where the baseline's packages are, instead of its repository. */
  packages: string;
  component: string;
  version: string;
  image: string;
  action: PowerAction;
  vms: string[];
  servers: string[];
  source: string | null;
  /** Sync every enabled source of this kind (only without a single source). */
  sourceKind: SourceKind | null;
  /** The report definition a report job runs. */
  definition: string | null;
  policyName: string;
  allowShutdown: boolean | null;
  allowHardPoweroff: boolean | null;
  vmLimit: number | null;
  requireApproval: boolean | null;
  /** VM tag and folder filters (tighten a policy that has none). */
  tagFilters: string[];
  folderFilters: string[];
  title: string;
  /** now | at (runAt) | schedule (cron) */
  when: "now" | "at" | "schedule";
  /** Local date and time, from a datetime-local input. */
  runAt: string;
  /** Cron, five fields in UTC, or @daily… */
  schedule: string;
  /** Resubmitting with the same key gives the same job, never a second one. */
  idempotencyKey: string;
};

/** The policy step's choices, as a new kind or policy starts them. */
const POLICY_CHOICES = {
  policyName: "default",
  allowShutdown: null,
  allowHardPoweroff: null,
  vmLimit: null,
  requireApproval: null,
  tagFilters: [] as string[],
  folderFilters: [] as string[],
};

export const INITIAL: WizardState = {
  kind: "maintenance_mode",
  hosts: [],
  cluster: null,
  exit: false,
  firmwareTo: "baseline",
  baseline: "",
  packages: "",
  component: "",
  version: "",
  image: "",
  action: "shutdown",
  vms: [],
  servers: [],
  source: null,
  sourceKind: null,
  definition: null,
  policyName: "default",
  allowShutdown: null,
  allowHardPoweroff: null,
  vmLimit: null,
  requireApproval: null,
  tagFilters: [],
  folderFilters: [],
  title: "",
  when: "now",
  runAt: "",
  schedule: "",
  idempotencyKey: "",
};

/** The request the wizard's state describes. */
export function toRequest(s: WizardState, dryRun: boolean): SubmitRequest {
  let spec: JobSpec;
  switch (s.kind) {
    case "maintenance_mode":
      spec = { type: "maintenance_mode", hosts: s.hosts, cluster: s.cluster, exit: s.exit };
      break;
    case "firmware_update":
      spec =
        s.firmwareTo === "baseline"
          ? { type: "firmware_update", hosts: s.hosts, cluster: s.cluster, component: "", version: "", image: "", baseline: s.baseline, packages: s.packages.trim() || null }
          : { type: "firmware_update", hosts: s.hosts, cluster: s.cluster, component: s.component.trim(), version: s.version.trim(), image: s.image.trim(), baseline: null, packages: null };
      break;
    case "power":
      spec = { type: "power", action: s.action, vms: s.vms, servers: s.servers };
      break;
    case "sync":
      spec = { type: "sync", source: s.source, kind: s.source ? null : s.sourceKind, benchmark_noop: false };
      break;
    case "report":
      spec = { type: "report", definition: s.definition ?? "" };
      break;
  }
  const overrides: PolicyOverrides = {};
  if (s.allowShutdown !== null) overrides.allow_vm_shutdown = s.allowShutdown;
  if (s.allowHardPoweroff !== null) overrides.allow_hard_poweroff = s.allowHardPoweroff;
  if (s.vmLimit !== null) overrides.vm_limit = s.vmLimit;
  if (s.requireApproval !== null) overrides.require_approval = s.requireApproval;
  // VM filters narrow what a disruptive job may stop; sync and report jobs stop nothing.
  if (disruptive(s.kind) && s.tagFilters.length) overrides.tag_filters = s.tagFilters;
  if (disruptive(s.kind) && s.folderFilters.length) overrides.folder_filters = s.folderFilters;
  return {
    spec,
    title: s.title.trim() || null,
    policy_name: s.policyName,
    policy: Object.keys(overrides).length ? overrides : null,
    idempotency_key: s.idempotencyKey.trim() || null,
    run_at: s.when === "at" && s.runAt ? new Date(s.runAt).toISOString() : null,
    schedule: s.when === "schedule" ? s.schedule.trim() || null : null,
    dry_run: dryRun,
  };
}

/** Job kinds that can take a host down or stop VMs (the rest never need approval). */
export function disruptive(kind: Kind): boolean {
  return kind !== "sync" && kind !== "report";
}

/** A policy that skips approval or allows stopping VMs: using it for a disruptive job
 *  needs the `relaxed_policy` capability (the database checks; this only says so first). */
export function isRelaxed(p: { require_approval: boolean; allow_vm_shutdown: boolean; allow_hard_poweroff: boolean }): boolean {
  return !p.require_approval || p.allow_vm_shutdown || p.allow_hard_poweroff;
}

/** Why the "when" choice can't go on yet (null: it can). */
export function whenProblem(s: WizardState, now: Date = new Date()): string | null {
  if (s.when === "at") {
    if (!s.runAt) return "Say when it should run.";
    if (new Date(s.runAt).getTime() <= now.getTime()) return "Choose a time in the future.";
  }
  if (s.when === "schedule" && !s.schedule.trim()) return "Give a cron schedule (five fields, UTC), e.g. 0 2 * * 6.";
  return null;
}

/** Why the target step can't go on yet (None: it can). */
export function targetProblem(s: WizardState): string | null {
  switch (s.kind) {
    case "maintenance_mode":
      return s.hosts.length || s.cluster ? null : "Choose hosts or a cluster.";
    case "firmware_update":
      if (!s.hosts.length && !s.cluster) return "Choose hosts or a cluster.";
      if (s.firmwareTo === "baseline") return null;
      return s.component.trim() && s.version.trim() && s.image.trim() ? null : "Say which component, which version, and the update package.";
    case "power":
      if (["shutdown", "power_off", "suspend"].includes(s.action)) return s.vms.length ? null : "Name the VMs.";
      return s.servers.length ? null : "Name the servers.";
    case "sync":
      return null;
    case "report":
      return s.definition ? null : "Choose a report definition (define one on the Reports page).";
  }
}

export function JobWizard(props: { targets: JobTargets; onSubmitted: (jobId: string) => void }) {
  const may = useMay();
  const [step, setStep] = useState(0);
  const [s, setS] = useState<WizardState>(INITIAL);
  const [plan, setPlan] = useState<Submitted | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof WizardState>(k: K, v: WizardState[K]) => setS((x) => ({ ...x, [k]: v }));
  const kinds = KINDS.filter((k) => may.job_types.includes(k.value));
  const mayRelax = useMe()?.capabilities.includes("relaxed_policy") ?? false;

  useEffect(() => {
    if (step !== 3) return;
    setPlan(null);
    setError(null);
    api
      .job_submit(toRequest(s, true))
      .then(setPlan)
      .catch((e: unknown) => setError(toApiError(e)));
  }, [step, s]);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const done = await api.job_submit(toRequest(s, false));
      if (done.job) props.onSubmitted(done.job.id);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const problem = targetProblem(s);
  const policy = props.targets.policies.find((p) => p.name === s.policyName);
  return (
    <Stack data-testid="job-wizard">
      <Stepper active={step} onStepClick={(i) => i < step && setStep(i)} size="sm">
        <Stepper.Step label="What">
          <Radio.Group
            value={s.kind}
            // Another kind starts from the default policy: what was chosen for the last one may not apply.
            onChange={(v) => setS((x) => ({ ...x, ...POLICY_CHOICES, kind: v as Kind }))}
            data-testid="wizard-kind"
          >
            <SimpleGrid cols={2} mt="sm">
              {kinds.map((k) => (
                <Radio.Card key={k.value} value={k.value} p="md" radius="md" data-testid={`kind-${k.value}`}>
                  <Group wrap="nowrap" align="flex-start">
                    <Radio.Indicator />
                    <div>
                      <Text fw={600}>{k.label}</Text>
                      <Text size="sm" c="dimmed">
                        {k.description}
                      </Text>
                    </div>
                  </Group>
                </Radio.Card>
              ))}
            </SimpleGrid>
          </Radio.Group>
        </Stepper.Step>
        <Stepper.Step label="Target">
          <Stack mt="sm">
            <TargetStep s={s} set={set} targets={props.targets} />
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Policy">
          <Stack mt="sm">
            <Select
              label="Policy"
              data={props.targets.policies.map((p) => {
                const locked = disruptive(s.kind) && isRelaxed(p) && !mayRelax;
                const label = p.description ? `${p.name} — ${p.description}` : p.name;
                return { value: p.name, label: locked ? `${label} (needs the relaxed_policy capability)` : label, disabled: locked };
              })}
              value={s.policyName}
              onChange={(v) =>
                // A new policy starts from its own settings: overrides made for the last one go.
                setS((x) => ({ ...x, ...POLICY_CHOICES, policyName: v ?? "default" }))
              }
              allowDeselect={false}
              data-testid="wizard-policy"
            />
            <Text size="sm" c="dimmed">
              Destructive choices are opt-in: the job pauses and asks instead of shutting a VM down. Here you can only make
              the policy stricter; a policy that allows shutdowns or skips approval is a named one an admin made.
            </Text>
            <Switch
              label="Allow shutting VMs down"
              checked={s.allowShutdown ?? policy?.allow_vm_shutdown ?? false}
              disabled={!policy?.allow_vm_shutdown}
              onChange={(e) => set("allowShutdown", e.currentTarget.checked)}
            />
            <Switch
              label="Allow hard power-off"
              checked={s.allowHardPoweroff ?? policy?.allow_hard_poweroff ?? false}
              disabled={!policy?.allow_hard_poweroff}
              onChange={(e) => set("allowHardPoweroff", e.currentTarget.checked)}
            />
            <NumberInput
              label="At most this many VMs per host may be shut down (vm_limit)"
              value={s.vmLimit ?? policy?.vm_limit ?? 10}
              min={0}
              max={policy?.vm_limit ?? 10}
              onChange={(v) => set("vmLimit", typeof v === "number" ? v : null)}
              w={360}
            />
            <Switch
              label="Require a second person's approval"
              checked={s.requireApproval ?? policy?.require_approval ?? true}
              disabled={disruptive(s.kind) && (policy?.require_approval ?? true)}
              onChange={(e) => set("requireApproval", e.currentTarget.checked)}
            />
            {(s.kind === "power" || s.kind === "maintenance_mode" || s.kind === "firmware_update") && (
              <Group grow align="flex-start">
                <TagsInput
                  label="Only VMs with these tags"
                  description="VMs without one of them are never shut down or suspended by this job."
                  value={s.tagFilters}
                  onChange={(v) => set("tagFilters", v)}
                  disabled={(policy?.tag_filters.length ?? 0) > 0}
                  placeholder={(policy?.tag_filters.length ?? 0) > 0 ? `the policy's: ${policy?.tag_filters.join(", ")}` : "any tag"}
                  data-testid="wizard-tag-filters"
                />
                <TagsInput
                  label="Only VMs in these folders"
                  description="A folder path; its sub-folders are included."
                  value={s.folderFilters}
                  onChange={(v) => set("folderFilters", v)}
                  disabled={(policy?.folder_filters.length ?? 0) > 0}
                  placeholder={(policy?.folder_filters.length ?? 0) > 0 ? `the policy's: ${policy?.folder_filters.join(", ")}` : "any folder"}
                  data-testid="wizard-folder-filters"
                />
              </Group>
            )}
            <TextInput label="Title (optional)" placeholder="Defaults to the plan's summary" value={s.title} onChange={(e) => set("title", e.currentTarget.value)} />
            <SegmentedControl
              data={[
                { value: "now", label: "Run when approved" },
                { value: "at", label: "At a time" },
                { value: "schedule", label: "On a schedule" },
              ]}
              value={s.when}
              onChange={(v) => set("when", v as WizardState["when"])}
              w={420}
              data-testid="wizard-when"
            />
            {s.when === "at" && (
              <TextInput
                type="datetime-local"
                label="Run at (your local time)"
                description="Approved before then, it waits; approved after, it runs at once."
                value={s.runAt}
                onChange={(e) => set("runAt", e.currentTarget.value)}
                w={260}
                data-testid="wizard-run-at"
              />
            )}
            {s.when === "schedule" && (
              <TextInput
                label="Schedule (cron, UTC)"
                description="Five fields or @daily, @weekly…: each run is a job of its own, planned and approved as this one is."
                placeholder="0 2 * * 6"
                value={s.schedule}
                onChange={(e) => set("schedule", e.currentTarget.value)}
                w={360}
                className="mono"
                data-testid="wizard-schedule"
              />
            )}
            {whenProblem(s) && (
              <Text size="sm" c="orange">
                {whenProblem(s)}
              </Text>
            )}
            <TextInput
              label="Idempotency key (optional)"
              description="Submitting again with the same key gives back the same job instead of a second one (for scripts and retries)."
              value={s.idempotencyKey}
              onChange={(e) => set("idempotencyKey", e.currentTarget.value)}
              w={360}
            />
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Plan">
          <Stack mt="sm" data-testid="wizard-plan">
            {error && <ErrorAlert error={error} title="No plan" />}
            {!error && !plan && <Skeleton height={160} />}
            {plan && <PlanView plan={plan.plan} />}
            {plan && (
              <Text size="sm" c="dimmed">
                {plan.policy.require_approval
                  ? "After you submit, the job waits for an approver; then a worker runs it."
                  : "After you submit, a worker runs it as soon as one is free."}
              </Text>
            )}
          </Stack>
        </Stepper.Step>
      </Stepper>
      {step === 1 && problem && (
        <Alert color="gray" variant="light">
          {problem}
        </Alert>
      )}
      <Group justify="space-between">
        <Button variant="default" onClick={() => setStep((x) => Math.max(0, x - 1))} disabled={step === 0}>
          Back
        </Button>
        {step < 3 ? (
          <Button
            onClick={() => setStep((x) => x + 1)}
            disabled={(step === 0 && kinds.length === 0) || (step === 1 && !!problem) || (step === 2 && !!whenProblem(s))}
            data-testid="wizard-next"
          >
            {step === 2 ? "Show the plan" : "Next"}
          </Button>
        ) : (
          <Button onClick={submit} loading={busy} disabled={!plan || plan.plan.refusals.length > 0} data-testid="wizard-submit">
            Submit job
          </Button>
        )}
      </Group>
    </Stack>
  );
}

function TargetStep(props: { s: WizardState; set: <K extends keyof WizardState>(k: K, v: WizardState[K]) => void; targets: JobTargets }) {
  const { s, set, targets } = props;
  const hostOptions = targets.hosts.map((h) => ({
    value: h.name,
    label: `${h.name}${h.cluster ? ` (${h.cluster})` : ""}${h.in_maintenance_mode ? " · in maintenance" : ""}`,
  }));
  const hostPicker = (
    <>
      <MultiSelect label="Hosts" placeholder="Pick hosts" data={hostOptions} value={s.hosts} onChange={(v) => set("hosts", v)} searchable clearable data-testid="wizard-hosts" />
      <Select label="…or every host of a cluster" placeholder="Cluster" data={targets.clusters} value={s.cluster} onChange={(v) => set("cluster", v)} clearable searchable />
    </>
  );
  switch (s.kind) {
    case "maintenance_mode":
      return (
        <>
          {hostPicker}
          <Checkbox label="Take the hosts out of maintenance mode instead" checked={s.exit} onChange={(e) => set("exit", e.currentTarget.checked)} />
        </>
      );
    case "firmware_update":
      return (
        <>
          {hostPicker}
          <SegmentedControl
            value={s.firmwareTo}
            onChange={(v) => set("firmwareTo", v as WizardState["firmwareTo"])}
            data={[
              { value: "baseline", label: "To a baseline" },
              { value: "component", label: "One component" },
            ]}
            data-testid="wizard-firmware-to"
          />
          {s.firmwareTo === "baseline" ? (
            <>
              <Select
                label="Baseline"
                description="Every component behind it is staged together: each host enters maintenance mode once and restarts once."
                data={[{ value: "", label: "The one covering these hosts" }, ...targets.baselines.map((b) => ({ value: b.name, label: `${b.name} (${b.source === "eio" ? "EIO" : "OME"})` }))]}
                value={s.baseline}
                onChange={(v) => set("baseline", v ?? "")}
                allowDeselect={false}
                data-testid="wizard-baseline"
              />
              <TextInput
                label="Packages (optional)"
                description="Where the baseline's packages are, if not in its repository: a directory on the workers or an http(s) URL. OME's baselines need it."
                placeholder="/srv/firmware/catalog"
                value={s.packages}
                onChange={(e) => set("packages", e.currentTarget.value)}
                data-testid="wizard-packages"
              />
            </>
          ) : (
            <>
              <TextInput label="Component" description="An FQDD prefix (BIOS.Setup, NIC.Integrated) or part of its name" value={s.component} onChange={(e) => set("component", e.currentTarget.value)} />
              <TextInput label="Version it installs" value={s.version} onChange={(e) => set("version", e.currentTarget.value)} />
              <TextInput label="Dell Update Package on the worker's disk" placeholder="/srv/firmware/BIOS_XXXX.EXE" value={s.image} onChange={(e) => set("image", e.currentTarget.value)} />
            </>
          )}
        </>
      );
    case "power":
      return <PowerTarget s={s} set={set} />;
    case "sync":
      return (
        <>
          <Select
            label="Source"
            placeholder="Every enabled source"
            data={targets.sources}
            value={s.source}
            onChange={(v) => set("source", v)}
            clearable
            searchable
            data-testid="wizard-source"
          />
          {!s.source && (
            <Select
              label="…or every enabled source of one kind"
              placeholder="Every kind"
              data={SOURCE_KINDS}
              value={s.sourceKind}
              onChange={(v) => set("sourceKind", v as SourceKind | null)}
              clearable
              data-testid="wizard-source-kind"
            />
          )}
        </>
      );
    case "report":
      return (
        <Select
          label="Report definition"
          placeholder={targets.report_definitions.length ? "Choose one" : "No definitions yet: define one on the Reports page"}
          data={targets.report_definitions}
          value={s.definition}
          onChange={(v) => set("definition", v)}
          searchable
          data-testid="wizard-definition"
        />
      );
  }
}

function PowerTarget(props: { s: WizardState; set: <K extends keyof WizardState>(k: K, v: WizardState[K]) => void }) {
  const { s, set } = props;
  const [query, setQuery] = useState("");
  const [debounced] = useDebouncedValue(query, 200);
  const [found, setFound] = useState<string[]>([]);
  useEffect(() => {
    if (!debounced.trim()) return;
    api
      .inventory_page({ kind: "vms", q: debounced, site: null, cluster: null, power: null, tools: null, tag: null, offset: 0, limit: 20 })
      .then((p) => setFound(p.vms.map((v) => v.name)))
      .catch(() => setFound([]));
  }, [debounced]);
  const vmAction = ["shutdown", "power_off", "suspend"].includes(s.action);
  return (
    <>
      <Select
        label="Action"
        data={[
          { value: "shutdown", label: "Shut down VMs (guest OS)" },
          { value: "power_off", label: "Power off VMs (hard)" },
          { value: "suspend", label: "Suspend VMs" },
          { value: "reset", label: "Restart servers (graceful)" },
          { value: "power_cycle", label: "Power-cycle servers (hard)" },
        ]}
        value={s.action}
        onChange={(v) => set("action", (v ?? "shutdown") as PowerAction)}
        allowDeselect={false}
      />
      {vmAction ? (
        <TagsInput
          label="VMs"
          placeholder="Type to search VMs by name"
          data={found}
          value={s.vms}
          onChange={(v) => set("vms", v)}
          onSearchChange={setQuery}
          searchValue={query}
        />
      ) : (
        <TagsInput label="Servers" placeholder="Service tags or iDRAC names" value={s.servers} onChange={(v) => set("servers", v)} />
      )}
    </>
  );
}
