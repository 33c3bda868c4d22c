import { describe, expect, it } from "vitest";
import type { IpamPage, Prefix } from "../api/bindings.gen";
import { fillColor, share, treeRows } from "./IpamPage";

function prefix(cidr: string, depth: number, extra: Partial<Prefix> = {}): Prefix {
  return {
    id: cidr,
    routing_domain: "default",
    cidr,
    family: 4,
    parent_id: null,
    parent: null,
    depth,
    site: null,
    vlan_id: null,
    status: "active",
    description: null,
    utilization_threshold: 0.9,
    utilization: {
      addresses: "256",
      usable: "254",
      planned: "0",
      observed: 0,
      child_prefixes: 0,
      child_addresses: "0",
      planned_ratio: 0,
      observed_ratio: 0,
      child_ratio: 0,
      utilization: 0,
    },
    ...extra,
  };
}

const domain = (name: string) => ({ id: name, name, description: null, prefixes: 0, created_at: "2026-11-27T00:00:00Z" });

describe("the prefix tree", () => {
  const model: Pick<IpamPage, "trees"> = {
    trees: [
      { domain: domain("default"), prefixes: [prefix("10.0.0.0/16", 0), prefix("10.0.1.0/24", 1, { site: "FRA-01" })] },
      { domain: domain("blue"), prefixes: [prefix("10.0.0.0/16", 0, { routing_domain: "blue" })] },
    ],
  };

  it("lists every domain's prefixes in order, indented by depth, keyed per domain", () => {
    const rows = treeRows(model);
    expect(rows.map((r) => [r.domain, r.prefix.cidr, r.indent])).toEqual([
      ["default", "10.0.0.0/16", 0],
      ["default", "10.0.1.0/24", 1],
      ["blue", "10.0.0.0/16", 0],
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(3);
  });

  it("filters by prefix or site, flat", () => {
    expect(treeRows(model, "fra").map((r) => [r.prefix.cidr, r.indent])).toEqual([["10.0.1.0/24", 0]]);
    expect(treeRows(model, "10.0.0").length).toBe(2);
  });

  it("shows tiny shares and colours by threshold", () => {
    expect(share(0)).toBe("0.0 %");
    expect(share(0.00001)).toBe("<0.1 %");
    expect(share(0.256)).toBe("25.6 %");
    expect(fillColor(0.5, 0.9)).toBe("green");
    expect(fillColor(0.8, 0.9)).toBe("yellow");
    expect(fillColor(0.95, 0.9)).toBe("red");
  });
});
