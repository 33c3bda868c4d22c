// Settings → Job policies: the named policies (`job_policies`, `job_policy_save`,
// `job_policy_remove`) and the concurrency limits (`concurrency_limits`,
// `concurrency_limit_set`). Admins change them — the database audits every change — and
// everyone else sees what the wizard will offer and why a job waits for its cluster.
import { Badge, Button, Checkbox, Group, NumberInput, Select, Skeleton, Stack, Table, TagsInput, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import type { LimitScope, PolicyChoice, PolicyInput } from "../api/bindings.gen";
import { api } from "../api/client";
import { ErrorAlert } from "../components/common";
import { failed, FormButton } from "../components/FormButton";
import { useMe } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";

const BLANK: PolicyInput = {
  name: "",
  description: null,
  require_approval: true,
  allow_vm_shutdown: false,
  allow_hard_poweroff: false,
  vm_limit: 10,
  shutdown_timeout_seconds: 300,
  tag_filters: [],
  folder_filters: [],
};

function PolicyForm(props: { value: PolicyInput; onChange: (p: PolicyInput) => void; fixedName: boolean }) {
  const p = props.value;
  const set = <K extends keyof PolicyInput>(k: K, v: PolicyInput[K]) => props.onChange({ ...p, [k]: v });
  return (
    <>
      <TextInput label="Name" placeholder="lab-unattended" value={p.name} onChange={(e) => set("name", e.currentTarget.value)} disabled={props.fixedName} required data-testid="policy-name" />
      <TextInput label="What it is for" value={p.description ?? ""} onChange={(e) => set("description", e.currentTarget.value || null)} data-testid="policy-description" />
      <Checkbox label="Require a second person's approval" checked={p.require_approval} onChange={(e) => set("require_approval", e.currentTarget.checked)} data-testid="policy-require-approval" />
      <Checkbox label="Allow shutting VMs down" checked={p.allow_vm_shutdown} onChange={(e) => set("allow_vm_shutdown", e.currentTarget.checked)} data-testid="policy-allow-shutdown" />
      <Checkbox label="Allow hard power-off (needs shutdown allowed)" checked={p.allow_hard_poweroff} onChange={(e) => set("allow_hard_poweroff", e.currentTarget.checked)} />
      <Group grow>
        <NumberInput label="VMs per host that may be stopped" min={0} value={p.vm_limit} onChange={(v) => set("vm_limit", typeof v === "number" ? v : 0)} />
        <NumberInput label="Guest shutdown timeout (s)" min={1} max={86400} value={p.shutdown_timeout_seconds} onChange={(v) => set("shutdown_timeout_seconds", typeof v === "number" ? v : 300)} />
      </Group>
      <TagsInput label="Only VMs with these tags" value={p.tag_filters} onChange={(v) => set("tag_filters", v)} placeholder="any tag" />
      <TagsInput label="Only VMs in these folders" value={p.folder_filters} onChange={(v) => set("folder_filters", v)} placeholder="any folder" />
      {(!p.require_approval || p.allow_vm_shutdown || p.allow_hard_poweroff) && (
        <Text size="sm" c="orange">
          A relaxed policy: operators need the relaxed_policy capability to submit a disruptive job under it, and approvers to approve one.
        </Text>
      )}
    </>
  );
}

function toInput(p: PolicyChoice): PolicyInput {
  const { name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit, shutdown_timeout_seconds, tag_filters, folder_filters } = p;
  return { name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit, shutdown_timeout_seconds, tag_filters, folder_filters };
}

function relaxed(p: PolicyChoice): boolean {
  return !p.require_approval || p.allow_vm_shutdown || p.allow_hard_poweroff;
}

export function JobPoliciesSettings() {
  const policies = usePageModel(() => api.job_policies(), [], []);
  const limits = usePageModel(() => api.concurrency_limits(), [], []);
  const admin = useMe()?.role === "admin";
  const [draft, setDraft] = useState<PolicyInput>(BLANK);
  const [limit, setLimit] = useState<{ scope: LimitScope; name: string; vcenter: string; max: number }>({ scope: "cluster", name: "", vcenter: "", max: 1 });
  if (policies.error && !policies.data) return <ErrorAlert error={policies.error} onRetry={policies.reload} />;
  if (limits.error && !limits.data) return <ErrorAlert error={limits.error} onRetry={limits.reload} />;
  if (!policies.data || !limits.data) return <Skeleton height={300} />;

  const remove = async (name: string) => {
    try {
      await api.job_policy_remove({ name });
      notifications.show({ color: "green", message: `Policy ${name} removed; jobs submitted under it keep it.` });
      policies.reload();
    } catch (e) {
      failed("Not removed", e);
    }
  };
  const clearLimit = async (scope: LimitScope, name: string | null, vcenter: string | null) => {
    try {
      await api.concurrency_limit_set({ scope, name, vcenter, max_running: null });
      limits.reload();
    } catch (e) {
      failed("Not removed", e);
    }
  };

  return (
    <Stack data-testid="job-policies-settings">
      <Group justify="space-between">
        <Title order={5}>Named job policies</Title>
        {admin && (
          <FormButton label="Add a policy" title="New job policy" testId="policy-add" onOpen={() => setDraft(BLANK)} onDone={policies.reload} submit={async () => `Policy ${(await api.job_policy_save(draft)).name} saved.`}>
            <PolicyForm value={draft} onChange={setDraft} fixedName={false} />
          </FormButton>
        )}
      </Group>
      <Text size="sm" c="dimmed">
        A job starts from a named policy; at submission it can only be made stricter. Skipping approval or stopping VMs is possible only under a policy named here.
      </Text>
      <Table data-testid="policies-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Approval</Table.Th>
            <Table.Th>May stop VMs</Table.Th>
            <Table.Th>VMs per host</Table.Th>
            <Table.Th>Filters</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {policies.data.map((p) => (
            <Table.Tr key={p.name} data-testid="policy-row" data-name={p.name}>
              <Table.Td>
                <Text size="sm" fw={500}>
                  {p.name} {relaxed(p) && <Badge size="xs" color="orange">relaxed</Badge>}
                </Text>
                {p.description && (
                  <Text size="xs" c="dimmed">
                    {p.description}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{p.require_approval ? "second person" : "none"}</Table.Td>
              <Table.Td>{p.allow_hard_poweroff ? "shutdown, hard power-off" : p.allow_vm_shutdown ? "shutdown" : "no (pause and ask)"}</Table.Td>
              <Table.Td>{p.vm_limit}</Table.Td>
              <Table.Td>{[...p.tag_filters.map((t) => `tag ${t}`), ...p.folder_filters.map((f) => `folder ${f}`)].join(", ") || "–"}</Table.Td>
              <Table.Td>
                {admin && (
                  <Group gap={4} justify="flex-end">
                    <FormButton
                      label="Edit"
                      variant="subtle"
                      title={`Policy ${p.name}`}
                      testId="policy-edit"
                      onOpen={() => setDraft(toInput(p))}
                      onDone={policies.reload}
                      submit={async () => {
                        const saved = await api.job_policy_save({ ...draft, name: p.name });
                        return `Policy ${saved.name} saved.`;
                      }}
                    >
                      <PolicyForm value={{ ...draft, name: p.name }} onChange={setDraft} fixedName />
                    </FormButton>
                    {p.name !== "default" && (
                      <Button size="xs" variant="subtle" color="red" onClick={() => remove(p.name)} data-testid="policy-remove">
                        Remove
                      </Button>
                    )}
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>

      <Group justify="space-between" mt="md">
        <Title order={5}>How many disruptive jobs run at once</Title>
        {admin && (
          <FormButton
            label="Set a limit"
            title="Concurrency limit"
            testId="limit-set"
            onDone={limits.reload}
            submit={async () => {
              await api.concurrency_limit_set({ scope: limit.scope, name: limit.name.trim() || null, vcenter: limit.vcenter.trim() || null, max_running: limit.max });
              return `${limit.name.trim() || `every ${limit.scope}`}: at most ${limit.max} at once.`;
            }}
          >
            <Select label="Per" data={[{ value: "cluster", label: "Cluster" }, { value: "site", label: "Site" }]} value={limit.scope} onChange={(v) => setLimit({ ...limit, scope: (v ?? "cluster") as LimitScope })} allowDeselect={false} />
            <TextInput label={limit.scope === "site" ? "Site code (blank: the default)" : "Cluster name (blank: the default)"} value={limit.name} onChange={(e) => setLimit({ ...limit, name: e.currentTarget.value })} data-testid="limit-name" />
            {limit.scope === "cluster" && <TextInput label="vCenter (when the name repeats)" value={limit.vcenter} onChange={(e) => setLimit({ ...limit, vcenter: e.currentTarget.value })} />}
            <NumberInput label="At most this many at once" min={1} value={limit.max} onChange={(v) => setLimit({ ...limit, max: typeof v === "number" ? v : 1 })} data-testid="limit-max" />
          </FormButton>
        )}
      </Group>
      <Text size="sm" c="dimmed">
        A job counts against every cluster and site it touches. One per cluster keeps a rolling update from taking two hosts of a cluster down together.
      </Text>
      <Table data-testid="limits-table">
        <Table.Tbody>
          {limits.data.map((l) => (
            <Table.Tr key={`${l.scope}:${l.vcenter ?? ""}:${l.name ?? ""}`} data-testid="limit-row">
              <Table.Td>{l.name ? `${l.scope} ${l.name}${l.vcenter ? ` (${l.vcenter})` : ""}` : `every ${l.scope} (default)`}</Table.Td>
              <Table.Td>at most {l.max_running} at once</Table.Td>
              <Table.Td>
                {admin && l.name && (
                  <Button size="xs" variant="subtle" color="red" onClick={() => clearLimit(l.scope, l.name, l.vcenter)}>
                    Use the default
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
