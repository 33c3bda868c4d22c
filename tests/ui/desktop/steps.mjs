// Steps the desktop window tests take through the UI: ../steps.mjs's, for WebDriver (a
// `WebDriver` from window.mjs instead of a playwright page). Each waits on what the window
// shows, never on time, and asserts what it shows.
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { KEY, NOBODY } from "./window.mjs";

/** A CSS selector for a `data-testid`. */
export const tid = (id) => `[data-testid="${id}"]`;

/** The sign-in page (the config file's login, NOBODY, didn't connect, and it says so):
 * `who` types their database login and password, and the dashboard appears. */
export async function signIn(wd, who) {
  await wd.element(tid("sign-in"));
  await wd.text(tid("sign-in-error"), new RegExp(NOBODY));
  await wd.fill(tid("desktop-login"), who.login);
  await wd.fill(tid("desktop-password"), who.password);
  await wd.press(tid("connect"));
  await wd.text(tid("dashboard"), /Dashboard/);
  await wd.text(tid("signed-in-as"), new RegExp(who.email.replace(/\./g, "\\.")));
}

/** The account menu → "Switch database": the sign-in page again, on the same database, where
 * `who` signs in with their own login and password; the header then says who they are. */
export async function signInAs(wd, who) {
  await wd.press(tid("account-menu"));
  await wd.press(tid("sign-out"), /^Switch database$/);
  await wd.element(tid("sign-in"));
  await wd.fill(tid("desktop-login"), who.login);
  await wd.fill(tid("desktop-password"), who.password);
  await wd.press(tid("connect"));
  await wd.text(tid("signed-in-as"), new RegExp(`^${who.email.replace(/\./g, "\\.")}$`));
}

const REFUSAL = /\bnot [a-z]+ed\b|refused/i;

/** Type `local` ("YYYY-MM-DDTHH:MM", an hour from 01 to 11) into the datetime-local input
 * matching `css` as a person would. WebKitGTK shows it as segments — the date's in the
 * locale's order (Intl's), then hours and minutes, and AM/PM on a 12-hour clock — and Tab
 * moves from one to the next; an hour from 01 to 11 reads the same on either clock. Typed
 * once: clear() doesn't empty the segments, so typing again would add to them. */
export async function fillDateTime(wd, css, local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(0[1-9]|1[01]):(\d{2})$/.exec(local);
  assert.ok(m, `${local} is YYYY-MM-DDTHH:MM with an hour from 01 to 11`);
  const [, year, month, day, hour, minute] = m;
  const order = await wd.execute(
    `return new Intl.DateTimeFormat(undefined, { year: "numeric", month: "2-digit", day: "2-digit" })
       .formatToParts(new Date(2001, 10, 22)).map((p) => p.type).filter((t) => t !== "literal");`,
  );
  const date = { year, month, day };
  const el = await wd.element(css);
  await wd.type(el, [...order.map((t) => date[t]), hour, minute].join(KEY.tab));
  // Still incomplete after the minutes: a 12-hour clock, whose last segment wants AM/PM.
  if ((await wd.property(css, "value")) === "") await wd.type(el, `${KEY.tab}A`);
  assert.equal(await wd.property(css, "value"), local, `the date segments (${order.join(", ")}) took what was typed`);
}

/** Submit a form in a modal (its save button): resolves once the modal has closed (the form's
 * field `field` is gone), fails at once with the refusal the window shows. */
export async function submit(wd, save, field) {
  await wd.press(save);
  await wd.until(`${save} saved`, async () => {
    if ((await wd.find(field)) === null) return true;
    // Every failure notification says "… not added/saved/planned" or "refused".
    const refusal = await wd.find('[role="alert"]', REFUSAL);
    if (refusal) throw new Error(`${save}: ${await wd.text('[role="alert"]', REFUSAL)}`);
    return null;
  });
}

/** The certificate the endpoint at `url` presents, as node's TLS sees it (trusting nothing). */
export function presentedCertificate(url) {
  const { hostname, port } = new URL(url);
  return new Promise((res, rej) => {
    const s = connect({ host: hostname, port: Number(port || 443), servername: hostname, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      res(cert);
    });
    s.once("error", rej);
  });
}

/** Settings → Sources → Add: the certificate is shown (its subject the one the endpoint
 * presents, its SHA-256 the lab's) before anything is trusted; then it is pinned. */
export async function addVcenter(wd, vcenter, name) {
  await wd.press(tid("source-add"));
  await wd.fill(tid("source-name"), name);
  await wd.fill(tid("source-url"), vcenter.url);
  await wd.fill(tid("source-username"), vcenter.username);
  await wd.fill(tid("source-password"), vcenter.password);
  await wd.press(tid("source-check"));
  await wd.element(tid("certificate"));
  assert.equal(await wd.text(tid("cert-sha256")), vcenter.thumbprint);
  const subject = await wd.text(tid("cert-subject"));
  const presented = Object.values((await presentedCertificate(vcenter.url)).subject ?? {}).flat();
  assert.ok(presented.length > 0, "the lab's certificate has a subject");
  for (const part of presented) assert.ok(subject.includes(part), `the subject shown (${subject}) has ${part}`);
  await wd.element(tid("cert-untrusted"));
  assert.equal(await wd.property(tid("source-save"), "disabled"), true, "nothing is trusted until the operator chooses");
  await wd.press(tid("trust-pin"));
  await wd.until("Add source enabled once the certificate is pinned", async () => (await wd.property(tid("source-save"), "disabled")) === false);
  await wd.press(tid("source-save"));
}

/** Settings → Sites: region EMEA, country DE in it, site DE-FRA-01, and a vCenter-name rule
 * (`pattern`) placing things there; the preview says what it would place now (`preview`). */
export async function siteAndRule(wd, { pattern, preview }) {
  await wd.press(tid("tab-sites"));
  await wd.element(tid("sites-settings"));
  await wd.press(tid("region-add"));
  await wd.fill(tid("region-code"), "EMEA");
  await wd.fill(tid("region-name"), "Europe");
  await submit(wd, tid("region-add-save"), tid("region-code"));
  await wd.press(tid("country-add"));
  await wd.fill(tid("country-iso"), "DE");
  await wd.fill(tid("country-name"), "Germany");
  await wd.choose(tid("country-region"), /^EMEA$/);
  await submit(wd, tid("country-add-save"), tid("country-iso"));
  await wd.press(tid("site-add"));
  await wd.fill(tid("site-code"), "DE-FRA-01");
  await wd.choose(tid("site-country"), /^DE\b/);
  await submit(wd, tid("site-add-save"), tid("site-code"));
  const fra = await wd.text('[data-testid="site-row"][data-code="DE-FRA-01"]');
  assert.match(fra, /Germany \/ EMEA/);

  await wd.press(tid("rule-add"));
  await wd.fill(tid("rule-pattern"), pattern);
  await wd.choose(tid("rule-site"), /^DE-FRA-01$/);
  await wd.press(tid("rule-preview"));
  assert.match(await wd.text(tid("rule-preview-result")), preview);
  await submit(wd, tid("rule-add-save"), tid("rule-pattern"));
  const rule = await wd.text(tid("rules-table"), /DE-FRA-01/);
  assert.match(rule, /DE-FRA-01\s+vcenter\s+/);
  assert.ok(rule.includes(pattern), `the rules table shows the pattern (${rule})`);
}

/** The rendered rows of the virtual table `css`, each as {column header: cell text} (the
 * texts as written, not as styled: the headers are shown in capitals). */
export function tableRows(wd, css) {
  return wd.execute(
    `const t = document.querySelector(arguments[0]);
     if (!t) return null;
     const headers = [...t.querySelectorAll('[role="columnheader"]')].map((h) => h.textContent.trim());
     return [...t.querySelectorAll('[data-testid="row"]')].map((r) =>
       Object.fromEntries([...r.querySelectorAll('[role="gridcell"]')].map((c, i) => [headers[i], c.textContent.trim()])));`,
    [css],
  );
}

/** The inventory filtered by site `site`: `vms` VMs, and every row shown says that site. */
export async function vmsAtSite(wd, site, vms) {
  await wd.press(tid("nav-inventory"));
  await wd.element(tid("vm-table"));
  await wd.choose(tid("filter-site"), new RegExp(`^${site}\\b`));
  await wd.text(tid("inventory-total"), new RegExp(`^${vms} VMs$`));
  let seen;
  const rows = await wd
    .until(`VM rows at ${site}`, async () => {
      seen = await tableRows(wd, tid("vm-table"));
      return seen?.length > 0 && seen.every((x) => x.Site === site) ? seen : null;
    })
    .catch((e) => {
      throw new Error(`${e.message}; the table showed ${JSON.stringify(seen)}`);
    });
  for (const r of rows) assert.match(r.Name, /^lab-vm-\d{5}$/);
  return rows;
}
