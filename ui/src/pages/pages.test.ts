import { describe, expect, it } from "vitest";
import { INITIAL, targetProblem, toRequest } from "./JobWizard";
import { readPause } from "./JobDetailPage";

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
    const fw = toRequest({ ...INITIAL, kind: "firmware_update", cluster: "c1", component: " BIOS ", version: "2.1", image: "/x" }, false);
    expect(fw.spec).toMatchObject({ type: "firmware_update", component: "BIOS", cluster: "c1" });
  });
});

describe("a paused job", () => {
  it("reads the blocking VMs and why", () => {
    // The engine's shape (engine/src/jobs/handlers/actions.rs `blocked_pause`).
    const p = readPause({
      kind: "blocked_evacuation",
      host: "esx-001.lab.local",
      message: "host esx-001 can't be evacuated",
      blocking_vms: [{ vm_moid: "vm-1", vm_name: "db01", reason: "local storage", reason_code: "local_storage" }, { nope: 1 }],
    });
    expect(p.message).toBe("host esx-001 can't be evacuated");
    expect(p.blocking).toEqual([{ vm_moid: "vm-1", name: "db01", reason: "local storage", host: "esx-001.lab.local" }]);
    expect(readPause(null).blocking).toEqual([]);
    // A step's pause: what to say and who blocks sit under `details`.
    const step = readPause({
      kind: "blocked",
      step: 2,
      task: "reset-unconfirmed:idrac-7",
      details: { reason: "reset_unconfirmed", message: "it may or may not have been sent", blocking_vms: [{ vm_moid: "vm-9", vm_name: "app9" }] },
    });
    expect(step.message).toBe("it may or may not have been sent");
    expect(step.blocking.map((b) => b.name)).toEqual(["app9"]);
  });
});
