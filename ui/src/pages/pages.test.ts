import { describe, expect, it } from "vitest";
import { INITIAL, isRelaxed, targetProblem, toRequest, whenProblem } from "./JobWizard";
import { blockingOf } from "./JobDetailPage";

describe("the job wizard", () => {
  it("asks for a target before going on", () => {
    expect(targetProblem(INITIAL)).toMatch(/hosts or a cluster/);
    expect(targetProblem({ ...INITIAL, hosts: ["esx-001"] })).toBeNull();
    expect(targetProblem({ ...INITIAL, kind: "power", action: "reset" })).toMatch(/servers/);
    expect(targetProblem({ ...INITIAL, kind: "sync" })).toBeNull();
  });

  it("turns its state into a submit request, with only the policy fields changed", () => {
    const r = toRequest({ ...INITIAL, hosts: ["esx-001"], allowShutdown: true }, true);
    expect(r.spec).toEqual({ type: "maintenance_mode", hosts: ["esx-001"], cluster: null, exit: false });
    expect(r.policy).toEqual({ allow_vm_shutdown: true });
    expect(r.dry_run).toBe(true);
    expect(toRequest(INITIAL, false).policy).toBeNull();
    const fw = toRequest({ ...INITIAL, kind: "firmware_update", firmwareTo: "component", cluster: "c1", component: " BIOS ", version: "2.1", image: "/x" }, false);
    expect(fw.spec).toMatchObject({ type: "firmware_update", component: "BIOS", cluster: "c1", baseline: null });
    const toBaseline = toRequest({ ...INITIAL, kind: "firmware_update", cluster: "c1", baseline: "June", packages: " " }, false);
    expect(toBaseline.spec).toEqual({ type: "firmware_update", hosts: [], cluster: "c1", component: "", version: "", image: "", baseline: "June", packages: null });
    expect([r.run_at, r.schedule, r.idempotency_key]).toEqual([null, null, null]);
  });

  it("syncs one source, or every source of one kind", () => {
    const idracs = toRequest({ ...INITIAL, kind: "sync", sourceKind: "idrac" }, false);
    expect(idracs.spec).toEqual({ type: "sync", source: null, kind: "idrac", benchmark_noop: false });
    // A single source is the whole target: a kind chosen before it no longer applies.
    const one = toRequest({ ...INITIAL, kind: "sync", source: "vc-lab", sourceKind: "idrac" }, false);
    expect(one.spec).toEqual({ type: "sync", source: "vc-lab", kind: null, benchmark_noop: false });
    expect(toRequest({ ...INITIAL, kind: "sync" }, false).spec).toEqual({ type: "sync", source: null, kind: null, benchmark_noop: false });
  });

  it("says when: at a time, on a schedule, or once per idempotency key", () => {
    const now = new Date("2026-12-06T10:00:00Z");
    const at = { ...INITIAL, hosts: ["esx-001"], when: "at" as const, runAt: "2026-12-07T02:30" };
    expect(toRequest(at, false).run_at).toBe(new Date("2026-12-07T02:30").toISOString());
    expect(whenProblem(at, now)).toBeNull();
    expect(whenProblem({ ...at, runAt: "" }, now)).toBe("Say when it should run.");
    expect(whenProblem({ ...at, runAt: "2026-12-01T00:00" }, now)).toBe("Choose a time in the future.");
    const weekly = { ...INITIAL, hosts: ["esx-001"], when: "schedule" as const, schedule: " 0 2 * * 6 ", runAt: "2026-12-07T02:30" };
    expect(toRequest(weekly, false)).toMatchObject({ schedule: "0 2 * * 6", run_at: null });
    expect(whenProblem({ ...weekly, schedule: " " }, now)).toMatch(/cron schedule/);
    expect(toRequest({ ...INITIAL, idempotencyKey: " mm-1 " }, false).idempotency_key).toBe("mm-1");
  });

  it("runs a report definition, narrows VMs by tag and folder, and knows a relaxed policy", () => {
    expect(targetProblem({ ...INITIAL, kind: "report" })).toMatch(/report definition/);
    const report = toRequest({ ...INITIAL, kind: "report", definition: "weekly-vinfo", when: "schedule", schedule: "0 6 * * 1" }, false);
    expect(report).toMatchObject({ spec: { type: "report", definition: "weekly-vinfo" }, schedule: "0 6 * * 1" });
    const filtered = toRequest({ ...INITIAL, kind: "power", vms: ["db01"], tagFilters: ["prod"], folderFilters: ["/dc/vm/db"] }, true);
    expect(filtered.policy).toEqual({ tag_filters: ["prod"], folder_filters: ["/dc/vm/db"] });
    expect(toRequest({ ...INITIAL, kind: "sync", tagFilters: ["prod"] }, true).policy).toBeNull();
    const strict = { require_approval: true, allow_vm_shutdown: false, allow_hard_poweroff: false };
    expect(isRelaxed(strict)).toBe(false);
    expect(isRelaxed({ ...strict, require_approval: false })).toBe(true);
    expect(isRelaxed({ ...strict, allow_vm_shutdown: true })).toBe(true);
  });
});

describe("a paused job", () => {
  it("lists the blocking VMs, with the host a blocked evacuation names once", () => {
    // The engine's shape (core/src/jobs/pause.rs, written by engine actions.rs `blocked_pause`).
    const vm = { vm_moid: "vm-1", vm_name: "db01", power_state: "powered_on", reason: "local storage", reason_code: "local_storage", source: "configuration", fault_type: null };
    const evacuation = blockingOf({
      kind: "blocked_evacuation",
      host: "esx-001.lab.local",
      host_moid: "host-1",
      message: "host esx-001 can't be evacuated",
      blocking_vms: [vm],
      choices: ["cancel", "retry", "suspend"],
      policy: { allow_vm_shutdown: false, vm_limit: 20, shutdown_timeout_seconds: 300 },
    });
    expect(evacuation).toEqual([{ vm_moid: "vm-1", name: "db01", reason: "local storage", host: "esx-001.lab.local" }]);
    expect(blockingOf(null)).toEqual([]);
    // A step's pause: who blocks sits under `details`, with no host named.
    const step = blockingOf({
      kind: "blocked",
      step: 2,
      task: "enter-maintenance:host-7",
      details: { reason: null, message: null, blocking_vms: [{ ...vm, vm_moid: "vm-9", vm_name: "app9" }], idrac: null, power_state: null, jobs: [], choices: [] },
    });
    expect(step.map((b) => [b.name, b.host])).toEqual([["app9", null]]);
    expect(blockingOf({ kind: "kill_switch", reason: "storm", choices: ["retry", "cancel"] })).toEqual([]);
  });
});
