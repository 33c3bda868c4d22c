// Settings → Sites (`sites_page`): regions, countries and sites; the inference rules; run
// inference; conflicts with every opinion and its evidence, settled by a pin; the pins, with
// who pinned what and why, and unpinning (`site_unpin`). Admins manage geography and rules,
// operators run inference and pin; each action is one registry operation.
import { Alert, Badge, Button, Group, NumberInput, Select, Skeleton, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import type { InferenceMethod, RulePreview, SiteConflict, SitePin, SiteStatus } from "../api/bindings.gen";
import { api } from "../api/client";
import { EmptyState, ErrorAlert, StatusBadge } from "../components/common";
import { failed, FormButton } from "../components/FormButton";
import { ago, dateTime, percent, words } from "../lib/format";
import { useMay, useMe } from "../lib/me";
import { usePageModel } from "../lib/usePageModel";

/** What an operator calls each kind of placed object. */
export function kindLabel(kind: string): string {
  const labels: Record<string, string> = { virtual_machine: "VM", esxi_host: "ESXi host", physical_server: "server", ip_observation: "observed address" };
  return labels[kind] ?? words(kind);
}

export function SitesSettings() {
  const page = usePageModel(() => api.sites_page(), [], ["inventory"]);
  const me = useMe();
  const may = useMay();
  const admin = me?.role === "admin";
  const [region, setRegion] = useState({ code: "", name: "" });
  const [country, setCountry] = useState({ iso_code: "", region: "", name: "" });
  const [site, setSite] = useState({ code: "", country: "", name: "", timezone: "UTC" });
  const [rule, setRule] = useState<{ site: string; method: InferenceMethod; pattern: string; vlan: number | string }>({ site: "", method: "vcenter", pattern: "", vlan: "" });
  const [inferring, setInferring] = useState(false);
  const [preview, setPreview] = useState<RulePreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  if (page.error && !page.data) return <ErrorAlert error={page.error} onRetry={page.reload} />;
  const m = page.data;
  if (!m) return <Skeleton height={300} />;

  // A preview answers for the rule as it was: any edit takes it away.
  const editRule = (r: typeof rule) => {
    setRule(r);
    setPreview(null);
  };
  const ruleInput = () => ({
    site: rule.site,
    method: rule.method,
    pattern: rule.method === "vlan" ? null : rule.pattern,
    vlan_id: rule.method === "vlan" && typeof rule.vlan === "number" ? rule.vlan : null,
    confidence: null,
    description: null,
  });
  const runPreview = async () => {
    setPreviewing(true);
    try {
      setPreview(await api.site_rule_preview(ruleInput()));
    } catch (e) {
      failed("No preview", e);
    } finally {
      setPreviewing(false);
    }
  };
  const infer = async () => {
    setInferring(true);
    try {
      const counts = await api.site_infer();
      notifications.show({ color: "green", message: `Inference: ${counts.map((c) => `${c.method} ${c.total}`).join(", ")}.` });
      page.reload();
    } catch (e) {
      failed("Inference did not run", e);
    } finally {
      setInferring(false);
    }
  };
  const setStatus = async (code: string, status: SiteStatus) => {
    try {
      await api.site_update({ code, name: null, timezone: null, status });
      page.reload();
    } catch (e) {
      failed("Not changed", e);
    }
  };
  const removeSite = async (code: string) => {
    try {
      notifications.show({ color: "green", message: (await api.site_remove({ code })).message });
      page.reload();
    } catch (e) {
      failed("Not removed", e);
    }
  };
  const removeRule = async (id: string) => {
    try {
      notifications.show({ color: "green", message: (await api.site_rule_remove({ id })).message });
      page.reload();
    } catch (e) {
      failed("Not removed", e);
    }
  };

  return (
    <Stack data-testid="sites-settings">
      <Group justify="space-between">
        <Title order={5}>Regions, countries and sites</Title>
        <Group gap="xs">
          {admin && (
            <>
              <FormButton label="Add a region" title="New region" testId="region-add" onDone={page.reload} submit={async () => `Region ${(await api.region_add(region)).code} added.`}>
                <TextInput label="Code" placeholder="EMEA" value={region.code} onChange={(e) => setRegion({ ...region, code: e.currentTarget.value })} required data-testid="region-code" />
                <TextInput label="Name" value={region.name} onChange={(e) => setRegion({ ...region, name: e.currentTarget.value })} required data-testid="region-name" />
              </FormButton>
              <FormButton label="Add a country" title="New country" testId="country-add" onDone={page.reload} submit={async () => `Country ${(await api.country_add(country)).iso_code} added.`}>
                <TextInput label="ISO code" placeholder="DE" value={country.iso_code} onChange={(e) => setCountry({ ...country, iso_code: e.currentTarget.value })} required data-testid="country-iso" />
                <Select label="Region" data={m.regions.map((r) => r.code)} value={country.region || null} onChange={(v) => setCountry({ ...country, region: v ?? "" })} required data-testid="country-region" />
                <TextInput label="Name" value={country.name} onChange={(e) => setCountry({ ...country, name: e.currentTarget.value })} required data-testid="country-name" />
              </FormButton>
              <FormButton
                label="Add a site"
                title="New site"
                testId="site-add"
                onDone={page.reload}
                submit={async () => `Site ${(await api.site_add({ ...site, name: site.name || null, timezone: site.timezone || null, status: null })).code} added.`}
              >
                <TextInput label="Code" placeholder="US-EAST-01" value={site.code} onChange={(e) => setSite({ ...site, code: e.currentTarget.value })} required data-testid="site-code" />
                <Select label="Country" data={m.countries.map((c) => ({ value: c.iso_code, label: `${c.iso_code} — ${c.name}` }))} value={site.country || null} onChange={(v) => setSite({ ...site, country: v ?? "" })} required data-testid="site-country" />
                <TextInput label="Name" value={site.name} onChange={(e) => setSite({ ...site, name: e.currentTarget.value })} />
                <TextInput label="Time zone" description="IANA, e.g. Europe/Berlin" value={site.timezone} onChange={(e) => setSite({ ...site, timezone: e.currentTarget.value })} />
              </FormButton>
            </>
          )}
        </Group>
      </Group>
      {m.sites.length === 0 ? (
        <EmptyState title="No sites yet">{admin ? "Add a region, a country in it, then a site." : "An admin adds regions, countries and sites."}</EmptyState>
      ) : (
        <Table data-testid="sites-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Code</Table.Th>
              <Table.Th>Name</Table.Th>
              <Table.Th>Country / region</Table.Th>
              <Table.Th>Time zone</Table.Th>
              <Table.Th>Prefixes / rules</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {m.sites.map((s) => (
              <Table.Tr key={s.code} data-testid="site-row" data-code={s.code}>
                <Table.Td className="mono">{s.code}</Table.Td>
                <Table.Td>{s.name ?? "–"}</Table.Td>
                <Table.Td>{`${s.country_name} / ${s.region}`}</Table.Td>
                <Table.Td>{s.timezone}</Table.Td>
                <Table.Td>{`${s.prefixes} / ${s.rules}`}</Table.Td>
                <Table.Td>
                  {admin ? (
                    <Select size="xs" w={140} data={["active", "maintenance", "offline"]} value={s.status} allowDeselect={false} aria-label={`Status of ${s.code}`} onChange={(v) => v && v !== s.status && setStatus(s.code, v as SiteStatus)} />
                  ) : (
                    <StatusBadge value={s.status} />
                  )}
                </Table.Td>
                <Table.Td>
                  {admin && (
                    <Button size="compact-xs" variant="subtle" color="red" onClick={() => removeSite(s.code)}>
                      Remove
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}

      <Group justify="space-between">
        <Title order={5}>Inference rules</Title>
        <Group gap="xs">
          {admin && m.sites.length > 0 && (
            <FormButton
              label="Add a rule"
              title="New inference rule"
              testId="rule-add"
              onDone={page.reload}
              onOpen={() => setPreview(null)}
              submit={async () => {
                const r = await api.site_rule_add(ruleInput());
                return `Rule added for ${r.site} (confidence ${r.confidence.toFixed(2)}); run inference to apply it.`;
              }}
            >
              <Select label="Site" data={m.sites.map((s) => s.code)} value={rule.site || null} onChange={(v) => editRule({ ...rule, site: v ?? "" })} required data-testid="rule-site" />
              <Select
                label="Matches"
                data={[
                  { value: "vcenter", label: "vCenter datacenter or cluster names" },
                  { value: "dns", label: "Host names" },
                  { value: "vlan", label: "A VLAN (prefixes and port groups)" },
                ]}
                value={rule.method}
                onChange={(v) => editRule({ ...rule, method: (v ?? "vcenter") as InferenceMethod })}
                allowDeselect={false}
              />
              {rule.method === "vlan" ? (
                <NumberInput label="VLAN id" value={rule.vlan} onChange={(v) => editRule({ ...rule, vlan: v })} min={1} max={4094} required />
              ) : (
                <TextInput label="Pattern" description="A case-insensitive regular expression, e.g. ^nyc-" value={rule.pattern} onChange={(e) => editRule({ ...rule, pattern: e.currentTarget.value })} required data-testid="rule-pattern" />
              )}
              <Group justify="space-between" align="flex-start">
                <Button size="xs" variant="subtle" onClick={runPreview} loading={previewing} data-testid="rule-preview">
                  Preview what it would place
                </Button>
              </Group>
              {preview && (
                <Alert color={preview.moved > 0 ? "orange" : "blue"} data-testid="rule-preview-result">
                  <Text size="sm">
                    {preview.matched.length === 0
                      ? "It matches nothing in the inventory now."
                      : `It would hold an opinion on ${preview.matched.map((k) => `${k.count} ${kindLabel(k.kind)}(s)`).join(", ")}; ${preview.moved} would move.`}
                  </Text>
                  {preview.examples.map((x, i) => (
                    <Text size="xs" key={i} className="mono">
                      {x.name ?? kindLabel(x.kind)}: {x.from_site ?? "nowhere"} → {x.to_site}
                    </Text>
                  ))}
                </Alert>
              )}
            </FormButton>
          )}
          {may.plan_ipam && (
            <Button size="xs" variant="light" onClick={infer} loading={inferring} data-testid="site-infer">
              Run inference now
            </Button>
          )}
        </Group>
      </Group>
      {m.rules.length === 0 ? (
        <Text size="sm" c="dimmed">
          No rules: sites come from each vCenter's site and from prefixes with a site.
        </Text>
      ) : (
        <Table data-testid="rules-table">
          <Table.Tbody>
            {m.rules.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td className="mono">{r.site}</Table.Td>
                <Table.Td>{r.method}</Table.Td>
                <Table.Td className="mono">{r.pattern ?? (r.vlan_id !== null ? `VLAN ${r.vlan_id}` : "")}</Table.Td>
                <Table.Td>{r.confidence.toFixed(2)}</Table.Td>
                <Table.Td>
                  {admin && (
                    <Button size="compact-xs" variant="subtle" color="red" onClick={() => removeRule(r.id)}>
                      Remove
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}

      <Title order={5}>Conflicts ({m.conflicts.length})</Title>
      {m.conflicts.length === 0 ? (
        <Text size="sm" c="dimmed">
          No conflicts: every method agrees wherever more than one has an opinion.
        </Text>
      ) : (
        <Conflicts list={m.conflicts} canPin={may.plan_ipam} onChanged={page.reload} />
      )}

      <Title order={5}>Pins ({m.pins.length})</Title>
      {m.pins.length === 0 ? (
        <Text size="sm" c="dimmed">
          Nothing is pinned: inference places everything. Pin a VM, host or server from its drawer, or settle a conflict above.
        </Text>
      ) : (
        <Pins list={m.pins} canUnpin={may.plan_ipam} onChanged={page.reload} />
      )}
    </Stack>
  );
}

function Pins(props: { list: SitePin[]; canUnpin: boolean; onChanged: () => void }) {
  const unpin = async (p: SitePin) => {
    try {
      const now = await api.site_unpin({ kind: p.entity_type, id: p.entity_id });
      notifications.show({
        color: "green",
        message: `${p.name ?? kindLabel(p.entity_type)} is no longer pinned: ${now.winner ? `inference places it at ${now.winner.site}` : "no opinion places it"}.`,
      });
      props.onChanged();
    } catch (e) {
      failed("Not unpinned", e);
    }
  };
  return (
    <Table data-testid="pins">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>What</Table.Th>
          <Table.Th>Site</Table.Th>
          <Table.Th>Pinned by</Table.Th>
          <Table.Th>Why</Table.Th>
          <Table.Th>When</Table.Th>
          <Table.Th />
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {props.list.map((p) => (
          <Table.Tr key={`${p.entity_type}/${p.entity_id}`} data-testid="pin-row" data-name={p.name ?? ""}>
            <Table.Td>
              <Text size="sm">{p.name ?? p.entity_id}</Text>
              <Text size="xs" c="dimmed">
                {kindLabel(p.entity_type)}
              </Text>
            </Table.Td>
            <Table.Td className="mono">{p.site}</Table.Td>
            <Table.Td>{p.pinned_by ?? "someone since removed"}</Table.Td>
            <Table.Td>{p.note ?? "–"}</Table.Td>
            <Table.Td title={dateTime(p.pinned_at)}>{ago(p.pinned_at)}</Table.Td>
            <Table.Td>
              {props.canUnpin && p.can_unpin && (
                <Button size="compact-xs" variant="subtle" onClick={() => unpin(p)} data-testid="pin-unpin">
                  Unpin
                </Button>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Conflicts(props: { list: SiteConflict[]; canPin: boolean; onChanged: () => void }) {
  const pin = async (c: SiteConflict, site: string) => {
    try {
      const p = await api.site_pin({ kind: c.entity_type, id: c.entity_id, site, note: "settled from the conflicts list" });
      notifications.show({ color: "green", message: `${p.name ?? words(p.entity_type)} is at ${site} by hand.` });
      props.onChanged();
    } catch (e) {
      failed("Not pinned", e);
    }
  };
  return (
    <Stack gap="xs" data-testid="conflicts">
      <Alert color="yellow">The most confident opinion wins until someone pins the right site; a pin survives every resync.</Alert>
      <Table>
        <Table.Tbody>
          {props.list.map((c) => (
            <Table.Tr key={c.entity_id}>
              <Table.Td>
                <Text size="sm">{c.name ?? c.entity_id}</Text>
                <Text size="xs" c="dimmed">
                  {kindLabel(c.entity_type)}
                </Text>
              </Table.Td>
              <Table.Td>
                <Stack gap={4} data-testid="conflict-opinions">
                  {c.opinions.map((o, i) => (
                    <Group key={i} gap={6} wrap="nowrap" align="baseline" data-testid="conflict-opinion">
                      <Badge variant={o.site === c.winner_site ? "filled" : "outline"} style={{ flexShrink: 0 }}>
                        {o.site}
                      </Badge>
                      <Text size="sm">
                        {words(o.method)} ({percent(o.confidence)}): {o.because}
                      </Text>
                    </Group>
                  ))}
                </Stack>
              </Table.Td>
              <Table.Td>
                {props.canPin && (
                  <Group gap={4}>
                    {[...new Set(c.opinions.map((o) => o.site))].map((s) => (
                      <Button key={s} size="compact-xs" variant="subtle" onClick={() => pin(c, s)}>
                        Pin to {s}
                      </Button>
                    ))}
                  </Group>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
