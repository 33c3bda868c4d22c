// IPAM changes beyond allocation: routing domains (admins), a prefix's edit and removal,
// a chosen address planned, edited and released, and "who uses this IP". Each is one
// registry operation (ipam_domain_add, ipam_prefix_update, ipam_prefix_remove,
// ipam_assign, ipam_assignment_update, ipam_release, ipam_lookup).
import { Alert, Badge, Button, Checkbox, Group, Modal, NumberInput, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState, type FormEvent } from "react";
import type { AddressInfo, Assignment, Prefix, PrefixStatus } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { ago, dateTime, words } from "../lib/format";

function failed(title: string, e: unknown) {
  notifications.show({ color: "red", title, message: toApiError(e).message });
}

/** Add a routing domain (admins). */
export function AddDomain(props: { onAdded: () => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const d = await api.ipam_domain_add({ name, description: description || null });
      notifications.show({ color: "green", message: `Routing domain ${d.name} added.` });
      setOpen(false);
      setName("");
      setDescription("");
      props.onAdded();
    } catch (err) {
      failed("Routing domain not added", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button variant="default" onClick={() => setOpen(true)} data-testid="domain-add">
        Add a routing domain
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title="New routing domain (VRF)">
        <form onSubmit={save}>
          <Stack>
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required data-testid="domain-name" />
            <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
            <Text size="xs" c="dimmed">
              The same prefix may exist once in each routing domain; addresses are looked up within one.
            </Text>
            <Group justify="flex-end">
              <Button type="submit" loading={busy} data-testid="domain-save">
                Add
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}

/** Edit or remove a prefix (operators). */
export function PrefixActions(props: { prefix: Prefix; sites: string[]; onChanged: () => void; onRemoved: () => void }) {
  const p = props.prefix;
  const [editing, setEditing] = useState(false);
  const [removing, setRemoving] = useState(false);
  const [status, setStatus] = useState<PrefixStatus>(p.status);
  const [site, setSite] = useState<string | null>(p.site);
  const [vlan, setVlan] = useState<number | string>(p.vlan_id ?? "");
  const [description, setDescription] = useState(p.description ?? "");
  const [threshold, setThreshold] = useState<number | string>(Math.round(p.utilization_threshold * 100));
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.ipam_prefix_update({
        domain: p.routing_domain,
        cidr: p.cidr,
        status,
        site: site ?? "",
        vlan_id: typeof vlan === "number" ? vlan : 0,
        description,
        utilization_threshold: typeof threshold === "number" ? threshold / 100 : null,
      });
      notifications.show({ color: "green", message: `${p.cidr} saved.` });
      setEditing(false);
      props.onChanged();
    } catch (err) {
      failed("Prefix not saved", err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      const done = await api.ipam_prefix_remove({ domain: p.routing_domain, cidr: p.cidr });
      notifications.show({ color: "green", message: done.message });
      setRemoving(false);
      props.onRemoved();
    } catch (err) {
      failed("Prefix not removed", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Group gap="xs">
      <Button size="xs" variant="light" onClick={() => setEditing(true)} data-testid="prefix-edit">
        Edit prefix
      </Button>
      <Button size="xs" variant="subtle" color="red" onClick={() => setRemoving(true)} data-testid="prefix-remove">
        Remove…
      </Button>
      <Modal opened={editing} onClose={() => setEditing(false)} title={`Edit ${p.cidr}`}>
        <form onSubmit={save}>
          <Stack>
            <Select label="Status" data={["active", "reserved", "deprecated"]} value={status} onChange={(v) => setStatus((v ?? p.status) as PrefixStatus)} allowDeselect={false} />
            <Select label="Site" placeholder="none" data={props.sites} value={site} onChange={setSite} clearable />
            <NumberInput label="VLAN" placeholder="none" value={vlan} onChange={setVlan} min={1} max={4094} />
            <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} data-testid="prefix-description" />
            <NumberInput label="Finding above (% used)" value={threshold} onChange={setThreshold} min={1} max={100} />
            <Group justify="flex-end">
              <Button type="submit" loading={busy} data-testid="prefix-save">
                Save
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Modal opened={removing} onClose={() => setRemoving(false)} title={`Remove ${p.cidr}?`}>
        <Stack>
          <Text size="sm">
            Its child prefixes and planned addresses stay, and belong to the prefix above it{p.parent ? ` (${p.parent})` : " (none: they become top-level)"}.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRemoving(false)}>
              Cancel
            </Button>
            <Button color="red" onClick={remove} loading={busy} data-testid="prefix-remove-confirm">
              Remove {p.cidr}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Group>
  );
}

/** Plan a chosen address (operators). */
export function AssignAddress(props: { domain: string; onDone: () => void }) {
  const [address, setAddress] = useState("");
  const [hostname, setHostname] = useState("");
  const [mac, setMac] = useState("");
  const [reserve, setReserve] = useState(false);
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const a = await api.ipam_assign({
        domain: props.domain,
        address,
        hostname: hostname || null,
        mac_address: mac || null,
        description: null,
        reserve,
      });
      notifications.show({ color: "green", message: `${a.status === "reserved" ? "Reserved" : "Planned"} ${a.address} in ${a.prefix}.` });
      setAddress("");
      setHostname("");
      setMac("");
      props.onDone();
    } catch (err) {
      failed("Address not planned", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={save}>
      <Group align="flex-end" gap="xs" data-testid="assign">
        <TextInput label="A chosen address" placeholder="10.0.0.25" value={address} onChange={(e) => setAddress(e.currentTarget.value)} required w={160} className="mono" data-testid="assign-address" />
        <TextInput label="Host name" placeholder="optional" value={hostname} onChange={(e) => setHostname(e.currentTarget.value)} w={170} data-testid="assign-hostname" />
        <TextInput label="MAC" placeholder="optional" value={mac} onChange={(e) => setMac(e.currentTarget.value)} w={170} />
        <Checkbox label="Reserve" checked={reserve} onChange={(e) => setReserve(e.currentTarget.checked)} mb={8} />
        <Button type="submit" variant="light" loading={busy} data-testid="assign-save">
          Plan it
        </Button>
      </Group>
    </form>
  );
}

/** Edit or release one planned address (operators). */
export function AssignmentActions(props: { domain: string; a: Assignment; onChanged: () => void }) {
  const a = props.a;
  const [editing, setEditing] = useState(false);
  const [hostname, setHostname] = useState(a.hostname ?? "");
  const [description, setDescription] = useState(a.description ?? "");
  const [busy, setBusy] = useState(false);
  const single = !a.address.includes("/");
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.ipam_assignment_update({ domain: props.domain, address: a.address, hostname, mac_address: null, description, status: null });
      setEditing(false);
      props.onChanged();
    } catch (err) {
      failed("Not saved", err);
    } finally {
      setBusy(false);
    }
  };
  const release = async () => {
    try {
      const gone = await api.ipam_release({ domain: props.domain, address: a.address });
      notifications.show({ color: "green", message: `Released ${gone.address}.` });
      props.onChanged();
    } catch (err) {
      failed("Not released", err);
    }
  };
  if (!single) return null;
  return (
    <Group gap={4} wrap="nowrap">
      <Button size="compact-xs" variant="subtle" onClick={() => setEditing(true)}>
        Edit
      </Button>
      <Button size="compact-xs" variant="subtle" color="red" onClick={release} data-testid="assignment-release">
        Release
      </Button>
      <Modal opened={editing} onClose={() => setEditing(false)} title={`Edit ${a.address}`}>
        <form onSubmit={save}>
          <Stack>
            <TextInput label="Host name" value={hostname} onChange={(e) => setHostname(e.currentTarget.value)} />
            <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
            <Group justify="flex-end">
              <Button type="submit" loading={busy}>
                Save
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Group>
  );
}

/** "Who uses this IP": the prefixes holding it, its plans, and every report of it over time. */
export function WhoUses(props: { domains: string[] }) {
  const [address, setAddress] = useState("");
  const [chosen, setDomain] = useState<string>(props.domains[0] ?? "default");
  // The page's domain filter may narrow the list: never look up in a domain it no longer shows.
  const domain = props.domains.includes(chosen) ? chosen : (props.domains[0] ?? "default");
  const [info, setInfo] = useState<AddressInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const look = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setInfo(await api.ipam_lookup({ domain, address }));
    } catch (err) {
      setInfo(null);
      setError(toApiError(err).message);
    }
  };
  return (
    <Stack gap="xs">
      <form onSubmit={look}>
        <Group align="flex-end" gap="xs">
          <TextInput label="Who uses this IP?" placeholder="10.100.0.12" value={address} onChange={(e) => setAddress(e.currentTarget.value)} required w={200} className="mono" data-testid="lookup-address" />
          {props.domains.length > 1 && <Select label="Routing domain" data={props.domains} value={domain} onChange={(v) => setDomain(v ?? "default")} allowDeselect={false} w={160} />}
          <Button type="submit" variant="default" data-testid="lookup-go">
            Look up
          </Button>
        </Group>
      </form>
      {error && <Alert color="red">{error}</Alert>}
      {info && (
        <Stack gap={4} data-testid="lookup-result">
          <Text size="sm">
            <b className="mono">{info.address}</b> in {info.routing_domain}: inside {info.prefixes.map((p) => p.cidr).join(" › ") || "no prefix"}
          </Text>
          {info.assignments.length === 0 ? (
            <Text size="sm" c="dimmed">
              Not planned.
            </Text>
          ) : (
            info.assignments.map((a) => (
              <Text key={a.id} size="sm" data-testid="lookup-assignment">
                {words(a.status)} {a.address} for {a.hostname ?? "–"} by {a.created_by ?? "someone"} {ago(a.created_at)}
              </Text>
            ))
          )}
          <Table data-testid="lookup-observations">
            <Table.Tbody>
              {info.observations.length === 0 ? (
                <Table.Tr>
                  <Table.Td c="dimmed">Nobody reports it in use.</Table.Td>
                </Table.Tr>
              ) : (
                info.observations.map((o, i) => (
                  <Table.Tr key={i}>
                    <Table.Td>{o.hostname ?? words(o.entity_type)}</Table.Td>
                    <Table.Td>{words(o.source)}</Table.Td>
                    <Table.Td className="mono">{o.mac_address ?? "–"}</Table.Td>
                    <Table.Td>{o.gone_at ? <Badge color="gray">gone {dateTime(o.gone_at)}</Badge> : <Badge color="green">seen {ago(o.last_seen)}</Badge>}</Table.Td>
                  </Table.Tr>
                ))
              )}
            </Table.Tbody>
          </Table>
        </Stack>
      )}
    </Stack>
  );
}
