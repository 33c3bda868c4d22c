// IPAM: the prefix tree of each routing domain with utilization planned and observed side
// by side (`ipam_page`), narrowed to a site (its prefixes, the addresses seen in use where
// site inference placed what carries them, and their findings), open findings with
// acknowledgement (`finding_acknowledge`, `findings_run`), one search box over everything
// (`search`), and a prefix's drawer
// (`ipam_prefix`) with its free blocks (`ipam_available`) and allocation (`ipam_allocate`).
import {
  Badge,
  Button,
  Card,
  Divider,
  Drawer,
  Group,
  NumberInput,
  Progress,
  Select,
  SimpleGrid,
  Skeleton,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconSearch } from "@tabler/icons-react";
import { useState } from "react";
import type { AvailableRanges, Finding, IpamPage as IpamModel, Prefix, SearchResults, SiteObservation } from "../api/bindings.gen";
import { api, toApiError } from "../api/client";
import { EmptyState, ErrorAlert, Evidence, Facts, PageHeader, StatusBadge } from "../components/common";
import { AddDomain, AssignAddress, AssignmentActions, PrefixActions, WhoUses } from "./IpamEdit";
import { ago, words } from "../lib/format";
import { useMay, useMe } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";

/** A prefix row of the tree: where it sits and what to show. */
export type TreeRow = { key: string; domain: string; prefix: Prefix; indent: number };

/** The trees as rows in order, each prefix indented by its depth, filtered by a text. */
export function treeRows(model: Pick<IpamModel, "trees">, filter = ""): TreeRow[] {
  const f = filter.trim().toLowerCase();
  const rows: TreeRow[] = [];
  for (const t of model.trees) {
    for (const p of t.prefixes) {
      if (f && ![p.cidr, p.site, p.description, p.vlan_id?.toString()].some((x) => x?.toLowerCase().includes(f))) continue;
      rows.push({ key: `${t.domain.name}/${p.cidr}`, domain: t.domain.name, prefix: p, indent: f ? 0 : p.depth });
    }
  }
  return rows;
}

/** Fraction 0–1 as a percentage with one decimal (utilization of big prefixes is often tiny). */
export function share(v: number): string {
  if (v > 0 && v < 0.001) return "<0.1 %";
  return `${(v * 100).toFixed(1)} %`;
}

/** Green below 70 %, yellow up to the threshold, red above it. */
export function fillColor(v: number, threshold: number): string {
  if (v > threshold) return "red";
  if (v >= 0.7) return "yellow";
  return "green";
}

function severityColor(s: string): string {
  return s === "error" ? "red" : s === "warning" ? "yellow" : "blue";
}

export function IpamPage() {
  const [domain, setDomain] = useState<string | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const page = usePageModel(() => api.ipam_page({ domain, within: null, site }), [domain, site], ["inventory"]);
  const may = useMay();
  const me = useMe();
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState<{ domain: string; cidr: string } | null>(null);
  const [running, setRunning] = useState(false);

  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const m = page.data;
  if (!m) return <Skeleton height={400} />;
  const rows = treeRows(m, filter);
  const openCount = Object.values(m.findings_by_type).reduce((a, b) => a + (b ?? 0), 0);

  const runFindings = async () => {
    setRunning(true);
    try {
      const r = await api.findings_run();
      notifications.show({ color: "green", message: `Findings: ${r.opened} opened, ${r.resolved} resolved, ${r.open_total} open.` });
      page.reload();
    } catch (e) {
      notifications.show({ color: "red", title: "Findings did not run", message: toApiError(e).message });
    } finally {
      setRunning(false);
    }
  };

  return (
    <Stack gap="sm" data-testid="ipam">
      <PageHeader
        title="IPAM"
        description="Prefixes per routing domain, with what is planned and what is seen in use side by side, and the findings."
        actions={
          <Group gap="xs">
            {me?.role === "admin" && <AddDomain onAdded={page.reload} />}
            {may.plan_ipam && (
              <Button variant="light" onClick={runFindings} loading={running} data-testid="findings-run">
                Run findings now
              </Button>
            )}
          </Group>
        }
      />
      <SearchBox />
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Prefixes
          </Text>
          <Text size="xl" fw={700}>
            {m.prefixes_total}
          </Text>
          <Text size="sm" c="dimmed">
            in {m.trees.length} routing domain(s)
          </Text>
        </Card>
        <Card withBorder data-testid="findings-summary">
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Open findings{site ? ` at ${site}` : ""}
          </Text>
          <Text size="xl" fw={700}>
            {openCount}
          </Text>
          <Group gap={4}>
            {Object.entries(m.findings_by_type).map(([t, n]) => (
              <Badge key={t} size="sm" variant="light">
                {words(t)} {n}
              </Badge>
            ))}
          </Group>
        </Card>
        <Card withBorder>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            Last findings run
          </Text>
          {m.last_findings_run ? (
            <Text size="sm" mt="xs">
              {ago(m.last_findings_run.finished_at)} by {m.last_findings_run.run_by} ({m.last_findings_run.duration_ms} ms):{" "}
              {m.last_findings_run.opened} opened, {m.last_findings_run.resolved} resolved
            </Text>
          ) : (
            <Text size="sm" c="dimmed" mt="xs">
              Not run yet: it runs after every sync.
            </Text>
          )}
        </Card>
      </SimpleGrid>

      <Group gap="xs">
        <Select
          placeholder="Every routing domain"
          data={m.trees.map((t) => t.domain.name)}
          value={domain}
          onChange={setDomain}
          clearable
          w={220}
          aria-label="Routing domain"
        />
        <Select
          placeholder="Every site"
          data={m.sites}
          value={site}
          onChange={setSite}
          clearable
          searchable
          w={180}
          aria-label="Site"
          data-testid="ipam-site"
        />
        <TextInput
          placeholder="Filter: prefix, site, VLAN"
          value={filter}
          onChange={(e) => setFilter(e.currentTarget.value)}
          w={260}
          aria-label="Filter prefixes"
          data-testid="prefix-filter"
        />
        {m.prefixes_total > rows.length && !filter ? (
          <Text size="xs" c="dimmed">
            Showing the first {rows.length} of {m.prefixes_total} prefixes.
          </Text>
        ) : null}
      </Group>

      {m.prefixes_total === 0 ? (
        site ? (
          <EmptyState title={`No prefixes at ${site}`} testId="ipam-empty">
            No prefix has this site, and no prefix without one holds an address seen here.
          </EmptyState>
        ) : (
          <EmptyState title="No prefixes yet" testId="ipam-empty">
            Add one below or with `eio ipam prefix add 10.0.0.0/16`; addresses the syncs see show up against them.
          </EmptyState>
        )
      ) : (
        <Table striped highlightOnHover data-testid="prefix-tree">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Domain</Table.Th>
              <Table.Th>Prefix</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Site</Table.Th>
              <Table.Th>VLAN</Table.Th>
              <Table.Th w={180}>Planned</Table.Th>
              <Table.Th w={180}>Observed</Table.Th>
              <Table.Th>Children</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((r) => {
              const u = r.prefix.utilization;
              return (
                <Table.Tr
                  key={r.key}
                  data-testid="prefix-row"
                  data-cidr={r.prefix.cidr}
                  style={{ cursor: "pointer" }}
                  onClick={() => setOpen({ domain: r.domain, cidr: r.prefix.cidr })}
                >
                  <Table.Td>{r.domain}</Table.Td>
                  <Table.Td className="mono" style={{ paddingLeft: 12 + r.indent * 18 }}>
                    {r.prefix.cidr}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge value={r.prefix.status} />
                  </Table.Td>
                  <Table.Td>{r.prefix.site ?? "–"}</Table.Td>
                  <Table.Td>{r.prefix.vlan_id ?? "–"}</Table.Td>
                  <Table.Td>
                    <Tooltip label={`${u.planned} of ${u.usable} usable addresses planned`}>
                      <div>
                        <Progress value={u.planned_ratio * 100} color={fillColor(u.planned_ratio, r.prefix.utilization_threshold)} size="sm" />
                        <Text size="xs">{share(u.planned_ratio)}</Text>
                      </div>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td>
                    <Tooltip label={`${u.observed} addresses seen in use`}>
                      <div>
                        <Progress value={u.observed_ratio * 100} color={fillColor(u.observed_ratio, r.prefix.utilization_threshold)} size="sm" />
                        <Text size="xs">{share(u.observed_ratio)}</Text>
                      </div>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {u.child_prefixes} ({share(u.child_ratio)})
                    </Text>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}

      {site ? <SiteAddresses site={site} list={m.observed} total={m.observed_total} /> : null}

      {may.plan_ipam ? <AddPrefix domains={m.trees.map((t) => t.domain.name)} sites={m.sites} onAdded={page.reload} /> : null}
      <WhoUses domains={m.trees.map((t) => t.domain.name)} />

      <Divider label={`Open findings${site ? ` at ${site}` : ""} (${openCount})`} labelPosition="left" />
      <FindingsTable findings={m.findings} site={site} canAcknowledge={may.plan_ipam} onChanged={page.reload} />

      <Drawer opened={open !== null} onClose={() => setOpen(null)} position="right" size="xl" title="Prefix">
        {open && (
          <PrefixDetail
            domain={open.domain}
            cidr={open.cidr}
            sites={m.sites}
            onChanged={page.reload}
            onRemoved={() => {
              setOpen(null);
              page.reload();
            }}
          />
        )}
      </Drawer>
    </Stack>
  );
}

/** The addresses seen in use at a site: where inference placed what carries them. */
function SiteAddresses(props: { site: string; list: SiteObservation[]; total: number }) {
  return (
    <Stack gap={4} data-testid="site-addresses">
      <Divider label={`Addresses seen in use at ${props.site} (${props.total})`} labelPosition="left" />
      {props.list.length === 0 ? (
        <Text size="sm" c="dimmed">
          Nothing seen in use here: no VM, host or server placed at {props.site} reports an address.
        </Text>
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Domain</Table.Th>
              <Table.Th>Address</Table.Th>
              <Table.Th>Carried by</Table.Th>
              <Table.Th>Host name</Table.Th>
              <Table.Th>MAC</Table.Th>
              <Table.Th>Seen</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {props.list.map((o) => (
              <Table.Tr key={`${o.routing_domain}/${o.address}/${o.source}/${o.entity_id}`} data-testid="site-address" data-address={o.address}>
                <Table.Td>{o.routing_domain}</Table.Td>
                <Table.Td className="mono">{o.address}</Table.Td>
                <Table.Td>
                  {o.entity_name ?? o.entity_id}{" "}
                  <Text span size="xs" c="dimmed">
                    ({words(o.entity_type)}, {words(o.source)})
                  </Text>
                </Table.Td>
                <Table.Td>{o.hostname ?? "–"}</Table.Td>
                <Table.Td className="mono">{o.mac_address ?? "–"}</Table.Td>
                <Table.Td>{ago(o.last_seen)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {props.total > props.list.length ? (
        <Text size="xs" c="dimmed">
          Showing the first {props.list.length} of {props.total}.
        </Text>
      ) : null}
    </Stack>
  );
}

function SearchBox() {
  const [q, setQ] = useState("");
  const [result, setResult] = useState<SearchResults | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    if (!q.trim()) return;
    setBusy(true);
    try {
      setResult(await api.search({ query: q, limit: 20 }));
    } catch (e) {
      notifications.show({ color: "red", title: "Search failed", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap={4}>
      <Group gap="xs">
        <TextInput
          placeholder="Search VMs, hosts, servers, service tags, IPs, MACs"
          leftSection={<IconSearch size={16} />}
          value={q}
          onChange={(e) => setQ(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") void run();
          }}
          w={420}
          aria-label="Search everything"
          data-testid="ipam-search"
        />
        <Button variant="default" onClick={run} loading={busy}>
          Search
        </Button>
      </Group>
      {result ? (
        result.hits.length === 0 ? (
          <Text size="sm" c="dimmed" data-testid="search-results">
            Nothing matches “{result.query}”.
          </Text>
        ) : (
          <Table data-testid="search-results">
            <Table.Tbody>
              {result.hits.map((h, i) => (
                <Table.Tr key={`${h.kind}-${h.id ?? h.label}-${i}`} data-testid="search-hit">
                  <Table.Td>
                    <Badge variant="light" size="sm">
                      {words(h.kind)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{h.label}</Table.Td>
                  <Table.Td>
                    <Text size="xs" c="dimmed">
                      {words(h.field)}: {h.matched}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">{h.detail ?? ""}</Text>
                  </Table.Td>
                  <Table.Td>{h.score.toFixed(2)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )
      ) : null}
    </Stack>
  );
}

function AddPrefix(props: { domains: string[]; sites: string[]; onAdded: () => void }) {
  const [cidr, setCidr] = useState("");
  const [domain, setDomain] = useState<string | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [vlan, setVlan] = useState<number | string>("");
  const [busy, setBusy] = useState(false);
  const add = async () => {
    setBusy(true);
    try {
      const p = await api.ipam_prefix_add({
        cidr,
        domain,
        site,
        vlan_id: typeof vlan === "number" ? vlan : null,
        status: null,
        description: null,
        utilization_threshold: null,
      });
      notifications.show({ color: "green", message: `Added ${p.cidr}${p.parent ? ` inside ${p.parent}` : ""}.` });
      setCidr("");
      props.onAdded();
    } catch (e) {
      notifications.show({ color: "red", title: "Prefix not added", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Group align="flex-end" gap="xs" data-testid="prefix-add">
      <TextInput label="Add prefix" placeholder="10.20.0.0/24" value={cidr} onChange={(e) => setCidr(e.currentTarget.value)} w={200} data-testid="prefix-add-cidr" />
      <Select label="Routing domain" placeholder="default" data={props.domains} value={domain} onChange={setDomain} clearable w={160} data-testid="prefix-add-domain" />
      <Select label="Site" placeholder="none" data={props.sites} value={site} onChange={setSite} clearable searchable w={160} />
      <NumberInput label="VLAN" value={vlan} onChange={setVlan} min={1} max={4094} w={100} />
      <Button onClick={add} loading={busy} disabled={!cidr.trim()} data-testid="prefix-add-save">
        Add
      </Button>
    </Group>
  );
}

function FindingsTable(props: {
  findings: Finding[];
  site: string | null;
  canAcknowledge: boolean;
  onChanged: () => void;
}) {
  const [notes, setNotes] = useState<Record<string, string>>({});
  const acknowledge = async (f: Finding) => {
    try {
      await api.finding_acknowledge({ id: f.id, note: notes[f.id] ?? "" });
      notifications.show({ color: "green", message: "Acknowledged." });
      props.onChanged();
    } catch (e) {
      notifications.show({ color: "red", title: "Not acknowledged", message: toApiError(e).message });
    }
  };
  if (props.findings.length === 0) {
    return (
      <EmptyState title={props.site ? `No open findings at ${props.site}` : "No open findings"} testId="findings-empty">
        {props.site ? "Findings of its prefixes, and of addresses seen where inference placed what carries them. " : ""}
        Duplicates, MAC conflicts, unplanned or stale addresses and full prefixes show here after each sync.
      </EmptyState>
    );
  }
  return (
    <Table striped data-testid="findings-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th w={110}>Severity</Table.Th>
          <Table.Th>Type</Table.Th>
          <Table.Th>Subject</Table.Th>
          <Table.Th>What</Table.Th>
          <Table.Th>Since</Table.Th>
          <Table.Th>Acknowledged</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.findings.map((f) => (
          <Table.Tr key={f.id} data-testid="finding-row" data-type={f.type}>
            <Table.Td>
              <Badge color={severityColor(f.severity)} variant="light">
                {f.severity}
              </Badge>
            </Table.Td>
            <Table.Td>{words(f.type)}</Table.Td>
            <Table.Td className="mono">
              {f.address ?? f.prefix ?? f.subject_key}
              {f.routing_domain && f.routing_domain !== "default" ? ` (${f.routing_domain})` : ""}
            </Table.Td>
            <Table.Td>
              <Text size="sm">{f.message}</Text>
            </Table.Td>
            <Table.Td>{ago(f.first_seen_at)}</Table.Td>
            <Table.Td>
              {f.acknowledged_at ? (
                <Tooltip label={f.acknowledge_note ?? ""}>
                  <Text size="sm">by {f.acknowledged_by ?? "?"}</Text>
                </Tooltip>
              ) : props.canAcknowledge ? (
                <Group gap={4} wrap="nowrap">
                  <TextInput
                    size="xs"
                    placeholder="Why"
                    value={notes[f.id] ?? ""}
                    onChange={(e) => {
                      const v = e.currentTarget.value;
                      setNotes((n) => ({ ...n, [f.id]: v }));
                    }}
                    aria-label="Acknowledgement note"
                  />
                  <Button size="xs" variant="light" onClick={() => acknowledge(f)} disabled={!(notes[f.id] ?? "").trim()}>
                    Acknowledge
                  </Button>
                </Group>
              ) : (
                "–"
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function PrefixDetail(props: { domain: string; cidr: string; sites: string[]; onChanged: () => void; onRemoved: () => void }) {
  const page = usePageModel(() => api.ipam_prefix({ domain: props.domain, cidr: props.cidr }), [props.domain, props.cidr], ["inventory"]);
  const may = useMay();
  const [length, setLength] = useState<number | string>("");
  const [hostname, setHostname] = useState("");
  const [fits, setFits] = useState<AvailableRanges | null>(null);
  const [allocated, setAllocated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const d = page.data;
  if (!d) return <Skeleton height={300} />;
  const p = d.prefix;
  const u = p.utilization;
  const n = typeof length === "number" ? length : null;

  const allocate = async () => {
    setBusy(true);
    try {
      const a = await api.ipam_allocate({
        domain: props.domain,
        prefix: p.cidr,
        length: n,
        hostname: hostname.trim() || null,
        mac_address: null,
        description: null,
        reserve: false,
        vlan_id: null,
      });
      const what = a.assignment ? a.assignment.address : (a.prefix?.cidr ?? "");
      setAllocated(what);
      notifications.show({ color: "green", message: `Allocated ${what}.` });
      setHostname("");
      page.reload();
      props.onChanged();
    } catch (e) {
      notifications.show({ color: "red", title: "Nothing allocated", message: toApiError(e).message });
    } finally {
      setBusy(false);
    }
  };
  const findFits = async () => {
    try {
      setFits(await api.ipam_available({ domain: props.domain, prefix: p.cidr, length: n, limit: 50 }));
    } catch (e) {
      notifications.show({ color: "red", title: "No answer", message: toApiError(e).message });
    }
  };

  return (
    <Stack data-testid="prefix-detail">
      <Group gap="xs">
        <Title order={3} className="mono">
          {p.cidr}
        </Title>
        <StatusBadge value={p.status} />
        <Badge variant="outline">{p.routing_domain}</Badge>
      </Group>
      <Facts
        rows={[
          ["Inside", d.ancestors.length ? d.ancestors.map((a) => a.cidr).join(" › ") : "–"],
          ["Site", p.site],
          ["VLAN", p.vlan_id?.toString() ?? null],
          ["Usable addresses", `${u.usable} of ${u.addresses}`],
          ["Planned", `${u.planned} (${share(u.planned_ratio)})`],
          ["Seen in use", `${u.observed} (${share(u.observed_ratio)})`],
          ["Child prefixes", `${u.child_prefixes}, covering ${u.child_addresses} (${share(u.child_ratio)})`],
          ["Description", p.description],
        ]}
      />
      {may.plan_ipam && (
        <PrefixActions
          prefix={p}
          sites={props.sites}
          onChanged={() => {
            page.reload();
            props.onChanged();
          }}
          onRemoved={props.onRemoved}
        />
      )}
      {may.plan_ipam ? (
        <Group align="flex-end" gap="xs" data-testid="allocate">
          <TextInput label="Host name" placeholder="optional" value={hostname} onChange={(e) => setHostname(e.currentTarget.value)} w={180} disabled={n !== null} />
          <NumberInput label="Or a block of length /" placeholder="single address" value={length} onChange={setLength} min={0} max={128} w={170} />
          <Button onClick={allocate} loading={busy} data-testid="ipam-allocate">
            {n === null ? "Allocate next address" : `Allocate next /${n}`}
          </Button>
          <Button variant="default" onClick={findFits} disabled={n === null}>
            Where does a /{n ?? "N"} fit?
          </Button>
        </Group>
      ) : null}
      {allocated ? (
        <Text size="sm" fw={600} data-testid="ipam-allocated">
          Allocated <span className="mono">{allocated}</span>
        </Text>
      ) : null}
      {fits ? (
        <Text size="sm" data-testid="fits">
          {fits.blocks_total} free block(s) hold a /{fits.length}:{" "}
          {fits.blocks.map((b) => `${b.cidr} (${b.fits})`).join(", ") || "none"}
        </Text>
      ) : null}
      <Divider label={`Free space (${d.free_total} block(s))`} labelPosition="left" />
      <Group gap={4} data-testid="free-blocks">
        {d.free.map((b) => (
          <Badge key={b.cidr} variant="light" color="green" className="mono" tt="none">
            {b.cidr}
          </Badge>
        ))}
      </Group>
      {d.children.length > 0 ? (
        <>
          <Divider label={`Child prefixes (${d.children_total})`} labelPosition="left" />
          <Text size="sm" className="mono">
            {d.children.map((c) => c.cidr).join(", ")}
          </Text>
        </>
      ) : null}
      <Divider label={`Planned (${d.assignments_total})`} labelPosition="left" />
      {may.plan_ipam && (
        <AssignAddress
          domain={props.domain}
          onDone={() => {
            page.reload();
            props.onChanged();
          }}
        />
      )}
      <Table data-testid="assignments">
        <Table.Tbody>
          {d.assignments.map((a) => (
            <Table.Tr key={a.id} data-testid="assignment-row" data-address={a.address}>
              <Table.Td className="mono">{a.address}</Table.Td>
              <Table.Td>{a.status}</Table.Td>
              <Table.Td>{a.hostname ?? "–"}</Table.Td>
              <Table.Td>{a.created_by ?? ""}</Table.Td>
              <Table.Td>
                {may.plan_ipam && (
                  <AssignmentActions
                    domain={props.domain}
                    a={a}
                    onChanged={() => {
                      page.reload();
                      props.onChanged();
                    }}
                  />
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Divider label={`Seen in use (${d.observed_total})`} labelPosition="left" />
      <Table data-testid="observed">
        <Table.Tbody>
          {d.observed.map((o) => (
            <Table.Tr key={o.address}>
              <Table.Td className="mono">{o.address}</Table.Td>
              <Table.Td>
                {o.observations.map((x) => `${x.entity_name ?? words(x.entity_type)} (${words(x.source)}${x.mac_address ? `, ${x.mac_address}` : ""})`).join("; ")}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {d.findings.length > 0 ? (
        <>
          <Divider label="Findings here" labelPosition="left" />
          {d.findings.map((f) => (
            <Card key={f.id} withBorder padding="xs">
              <Group gap="xs">
                <Badge color={severityColor(f.severity)} variant="light">
                  {f.severity}
                </Badge>
                <Text size="sm">{f.message}</Text>
              </Group>
              <Evidence value={f.details} />
            </Card>
          ))}
        </>
      ) : null}
    </Stack>
  );
}
