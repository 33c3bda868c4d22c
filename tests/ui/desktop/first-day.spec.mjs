// An operator's first day in the real desktop window (tauri-driver → WebKitWebDriver → the
// debug build of `eio-desktop`), through the UI only: the key steps of the browser's
// ../specs/first-day.spec.mjs. The stack is the browser spec's (../harness.mjs
// `startStack({empty: true})`): a fresh database with one admin (carol, a real database
// login) and a trusted worker key, the lab's simulators, and `eio serve` — the team-wide
// instance whose worker runs the sync the window submits (an admin's login is never a worker
// login, so the window runs no local workers). The window's config file remembers that
// database with a login that doesn't exist, so it opens on the sign-in page and carol types
// her login and password. Then, in the window:
//   1. a region, a country, a site and a rule placing what the vCenter's datacenter holds
//      (before any source: `eio serve` syncs a new source on its own within half a minute);
//   2. add the lab's vCenter after seeing its certificate (subject, SHA-256) and pin it;
//   3. add the iDRACs' service identity and import three iDRACs from a CSV (previewed first);
//   4. sync everything (a job) — the sync ends with site inference;
//   5. the inventory, filtered by the inferred site, lists the VMs there;
//   6. a routing domain, a prefix in it, a chosen address planned and released;
//   7. create an operator and an approver (real database logins, made by the window);
//   8. the operator (signed in through "Switch database") submits a maintenance job to run
//      at 03:00 tomorrow; it waits for approval;
//   9. the approver signs in the same way and approves it: it waits for its time;
//  10. a report, run now, and "Save as…" — the desktop-only path: Tauri's dialog plugin opens
//      GTK's file chooser, which WebDriver can't see, so xdotool types the path into it on
//      the virtual display as a person would; the saved file is the execution's, byte for byte.
// Every wait polls for what the window (or the X display) shows. On failure:
// tests/ui/artifacts/desktop-first-day-*.png.
//
//   xvfb-run -a dbus-run-session -- node --test tests/ui/desktop/first-day.spec.mjs
// Environment: DATABASE_URL, EIO_BIN, EIO_LAB_BIN, EIO_UI_DIST (../harness.mjs) and
// EIO_DESKTOP_BIN, TAURI_DRIVER, XDOTOOL (./window.mjs).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { startStack, stopStack } from "../harness.mjs";
import { addVcenter, fillDateTime, signIn, signInAs, siteAndRule, submit, tid, vmsAtSite } from "./steps.mjs";
import { APP, KEY, missingWindowTools, saveInFileChooser, serveUi, startDriver, stopDriver, windowConfig } from "./window.mjs";

describe("an operator's first day in the desktop window", () => {
  let stack;
  let ui;
  let driver;
  let wd;
  let dataDir;
  let saveDir;
  let operator;
  let approver;

  before(async () => {
    const missing = missingWindowTools({ fileChooser: true });
    assert.deepEqual(missing, [], missing.join("\n"));
    stack = await startStack({ hosts: 3, vmsPerHost: 4, empty: true });
    const login = (name) => ({ login: `e2e_${name}_${stack.tag}`, password: `pw-${name}-${stack.tag}`, email: `${name}@first-day.test` });
    operator = login("ops");
    approver = login("appr");
    // Logins the window creates are cluster-wide: the harness drops them with the database.
    stack.roles.push(operator.login, approver.login);
    saveDir = mkdtempSync(join(tmpdir(), "eio-save-as-"));
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
    if (saveDir) rmSync(saveDir, { recursive: true, force: true });
  });

  /** A step of the day: on failure, what the window showed is saved for whoever reads it,
   * and the steps after it (which build on it) are skipped. */
  let failed = null;
  const step = (name, shot, body) =>
    test(name, async (t) => {
      if (failed) return t.skip(`"${failed}" failed`);
      try {
        await body();
      } catch (e) {
        failed = name;
        const file = await wd?.saveScreenshot(`desktop-first-day-${shot}`);
        if (file) e.message += `\n(the window: ${file})`;
        throw e;
      }
    });

  step("the admin signs in and builds a region, a country, a site and a rule for the vCenter's datacenter", "site", async () => {
    await signIn(wd, stack.carol);
    assert.equal(await wd.text(tid("stat-vms-value"), /\S/), "0");
    await wd.press(tid("nav-settings"));
    await wd.element(tid("sources-empty"));
    // No source yet, so nothing is known: the preview says the rule places nothing now. (Once
    // a source exists, the team-wide instance syncs it within half a minute on its own, and
    // what a preview would place then depends on that race.)
    await siteAndRule(wd, { pattern: "^labdc0", preview: /matches nothing in the inventory now/ });
  });

  step("the admin adds the lab's vCenter after checking its certificate", "vcenter", async () => {
    const vc = stack.lab.vcenter;
    await wd.press(tid("tab-sources"));
    await wd.element(tid("sources-empty"));
    await addVcenter(wd, vc, "vc-lab");
    const row = await wd.text('[data-testid="source-row"][data-name="vc-lab"]');
    assert.match(row, /vcenter/);
    assert.ok(row.includes(vc.url), `the row shows the address (${row})`);
    assert.match(await wd.text('[data-testid="source-row"][data-name="vc-lab"] [data-testid="source-tls"]'), /pinned/i);
  });

  step("the iDRACs' service identity, and three iDRACs imported from a CSV", "idracs", async () => {
    const l = stack.lab;
    await wd.press(tid("tab-identities"));
    await wd.press(tid("identity-add"));
    await wd.fill(tid("identity-name"), "idrac-fleet");
    await wd.choose(tid("identity-system"), /^idrac$/);
    await wd.fill(tid("identity-username"), l.dell_username);
    await wd.fill(tid("identity-password"), l.dell_password);
    await submit(wd, tid("identity-save"), tid("identity-name"));
    // Its row says what it is; the password, sealed for the worker key, is never shown.
    const identity = await wd.text("tr", /^idrac-fleet\s/);
    assert.match(identity, new RegExp(`^idrac-fleet\\s+idrac\\s+${l.dell_username}\\s+due `));
    assert.ok(!identity.includes(l.dell_password), `the row shows no password (${identity})`);

    await wd.press(tid("tab-sources"));
    await wd.press(tid("source-import"));
    const idracs = l.idracs.slice(0, 3);
    const csv = idracs.map((i, n) => `bmc-${n + 1},${i.url},,,${i.thumbprint}`);
    await wd.fill(tid("import-csv"), `name,url,site,driver,thumbprint\n${csv.join("\n")}\n`);
    await wd.choose(tid("source-identity"), /^idrac-fleet\b/);
    await wd.press(tid("import-preview"));
    assert.equal(await wd.text(tid("import-summary")), "3 row(s) ready, 0 with errors (nothing added yet).");
    const previewed = await wd.execute(
      `return [...document.querySelectorAll('[data-testid="import-row"]')].map((r) => [r.dataset.status, ...[...r.cells].slice(0, 3).map((c) => c.innerText.trim())]);`,
    );
    assert.deepEqual(previewed, idracs.map((i, n) => ["ready", String(n + 2), `bmc-${n + 1}`, i.url]));
    // Nothing is added by a preview.
    assert.equal(await wd.find('[data-testid="source-row"][data-name="bmc-1"]'), null);
    await submit(wd, tid("import-confirm"), tid("import-csv"));
    await wd.text('[role="alert"]', /^Added 3 iDRAC\(s\)\.$/);
    for (const [n, i] of idracs.entries()) {
      // Its kind, its address (as stored: without the trailing slash) and its identity.
      const row = await wd.text(`[data-testid="source-row"][data-name="bmc-${n + 1}"]`);
      assert.match(row, new RegExp(`^bmc-${n + 1}\\s+idrac\\s+${re(i.url.replace(/\/$/, ""))}\\s+idrac-fleet\\s`));
    }
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
    // The same sync read the three imported iDRACs.
    await wd.text(tid("stat-servers-value"), /^3$/);
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
    // The prefix's drawer closes (it would cover the navigation).
    await wd.press(".mantine-Drawer-close");
    await wd.gone(tid("prefix-detail"));
  });

  step("the admin creates an operator and an approver", "users", async () => {
    await wd.press(tid("nav-settings"));
    await wd.press(tid("tab-users"));
    for (const [who, role] of [
      [operator, "operator"],
      [approver, "approver"],
    ]) {
      await wd.press(tid("user-add"));
      await wd.fill(tid("new-user-email"), who.email);
      await wd.fill(tid("new-user-login"), who.login);
      await wd.choose(tid("new-user-role"), new RegExp(`^${role}$`));
      // A tag typed and taken with Enter (the field keeps the form from being sent).
      await wd.type(await wd.element(tid("new-user-capabilities")), `maintenance_mode${KEY.enter}`);
      await wd.element('[role="dialog"] .mantine-TagsInput-pill', /^maintenance_mode$/);
      await wd.fill(tid("new-user-password"), who.password);
      await submit(wd, tid("new-user-save"), tid("new-user-email"));
      // Login, role (a select the admin may change) and capabilities, as written (the
      // badges show them in capitals).
      const shown = await wd.until(`${who.email}'s row`, () =>
        wd.execute(
          `const r = [...document.querySelectorAll('[data-testid="user-row"]')].find((r) => r.cells[0].innerText.trim() === arguments[0]);
           return r ? [...r.cells].slice(1, 4).map((c) => c.querySelector("input")?.value ?? c.textContent.trim()) : null;`,
          [who.email],
        ),
      );
      assert.deepEqual(shown, [who.login, role, "maintenance_mode"]);
    }
  });

  let jobId;
  let summary;
  step("the operator signs in and submits a maintenance job for 03:00 tomorrow", "job", async () => {
    await signInAs(wd, operator);
    await wd.press(tid("nav-jobs"));
    await wd.press(tid("new-job"));
    await wd.element(tid("job-wizard"));
    await wd.press(tid("kind-maintenance_mode"));
    await wd.press(tid("wizard-next"));
    const hosts = await wd.element(tid("wizard-hosts"));
    // The pill shows the option's label: the host and its cluster. (A click on a picked
    // option would drop it again: only one not picked yet is clicked.)
    const esx000 = /^esx-000\.lab\.local \(LabDC0-C0\)$/;
    await wd.until("esx-000 picked", async () => {
      if (await wd.find(`${tid("job-wizard")} .mantine-Pill-root`, esx000)) return true;
      if (!(await wd.find('[role="option"]', esx000))) await wd.click(hosts);
      const option = await wd.find('[role="option"]:not([aria-selected="true"])', esx000);
      if (option) await wd.click(option);
      return null;
    });
    // Escape closes the list (it would cover Next).
    await wd.type(hosts, KEY.escape);
    await wd.gone('[role="option"]');
    await wd.press(tid("wizard-next"));
    await wd.press(`${tid("wizard-when")} label`, /^At a time$/);
    // Tomorrow at 03:00, local time.
    const at = new Date(Date.now() + 24 * 3600 * 1000);
    at.setHours(3, 0, 0, 0);
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await fillDateTime(wd, tid("wizard-run-at"), local);
    await wd.press(tid("wizard-next"), /^Show the plan$/);
    summary = await wd.text(tid("plan-summary"));
    assert.match(summary, /^put 1 host\(s\) into maintenance mode one at a time; DRS moves \d+ powered-on VM\(s\) away$/);
    // The plan's detail (open in the wizard): the one host, its cluster and the VMs DRS moves off it.
    const host = await wd.text(`${tid("plan-hosts")} tbody tr`);
    assert.match(host, new RegExp(`^1\\s+esx-000\\.lab\\.local\\s+LabDC0-C0\\s+${/moves (\d+) /.exec(summary)[1]}\\s`));
    await wd.press(tid("wizard-submit"));
    await wd.element(tid("awaiting-approval"));
    jobId = /^#\/jobs\/([0-9a-f-]{36})$/.exec(await wd.execute("return location.hash;"))?.[1];
    assert.ok(jobId, "the job's page opened");
    await wd.element('[data-testid="job-detail"][data-status="awaiting_approval"]');
  });

  step("the approver signs in and approves it: it waits for its time", "approve", async () => {
    await signInAs(wd, approver);
    await wd.press(tid("nav-jobs"));
    await wd.press(tid("tab-approvals"));
    const card = `[data-testid="approval-card"][data-job-id="${jobId}"]`;
    // The plan the operator saw, and who submitted it.
    assert.equal(await wd.text(`${card} ${tid("plan-summary")}`), summary);
    assert.match(await wd.text(card), new RegExp(`submitted by ${re(operator.email)}`));
    await wd.fill(`${card} textarea`, "Window agreed with the cluster owner");
    await wd.press(`${card} ${tid("approve")}`);
    await wd.until(`${card} decided`, async () => {
      if ((await wd.find(card)) === null) return true;
      const refusal = await wd.find('[role="alert"]', /^Not approved/);
      if (refusal) throw new Error(await wd.text('[role="alert"]', /^Not approved/));
      return null;
    });
    await wd.execute(`location.hash = arguments[0];`, [`#/jobs/${jobId}`]);
    const detail = await wd.text(`[data-testid="job-detail"][data-status="scheduled"]`);
    // Approved by the second person, and not started: it waits for 03:00.
    assert.match(detail, new RegExp(`\\bApproved by\\s+${re(approver.email)}\\s+Started\\s+–\\s`));
  });

  step("a report, run now and saved where the approver chooses (Save as…)", "report", async () => {
    await wd.press(tid("nav-reports"));
    await wd.element(tid("reports"));
    await wd.press(tid("report-run"));
    // The default: the inventory summary as xlsx, written where this desktop keeps reports.
    const done = await wd.text('[role="alert"]', /^Report written/, 120_000);
    const [, written, rows] = /^Report written\s+(\S.*\.xlsx) \((\d+) rows, /.exec(done) ?? [];
    assert.ok(written?.startsWith(join(dataDir, "reports")), `the notification names a file in ${dataDir}/reports (${done})`);
    const execution = '[data-testid="report-execution"]';
    const history = await wd.until("the execution in the history", async () => {
      const r = await wd.execute(
        `const t = document.querySelector('[data-testid="report-history"]');
         if (!t) return null;
         const h = [...t.querySelectorAll("thead th")].map((c) => c.textContent.trim());
         return [...t.querySelectorAll('[data-testid="report-execution"]')].map((r) =>
           Object.fromEntries([...r.cells].slice(1, 7).map((c, i) => [h[i + 1], c.textContent.trim()])));`,
      );
      return r?.length ? r : null;
    });
    assert.equal(history.length, 1, JSON.stringify(history));
    const { Size: size, ...seen } = history[0];
    assert.deepEqual(seen, { Report: "Inventory summary", Format: "xlsx", Status: "Completed", Rows: rows, By: approver.email });
    const recorded = await wd.text(`${execution} ${tid("report-path")}`);
    assert.equal(recorded, written);
    const produced = readFileSync(recorded);
    assert.equal(size, produced.length < 1024 ? `${produced.length} B` : `${(produced.length / 1024).toFixed(1)} KiB`);

    const target = join(saveDir, `first-day ${basename(recorded)}`);
    await wd.press(`${execution} ${tid("report-save")}`, /^Save as…$/);
    await saveInFileChooser("Save the report as", target);
    const saved = await wd.text('[role="alert"]', /^Report saved/);
    assert.equal(saved.replace(/^Report saved\s*/, ""), target);
    assert.ok(existsSync(target), `${target} exists`);
    const bytes = readFileSync(target);
    assert.deepEqual(bytes, produced, "the saved copy is the execution's file, byte for byte");
    // And it is the report the window showed: the lab's one cluster with its hosts and VMs,
    // and the three iDRACs' servers, each mapped to its host — the rows the history counted.
    const book = workbook(bytes);
    assert.deepEqual(Object.keys(book), ["Clusters", "Servers"]);
    const [clusterHeader, ...clusters] = book.Clusters;
    assert.deepEqual(clusterHeader.slice(0, 6), ["vCenter", "Datacenter", "Cluster", "Hosts", "Hosts in maintenance", "VMs"]);
    assert.deepEqual(clusters.map((r) => r.slice(0, 6)), [["vc-lab", "LabDC0", "LabDC0-C0", "3", "0", String(stack.lab.vcenter.vms)]]);
    const [serverHeader, ...servers] = book.Servers;
    assert.deepEqual(serverHeader, ["Model", "Generation", "Servers", "Health OK", "Warning", "Critical", "Mapped to a host", "With non-compliant firmware"]);
    assert.equal(servers.reduce((n, r) => n + Number(r[2]), 0), 3, JSON.stringify(servers));
    assert.equal(servers.reduce((n, r) => n + Number(r[6]), 0), 3, JSON.stringify(servers));
    assert.equal(clusters.length + servers.length, Number(rows));
    // No temporary file is left beside it.
    assert.deepEqual(readdirSync(saveDir), [basename(target)]);
  });
});

/** `text` as a regular expression matching just it. */
const re = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The sheets of an xlsx file by name, each a list of rows of cell texts (inline or shared
 * strings, numbers as written): enough of SpreadsheetML to read what a report wrote. */
function workbook(bytes) {
  const files = unzip(bytes);
  const text = (name) => {
    assert.ok(files.has(name), `the xlsx has ${name} (${[...files.keys()].join(", ")})`);
    return files.get(name).toString("utf8");
  };
  const unescape = (t) => t.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
  const strings = files.has("xl/sharedStrings.xml")
    ? [...text("xl/sharedStrings.xml").matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => unescape([...m[1].matchAll(/<t[^>]*>([^<]*)<\/t>/g)].map((t) => t[1]).join("")))
    : [];
  const names = [...text("xl/workbook.xml").matchAll(/<sheet [^>]*name="([^"]+)"/g)].map((m) => unescape(m[1]));
  return Object.fromEntries(
    names.map((name, i) => [
      name,
      [...text(`xl/worksheets/sheet${i + 1}.xml`).matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)].map((row) =>
        [...row[1].matchAll(/<c ([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)].map(([, attrs, body = ""]) => {
          const v = /<v>([^<]*)<\/v>/.exec(body)?.[1];
          if (/t="s"/.test(attrs)) return strings[Number(v)];
          if (/t="inlineStr"/.test(attrs)) return unescape([...body.matchAll(/<t[^>]*>([^<]*)<\/t>/g)].map((t) => t[1]).join(""));
          return v === undefined ? "" : unescape(v);
        }),
      ),
    ]),
  );
}

/** The entries of a zip archive (an xlsx) by name, inflated: just enough of the format
 * (the central directory, stored or deflated entries) to read what a report wrote. */
function unzip(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, "a zip archive");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50, "a central directory entry");
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    out.set(name, method === 8 ? inflateRawSync(data) : data);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
