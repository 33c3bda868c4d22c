// An operator's first day, through the browser UI only, from an empty database that has one
// admin and a trusted worker key: add the lab's vCenter after checking its certificate, add
// the iDRACs' service identity and import three iDRACs from a CSV, build a site and a rule,
// sync, find a VM by its inferred site, add a routing domain and a prefix and plan and
// release a chosen address, create an operator and an approver, submit a maintenance job
// to run at a later time as the operator and approve it as the approver, and download a
// report. Every wait is on something the page shows — never a fixed sleep.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { after, before, describe, test } from "node:test";
import { launchBrowser, screenshot, signIn, signOut, startStack, stopStack } from "../harness.mjs";
import { addVcenter, siteAndRule, vmsAtInferredSite } from "../steps.mjs";

describe("an operator's first day, from an empty database", () => {
  let stack;
  let browser;
  let page;
  let operator;
  let approver;

  before(async () => {
    stack = await startStack({ hosts: 3, vmsPerHost: 4, empty: true });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.setDefaultTimeout(60_000);
    const login = (name) => ({ login: `e2e_${name}_${stack.tag}`, password: `pw-${name}-${stack.tag}`, email: `${name}@first-day.test` });
    operator = login("ops");
    approver = login("appr");
    // Logins the UI creates are cluster-wide: the harness drops them with the database.
    stack.roles.push(operator.login, approver.login);
  });

  after(async () => {
    await browser?.close();
    if (stack) await stopStack(stack);
  });

  test("the admin connects the vCenter and the iDRACs", async () => {
    const l = stack.lab;
    await signIn(page, stack.base, stack.carol);
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("sources-empty").waitFor();

    await addVcenter(page, l.vcenter, "vc-lab");
    await page.getByTestId("source-save").click();
    await page.locator('[data-testid="source-row"][data-name="vc-lab"]').waitFor();

    // The iDRACs' credentials, sealed for the worker key, then three iDRACs from a CSV.
    await page.getByTestId("tab-identities").click();
    await page.getByTestId("identity-add").click();
    await page.getByTestId("identity-name").fill("idrac-fleet");
    await page.getByTestId("identity-system").click();
    await page.getByRole("option", { name: "idrac", exact: true }).click();
    await page.getByTestId("identity-username").fill(l.dell_username);
    await page.getByTestId("identity-password").fill(l.dell_password);
    await page.getByTestId("identity-save").click();
    await page.getByText("idrac-fleet").first().waitFor();

    await page.getByTestId("tab-sources").click();
    await page.getByTestId("source-import").click();
    const rows = l.idracs.slice(0, 3).map((i, n) => `bmc-${n + 1},${i.url},,,${i.thumbprint}`);
    await page.getByTestId("import-csv").fill(`name,url,site,driver,thumbprint\n${rows.join("\n")}\n`);
    await page.getByTestId("source-identity").click();
    await page.getByRole("option", { name: /^idrac-fleet/ }).click();
    await page.getByTestId("import-preview").click();
    await page.getByTestId("import-summary").filter({ hasText: "3 row(s) ready" }).waitFor();
    await page.getByTestId("import-confirm").click();
    // Every row added: the dialog closes and says so.
    await page.getByText("Added 3 iDRAC(s).").waitFor();
    for (const n of [1, 2, 3]) await page.locator(`[data-testid="source-row"][data-name="bmc-${n}"]`).waitFor();

    // Sync everything: a job on the server's worker.
    await page.getByTestId("sync-all").click();
    await page.locator('[data-testid="job-detail"][data-status="succeeded"]').waitFor({ timeout: 180_000 });
    await page.getByTestId("nav-dashboard").click();
    await page.getByTestId("stat-vms-value").filter({ hasText: String(l.vcenter.vms) }).waitFor();
    await page.getByTestId("stat-servers-value").filter({ hasText: "3" }).waitFor();
  });

  test("a site and a rule place the VMs, and the inventory finds them there", async () => {
    await page.getByTestId("nav-settings").click();
    await siteAndRule(page, stack.lab.vcenter.vms);
    await vmsAtInferredSite(page, stack.lab.vcenter.vms);
  });

  test("a routing domain, a prefix in it, and a chosen address planned and released", async () => {
    await page.getByTestId("nav-ipam").click();
    await page.getByTestId("ipam").waitFor();
    await page.getByTestId("domain-add").click();
    await page.getByTestId("domain-name").fill("lab");
    await page.getByTestId("domain-save").click();
    await page.getByTestId("prefix-add-cidr").fill("10.200.0.0/24");
    await page.getByTestId("prefix-add-domain").click();
    await page.getByRole("option", { name: "lab", exact: true }).click();
    await page.getByTestId("prefix-add-save").click();
    // (The toast says "Added 10.200.0.0/24." too: open the tree's row.)
    await page.getByTestId("prefix-row").filter({ hasText: "10.200.0.0/24" }).getByText("10.200.0.0/24").click();
    await page.getByTestId("prefix-detail").waitFor();
    await page.getByTestId("assign-address").fill("10.200.0.10");
    await page.getByTestId("assign-hostname").fill("first-day-01");
    await page.getByTestId("assign-save").click();
    const chosen = page.locator('[data-testid="assignment-row"][data-address="10.200.0.10"]');
    await chosen.waitFor();
    await screenshot(page, "ipam-chosen-address");
    await chosen.getByTestId("assignment-release").click();
    await chosen.waitFor({ state: "detached" });
    await page.keyboard.press("Escape");
  });

  test("the admin creates an operator and an approver", async () => {
    await page.getByTestId("nav-settings").click();
    await page.getByTestId("tab-users").click();
    for (const [who, role] of [
      [operator, "operator"],
      [approver, "approver"],
    ]) {
      await page.getByTestId("user-add").click();
      await page.getByTestId("new-user-email").fill(who.email);
      await page.getByTestId("new-user-login").fill(who.login);
      await page.getByTestId("new-user-role").click();
      await page.getByRole("option", { name: role, exact: true }).click();
      await page.getByTestId("new-user-capabilities").fill("maintenance_mode");
      await page.keyboard.press("Enter");
      await page.getByTestId("new-user-password").fill(who.password);
      await page.getByTestId("new-user-save").click();
      await page.getByTestId("user-row").filter({ hasText: who.email }).waitFor();
    }
    await page.getByTestId("new-user-save").waitFor({ state: "detached" });
    await screenshot(page, "settings-users");
    // The other settings an admin keeps, for the README: the service identities (sealed for
    // the worker keys), and the named job policies with the concurrency limits.
    await page.getByTestId("tab-identities").click();
    await page.getByRole("cell", { name: "idrac", exact: true }).first().waitFor();
    await screenshot(page, "settings-identities");
    await page.getByTestId("tab-job-policies").click();
    await page.locator('[data-testid="policy-row"][data-name="default"]').waitFor();
    await screenshot(page, "settings-job-policies");
  });

  let jobId;
  test("the operator plans a maintenance job for tomorrow night and submits it", async () => {
    await signOut(page);
    await signIn(page, stack.base, operator);
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("new-job").click();
    await page.getByTestId("job-wizard").waitFor();
    await page.getByTestId("kind-maintenance_mode").click();
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("wizard-hosts").click();
    await page.getByRole("option", { name: /esx-000/ }).click();
    await page.keyboard.press("Escape");
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("wizard-when").getByText("At a time").click();
    const at = new Date(Date.now() + 24 * 3600 * 1000);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByTestId("wizard-run-at").fill(local);
    await screenshot(page, "job-wizard-when");
    await page.getByTestId("wizard-next").click();
    await page.getByTestId("plan-summary").waitFor();
    await page.getByTestId("wizard-submit").click();
    await page.getByTestId("awaiting-approval").waitFor();
    jobId = page.url().split("/jobs/")[1];
    assert.ok(jobId, "the job's page opened");
  });

  test("the approver approves it: it waits for its time", async () => {
    await signOut(page);
    await signIn(page, stack.base, approver);
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("tab-approvals").click();
    const card = page.locator(`[data-testid="approval-card"][data-job-id="${jobId}"]`);
    await card.getByTestId("plan-summary").waitFor();
    await card.getByRole("textbox").fill("Window agreed with the cluster owner");
    await card.getByTestId("approve").click();
    await card.waitFor({ state: "detached" });
    await page.goto(`${stack.base}/#/jobs/${jobId}`);
    await page.locator('[data-testid="job-detail"][data-status="scheduled"]').waitFor();
  });

  test("a report, run now and downloaded", async () => {
    await page.getByTestId("nav-reports").click();
    await page.getByTestId("reports").waitFor();
    await page.getByTestId("report-run").click();
    const done = page.getByTestId("report-execution").filter({ hasText: /succeeded|completed/i }).first();
    await done.waitFor({ timeout: 120_000 });
    const [download] = await Promise.all([page.waitForEvent("download"), done.getByTestId("report-download").first().click()]);
    const recorded = (await done.getByTestId("report-path").innerText()).replace(/ \(\+\d+\)$/, "");
    assert.equal(download.suggestedFilename(), basename(recorded));
    const bytes = readFileSync(await download.path());
    assert.ok(bytes.length > 0, "the downloaded report has content");
    assert.deepEqual(bytes, readFileSync(recorded));
  });
});
