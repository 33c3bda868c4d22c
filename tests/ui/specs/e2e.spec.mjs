// The operator's UI end to end, in a real browser against `eio serve`, a real PostgreSQL
// and the lab simulators: sign in, sync, search a VM, open a server's firmware, create a
// maintenance job, see it await approval, approve it as a second user, watch it pause on a
// blocked evacuation and choose Cancel; allocate an IP; run a report and download the file.
// Every wait is on an element or a state the page shows — never a fixed sleep. Screenshots
// of the main pages land in ui/screenshots/ (the README shows them).

import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { after, before, describe, test } from "node:test";
import { launchBrowser, screenshot, signIn, signOut, startStack, stopLab, stopStack } from "../harness.mjs";
import { addVcenter, siteAndRule, vmsAtInferredSite } from "../steps.mjs";

describe("EIO in a browser", () => {
  let stack;
  let browser;
  let page;

  before(async () => {
    // Host 1's first VM is pinned by a VM/Host rule: evacuating esx-001 is blocked.
    stack = await startStack({ hosts: 4, vmsPerHost: 5, blockHost: 1 });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.setDefaultTimeout(60_000);
  });

  after(async () => {
    await browser?.close();
    if (stack) await stopStack(stack);
  });

  test("a wrong login is refused with the one sentence that names no login", async () => {
    await page.goto(stack.base);
    await page.getByTestId("web-sign-in").waitFor();
    await page.getByTestId("login").fill("nobody_at_all");
    await page.getByTestId("password").fill("wrong");
    await page.getByTestId("sign-in-submit").click();
    const error = page.getByTestId("sign-in-error");
    await error.waitFor();
    const said = await error.innerText();
    assert.match(said, /the login or password is not right, or this login is not an EIO user; ask an admin/);
    assert.doesNotMatch(said, /nobody_at_all|postgres|127\.0\.0\.1/);
    await page.locator('[data-testid="sign-in-submit"]:not([data-loading])').waitFor();
    await screenshot(page, "sign-in");
  });

  test("an operator signs in, syncs every source, and the dashboard fills", async () => {
    await signIn(page, stack.base, stack.alice);
    assert.equal(await page.getByTestId("signed-in-as").innerText(), stack.alice.email);
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("sources-table").waitFor();
    await page.getByTestId("sync-all").click();
    // The sync job's page: it runs on the server's worker and succeeds.
    await page.getByTestId("job-detail").waitFor();
    await page.locator('[data-testid="job-detail"][data-status="succeeded"]').waitFor({ timeout: 180_000 });
    await page.getByTestId("nav-dashboard").click();
    await page.getByTestId("stat-vms-value").filter({ hasText: String(stack.lab.vcenter.vms) }).waitFor();
    await page.getByTestId("stat-servers-value").filter({ hasText: String(stack.lab.idracs.length) }).waitFor();
    await screenshot(page, "dashboard");
  });

  test("search finds a VM as you type, and its drawer shows NICs and IPs", async () => {
    await page.getByTestId("nav-inventory").click();
    await page.getByTestId("vm-table").waitFor();
    await page.getByTestId("inventory-total").filter({ hasText: `${stack.lab.vcenter.vms} VMs` }).waitFor();
    await page.getByTestId("inventory-search").fill("lab-vm-00007");
    // Fuzzy: similar names match too, the best match first.
    const row = page.getByTestId("row").first();
    await row.filter({ hasText: "lab-vm-00007" }).waitFor();

    await screenshot(page, "inventory");
    await row.click();
    await page.getByTestId("vm-detail").waitFor();
    await page.getByTestId("vm-nics").waitFor();
    assert.match(await page.getByTestId("vm-detail").innerText(), /lab-vm-00007/);
    await screenshot(page, "inventory-vm");
    await page.keyboard.press("Escape");
    await page.getByTestId("vm-detail").waitFor({ state: "detached" });
  });

  test("a Dell server's firmware, component by component", async () => {
    await page.getByTestId("nav-servers").click();
    await page.getByTestId("server-table").waitFor();
    await screenshot(page, "servers");
    await page.getByTestId("servers-search").fill(stack.lab.idracs[0].service_tag);
    // The search runs on the server: wait for its answer before opening the one row.
    await page.getByTestId("servers-total").filter({ hasText: /^1 server$/ }).waitFor();
    await page.getByTestId("row").first().click();
    await page.getByTestId("server-detail").waitFor();
    const rows = page.getByTestId("firmware-row");
    await rows.first().waitFor();
    assert.ok((await rows.count()) > 1, "several firmware components");
    await screenshot(page, "server-firmware");
    await page.keyboard.press("Escape");
  });

  let jobId;
  test("a maintenance job: wizard, dry-run plan, submitted, awaiting approval", async () => {
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("new-job").click();
    await page.getByTestId("job-wizard").waitFor();
    await page.getByTestId("kind-maintenance_mode").click();
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("wizard-hosts").click();
    await page.getByRole("option", { name: /esx-001/ }).click();
    await page.keyboard.press("Escape");
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("plan-summary").waitFor();
    assert.match(await page.getByTestId("plan-summary").innerText(), /maintenance mode/);
    await screenshot(page, "job-plan");
    await page.getByTestId("wizard-submit").click();
    await page.getByTestId("awaiting-approval").waitFor();
    jobId = page.url().split("/jobs/")[1];
    assert.ok(jobId, "the job's page opened");
    await screenshot(page, "job-awaiting-approval");
    // Four eyes: its initiator sees no Approve button.
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("tab-approvals").click();
    const card = page.locator(`[data-testid="approval-card"][data-job-id="${jobId}"]`);
    await card.waitFor();
    assert.equal(await card.getByTestId("approve").count(), 0);
  });

  test("a firmware job to OME's baseline: the wizard's plan lists each component, its package and the restart", async () => {
    await page.getByTestId("new-job").click();
    await page.getByTestId("job-wizard").waitFor();
    await page.getByTestId("kind-firmware_update").click();
    await page.getByTestId("wizard-next").click();
    // esx-001 runs on an outdated server (the lab's odd ones): behind OME's baseline.
    await page.getByTestId("wizard-hosts").click();
    await page.getByRole("option", { name: /esx-001/ }).click();
    await page.keyboard.press("Escape");
    assert.equal(await page.getByTestId("wizard-baseline").inputValue(), "The one covering these hosts");
    await page.getByTestId("wizard-packages").fill("/srv/firmware/dell");
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("wizard-next").click();
    // The wizard's plan (the approval queue behind it shows plans too).
    const wizard = page.getByTestId("job-wizard");
    await wizard.getByTestId("plan-summary").waitFor();
    assert.match(await wizard.getByTestId("plan-summary").innerText(), /to the baseline EIO fleet baseline \(\d+ component\(s\) behind\)/);
    const rows = wizard.getByTestId("plan-firmware").locator("tbody tr");
    assert.ok((await rows.count()) >= 1, "a component behind");
    for (const row of await rows.all()) {
      const text = await row.innerText();
      assert.match(text, /\/srv\/firmware\/dell\/FOLDER\d+M\/1\/\S+\.EXE/, text);
      assert.match(text, /the host's one restart|applies at once/, text);
    }
    await wizard.getByTestId("plan-firmware").scrollIntoViewIfNeeded();
    await screenshot(page, "job-wizard-baseline");
    await page.keyboard.press("Escape");
    await page.getByTestId("job-wizard").waitFor({ state: "detached" });
  });

  test("a second user approves it from the queue, with the plan shown", async () => {
    await signOut(page);
    await signIn(page, stack.base, stack.bob);
    await page.getByTestId("approvals-badge").waitFor();
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("tab-approvals").click();
    const card = page.locator(`[data-testid="approval-card"][data-job-id="${jobId}"]`);
    await card.getByTestId("plan-summary").waitFor();
    // The plan says first what will stop it: the lab's pinned VM, predicted from the sync.
    const blocker = card.locator(`[data-testid="plan-blocker"][data-vm="${stack.lab.blocked.moid}"]`);
    await blocker.waitFor();
    assert.equal(await blocker.getAttribute("data-reason"), "affinity_rule");
    assert.equal(await card.getByTestId("approve").isDisabled(), true, "approving needs the blockers acknowledged");
    await screenshot(page, "approval-queue");
    await card.getByRole("textbox").fill("Checked with the cluster owner");
    await card.getByTestId("acknowledge-blockers").check();
    await card.getByTestId("approve").click();
    await card.waitFor({ state: "detached" });
    await page.goto(`${stack.base}/#/jobs/${jobId}`);
    const detail = page.getByTestId("job-detail");
    await detail.waitFor();
    assert.notEqual(await detail.getAttribute("data-status"), "awaiting_approval");
    await page.getByTestId("job-event").filter({ hasText: /approved/i }).first().waitFor();
  });

  test("the job pauses on the blocked evacuation, shows the blocking VM, and Cancel ends it", async () => {
    // The server's worker runs it; it must stop at the blocked evacuation and ask.
    const detail = page.getByTestId("job-detail");
    await page.locator('[data-testid="job-detail"]:is([data-status="paused"], [data-status="failed"], [data-status="succeeded"])').waitFor({ timeout: 180_000 });
    assert.equal(await detail.getAttribute("data-status"), "paused", await detail.innerText());
    const panel = page.getByTestId("decision-panel");
    await panel.waitFor();
    const blocking = page.getByTestId("blocking-vms");
    assert.match(await blocking.innerText(), new RegExp(stack.lab.blocked.vm));
    await screenshot(page, "job-decision");
    await page.getByTestId("decide-cancel").click();
    await page.locator('[data-testid="job-detail"][data-status="cancelled"]').waitFor({ timeout: 120_000 });
    await page.getByTestId("decision-panel").waitFor({ state: "detached" });
    await screenshot(page, "job-detail");
  });

  test("IPAM: the next free address, a chosen one planned and released, and who uses an IP", async () => {
    await page.getByTestId("nav-ipam").click();
    await page.getByTestId("ipam").waitFor();
    // The harness planned 10.100.0.0/24 (the lab's VMs are observed in it).
    await page.getByText("10.100.0.0/24").first().click();
    await screenshot(page, "ipam");
    await page.getByTestId("ipam-allocate").click();
    const allocated = page.getByTestId("ipam-allocated");
    await allocated.waitFor();
    assert.match(await allocated.innerText(), /10\.100\.0\.\d+/);
    const next = (await allocated.innerText()).match(/10\.100\.0\.\d+/)[0];

    // A chosen address, planned and then released.
    await page.getByTestId("assign-address").fill("10.100.0.200");
    await page.getByTestId("assign-hostname").fill("chosen-01");
    await page.getByTestId("assign-save").click();
    const chosen = page.locator('[data-testid="assignment-row"][data-address="10.100.0.200"]');
    await chosen.waitFor();
    assert.match(await chosen.innerText(), /chosen-01/);
    await chosen.getByTestId("assignment-release").click();
    await chosen.waitFor({ state: "detached" });
    await page.keyboard.press("Escape");
    await page.getByTestId("prefix-detail").waitFor({ state: "detached" });

    // Who uses this IP: the address allocated above is planned, by whoever allocated it.
    await page.getByTestId("lookup-address").fill(next);
    await page.getByTestId("lookup-go").click();
    const result = page.getByTestId("lookup-result");
    await result.waitFor();
    assert.match(await result.innerText(), new RegExp(`${next.replaceAll(".", "\\.")} in default: inside 10\\.100\\.0\\.0/24`));
    await page.getByTestId("lookup-assignment").first().waitFor();
  });

  test("Reports: run one now and get the file", async () => {
    await page.getByTestId("nav-reports").click();
    await page.getByTestId("reports").waitFor();
    // The first report type, in its first format, written where the server keeps reports.
    await page.getByTestId("report-run").click();
    const done = page.getByTestId("report-execution").filter({ hasText: /succeeded|completed/i }).first();
    await done.waitFor({ timeout: 120_000 });
    await screenshot(page, "reports");
    // In a browser the file is the server's: on this machine, so read it back.
    const path = (await done.getByTestId("report-path").innerText()).replace(/ \(\+\d+\)$/, "");
    assert.ok(existsSync(path), `the report file ${path} exists`);
    assert.ok(statSync(path).size > 0, `the report file ${path} has content`);
    // Download it as a browser user does: the same bytes, under the file's own name.
    const [download] = await Promise.all([page.waitForEvent("download"), done.getByTestId("report-download").first().click()]);
    assert.equal(download.suggestedFilename(), basename(path));
    assert.deepEqual(readFileSync(await download.path()), readFileSync(path));
  });

  test("an admin adds a vCenter after checking its certificate, removes it, and imports iDRACs from a CSV", async () => {
    const l = stack.lab;
    await signOut(page);
    await signIn(page, stack.base, stack.carol);
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("sources-table").waitFor();

    // Add: the certificate is shown before anything is trusted; the operator pins it.
    await addVcenter(page, l.vcenter, "vc-ui");
    await screenshot(page, "settings-add-source");
    await page.getByTestId("source-save").click();
    const row = page.locator('[data-testid="source-row"][data-name="vc-ui"]');
    await row.waitFor();
    assert.equal(await row.getByTestId("source-tls").textContent(), "pinned");

    // Remove: the dialog says what goes with it before anything goes.
    await row.getByTestId("source-menu").click();
    await page.getByTestId("source-remove").click();
    const summary = page.getByTestId("remove-summary");
    await summary.waitFor();
    assert.match(await summary.innerText(), /^Removing vcenter source vc-ui: its cached inventory goes with it: 0 datacenter\(s\)/);
    await page.getByTestId("remove-confirm").click();
    await row.waitFor({ state: "detached" });

    // Import: a preview answers every row (one is refused with its reason), then three are added.
    await page.getByTestId("source-import").click();
    const rows = l.idracs.slice(0, 3).map((i, n) => `ui-bmc-${n + 1},${i.url},,,${i.thumbprint}`);
    await page.getByTestId("import-csv").fill(`name,url,site,driver,thumbprint\n${rows.join("\n")}\nui-bmc-plain,http://10.0.0.9,,,\n`);
    await page.getByTestId("source-identity").click();
    await page.getByRole("option", { name: /^idrac-fleet/ }).click();
    await page.getByTestId("import-preview").click();
    await page.getByTestId("import-summary").filter({ hasText: "3 row(s) ready, 1 with errors" }).waitFor();
    const refused = page.locator('[data-testid="import-row"][data-status="failed"]');
    assert.match(await refused.innerText(), /ui-bmc-plain[\s\S]*plain http/);
    await screenshot(page, "settings-import-idracs");
    await page.getByTestId("import-confirm").click();
    await page.getByTestId("import-summary").filter({ hasText: "3 added, 1 not added" }).waitFor();
    await page.keyboard.press("Escape");
    for (const n of [1, 2, 3]) await page.locator(`[data-testid="source-row"][data-name="ui-bmc-${n}"]`).waitFor();
    // The list is searched on the server: only the imported three are left.
    await page.getByTestId("sources-search").fill("ui-bmc");
    await page.getByTestId("sources-total").filter({ hasText: /^1–3 of 3$/ }).waitFor();
    assert.deepEqual(
      await page.getByTestId("source-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name"))),
      ["ui-bmc-1", "ui-bmc-2", "ui-bmc-3"],
    );
    await page.getByTestId("sources-search").fill("");

    // Users: an admin gives alice one more capability.
    await page.getByTestId("tab-users").click();
    const alice = page.getByTestId("user-row").filter({ hasText: stack.alice.email });
    await alice.getByTestId("user-capabilities").click();
    await page.getByTestId("capabilities-input").fill("relaxed_policy");
    await page.keyboard.press("Enter");
    await page.getByTestId("capabilities-save").click();
    await alice.getByText("relaxed_policy", { exact: true }).waitFor();

    // Sites: a region, a country in it, a site, and a rule that places the lab there.
    await siteAndRule(page, stack.lab.vcenter.vms);
    await screenshot(page, "settings-sites");

    // The inventory filters by where inference placed each VM: every lab VM is at DE-FRA-01
    // now, though its vCenter names no site.
    await vmsAtInferredSite(page, stack.lab.vcenter.vms);
    // A VM's drawer says why it is there, and an operator's pin wins over the rule.
    await page.getByTestId("row").first().click();
    const placement = page.getByTestId("site-placement");
    await placement.filter({ hasText: "At DE-FRA-01: by vcenter" }).waitFor();
    await page.getByTestId("pin-site").click();
    await page.getByRole("option", { name: "DE-FRA-01" }).click();
    await page.getByTestId("pin-save").click();
    await placement.filter({ hasText: "pinned by hand" }).waitFor();
    await page.getByTestId("pin-remove").click();
    await placement.filter({ hasText: "by vcenter" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByTestId("vm-detail").waitFor({ state: "detached" });
  });

  test("the dark theme and the settings page", async () => {
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("settings").waitFor();
    await page.getByTestId("tab-users").click();
    await page.getByTestId("users-table").waitFor();
    await screenshot(page, "settings");
    await page.getByTestId("theme-toggle").click();
    await page.getByTestId("nav-dashboard").click();
    await page.getByTestId("dashboard").waitFor();
    assert.equal(await page.locator("html").getAttribute("data-mantine-color-scheme"), "dark");
    await screenshot(page, "dashboard-dark");
  });

  test("with the lab stopped, the dashboard says in one sentence why the syncs failed", async () => {
    await stopLab(stack);
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("sync-all").click();
    await page.locator('[data-testid="job-detail"]:is([data-status="failed"],[data-status="succeeded"])').waitFor({ timeout: 180_000 });
    await page.getByTestId("nav-dashboard").click();
    const text = page.getByTestId("sync-failures-text");
    await text.waitFor();
    // The lab's vCenter, OME, its iDRACs and the three imported ones: all refused.
    const n = 1 + (stack.lab.ome ? 1 : 0) + stack.lab.idracs.length + 3;
    assert.equal(
      await text.innerText(),
      `${n} sources are unreachable (idrac-000, idrac-001, idrac-002, and ${n - 3} more): check that they are up and reachable from the workers.`,
    );
    await page.getByTestId("sync-failures-toggle").click();
    const list = page.getByTestId("sync-failures-list");
    await list.waitFor();
    assert.match(await list.innerText(), /^unreachable: .*vc-lab/);
    await screenshot(page, "dashboard-sync-failures");
  });
});
