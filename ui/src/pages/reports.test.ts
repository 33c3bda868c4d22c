import { describe, expect, it } from "vitest";
import type { ReportDefinition } from "../api/bindings.gen";
import { cleanFilters, definitionForm, definitionInput, filtersText, sizeText } from "./ReportsPage";

describe("reports page helpers", () => {
  it("says sizes in bytes, KiB and MiB", () => {
    expect(sizeText(null)).toBe("–");
    expect(sizeText(512)).toBe("512 B");
    expect(sizeText(4300)).toBe("4.2 KiB");
    expect(sizeText(13 * 1024 * 1024)).toBe("13.0 MiB");
  });

  it("drops blank filters and trims the rest", () => {
    expect(cleanFilters({ site: " DE-FRA-01 ", cluster: "", tag: null, folder: undefined })).toEqual({ site: "DE-FRA-01" });
    expect(filtersText({})).toBe("–");
    expect(filtersText({ site: "X", sheet: "vInfo,vHost" })).toBe("site=X sheet=vInfo,vHost");
  });

  it("turns a definition into a form and back without losing anything", () => {
    const d: ReportDefinition = {
      id: "1",
      name: "weekly-rvtools",
      type: "rvtools",
      schedule: "0 6 * * 1",
      schedule_description: "At 06:00 on Monday",
      formats: ["xlsx", "csv"],
      filters: { cluster: "prod-a" },
      output_dir: "/srv/reports",
      enabled: true,
      next_run_at: null,
      created_by: "op@example.test",
      created_at: "2026-11-27T06:00:00Z",
      updated_at: "2026-11-27T06:00:00Z",
      last_status: null,
      last_run_at: null,
    };
    expect(definitionInput(definitionForm(d))).toEqual({
      name: "weekly-rvtools",
      type: "rvtools",
      formats: ["xlsx", "csv"],
      schedule: "0 6 * * 1",
      filters: { cluster: "prod-a" },
      output_dir: "/srv/reports",
      enabled: true,
    });
    // A blank form: on demand, the default folder, xlsx.
    const blank = definitionInput({ ...definitionForm(), name: " adhoc " });
    expect(blank).toEqual({
      name: "adhoc",
      type: "inventory_summary",
      formats: ["xlsx"],
      schedule: null,
      filters: {},
      output_dir: null,
      enabled: true,
    });
  });
});
