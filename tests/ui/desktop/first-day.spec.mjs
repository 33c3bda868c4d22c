// An operator's first day in the real desktop window (tauri-driver → WebKitWebDriver → the
// debug build of `eio-desktop`), through the UI only: the key steps of the browser's
// ../specs/first-day.spec.mjs. The stack is the browser spec's (../harness.mjs
// `startStack({empty: true})`): a fresh database with one admin (carol, a real database
// login) and a trusted worker key, the lab's simulators, and `eio serve` — the team-wide
// instance whose worker runs the sync the window submits (an admin's login is never a worker
// login, so the window runs no local workers). The window's config file remembers that
// database with a login that doesn't exist, so it opens on the sign-in page and carol types
// her login and password. Then, in the window:
//   1. add the lab's vCenter after seeing its certificate (subject, SHA-256) and pin it;
//   2. a region, a country, a site and a rule placing what the vCenter's datacenter holds;
//   3. sync everything (a job) — the sync ends with site inference;
//   4. the inventory, filtered by the inferred site, lists the VMs there;
//   5. a routing domain, a prefix in it, a chosen address planned and released.
// Every wait polls for what the window shows. On failure: tests/ui/artifacts/desktop-first-day-*.png.
//
//   xvfb-run -a dbus-run-session -- node --test tests/ui/desktop/first-day.spec.mjs
// Environment: DATABASE_URL, EIO_BIN, EIO_LAB_BIN, EIO_UI_DIST (../harness.mjs) and
// EIO_DESKTOP_BIN, TAURI_DRIVER (./window.mjs).
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { startStack, stopStack } from "../harness.mjs";
import { addVcenter, signIn, siteAndRule, submit, tid, vmsAtSite } from "./steps.mjs";
import { APP, missingWindowTools, serveUi, startDriver, stopDriver, windowConfig } from "./window.mjs";

describe("an operator's first day in the desktop window", () => {
  let stack;
  let ui;
  let driver;
  let wd;
  let dataDir;

  before(async () => {
    const missing = missingWindowTools();
    assert.deepEqual(missing, [], missing.join("\n"));
    stack = await startStack({ hosts: 3, vmsPerHost: 4, empty: true });
    const dbUrl = new URL(stack.adminUrl);
    dbUrl.pathname = `/${stack.dbName}`;
    let env;
    ({ dataDir, env } = windowConfig(dbUrl.toString()));
    ui = await serveUi();
    ({ driver, wd } = await startDriver(env));
    await wd.start(APP);
  });

  after(async () => {
    await stopDriver({ driver, wd });
    await new Promise((res) => (ui ? ui.close(res) : res()));
    if (stack) await stopStack(stack);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A step of the day: on failure, what the window showed is saved for whoever reads it. */
  const step = (name, shot, body) =>
    test(name, async () => {
      try {
        await body();
      } catch (e) {
        const file = await wd?.saveScreenshot(`desktop-first-day-${shot}`);
        if (file) e.message += `\n(the window: ${file})`;
        throw e;
      }
    });

  step("the admin signs in and adds the lab's vCenter after checking its certificate", "vcenter", async () => {
    const vc = stack.lab.vcenter;
    await signIn(wd, stack.carol);
    assert.equal(await wd.text(tid("stat-vms-value"), /\S/), "0");
    await wd.press(tid("nav-settings"));
    await wd.element(tid("sources-empty"));
    await addVcenter(wd, vc, "vc-lab");
    const row = await wd.text('[data-testid="source-row"][data-name="vc-lab"]');
    assert.match(row, /vcenter/);
    assert.ok(row.includes(vc.url), `the row shows the address (${row})`);
    assert.match(await wd.text('[data-testid="source-row"][data-name="vc-lab"] [data-testid="source-tls"]'), /pinned/i);
  });

  step("a region, a country, a site and a rule for the vCenter's datacenter", "site", async () => {
    // Nothing synced yet: the preview says the rule places nothing now.
    await siteAndRule(wd, { pattern: "^labdc0", preview: /matches nothing in the inventory now/ });
  });

  step("a sync fills the inventory", "sync", async () => {
    await wd.press(tid("tab-sources"));
    await wd.press(tid("sync-all"));
    // The job's page opens; the team-wide instance's worker runs it.
    const status = await wd.until(
      "the sync job finished",
      () => wd.execute(`const e = document.querySelector(arguments[0]); const s = e?.dataset.status; return /^(succeeded|failed|cancelled)/.test(s ?? "") ? s : null;`, [tid("job-detail")]),
      180_000,
    );
    assert.equal(status, "succeeded", await wd.text(tid("job-detail")));
    await wd.press(tid("nav-dashboard"));
    await wd.text(tid("stat-vms-value"), new RegExp(`^${stack.lab.vcenter.vms}$`));
  });

  step("the inventory finds the VMs at their inferred site", "inventory", async () => {
    // The rule placed them as the sync ended: nobody ran inference by hand.
    const rows = await vmsAtSite(wd, "DE-FRA-01", stack.lab.vcenter.vms);
    assert.ok(rows.some((r) => r.Name === "lab-vm-00000"), `lab-vm-00000 is listed (${rows.map((r) => r.Name).join(", ")})`);
  });

  step("a routing domain, a prefix in it, and a chosen address planned and released", "ipam", async () => {
    await wd.press(tid("nav-ipam"));
    await wd.element(tid("ipam"));
    await wd.press(tid("domain-add"));
    await wd.fill(tid("domain-name"), "lab");
    await submit(wd, tid("domain-save"), tid("domain-name"));
    await wd.fill(tid("prefix-add-cidr"), "10.200.0.0/24");
    await wd.choose(tid("prefix-add-domain"), /^lab$/);
    await wd.press(tid("prefix-add-save"));
    const prefix = '[data-testid="prefix-row"][data-cidr="10.200.0.0/24"]';
    assert.match(await wd.text(prefix), /^lab\s+10\.200\.0\.0\/24\s/);

    await wd.press(`${prefix} td.mono`);
    await wd.text(tid("prefix-detail"), /10\.200\.0\.0\/24/);
    await wd.fill(tid("assign-address"), "10.200.0.10");
    await wd.fill(tid("assign-hostname"), "first-day-01");
    await wd.press(tid("assign-save"));
    const chosen = '[data-testid="assignment-row"][data-address="10.200.0.10"]';
    const planned = await wd.text(chosen);
    assert.match(planned, /^10\.200\.0\.10\s+planned\s+first-day-01\b/);
    await wd.text(tid("prefix-detail"), /Planned \(1\)/);

    await wd.press(`${chosen} ${tid("assignment-release")}`);
    await wd.gone(chosen);
    await wd.text(tid("prefix-detail"), /Planned \(0\)/);
  });
});
