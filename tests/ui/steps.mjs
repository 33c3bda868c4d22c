// Steps both browser specs take through the UI, written once: each waits on what the page
// shows, never on time.
import assert from "node:assert/strict";

/** Settings → Sites: region EMEA, country DE in it, site DE-FRA-01, and a rule placing
 *  every vCenter name there — previewed first (`vms` VMs would move), then run. */
export async function siteAndRule(page, vms) {
  await page.getByTestId("tab-sites").click();
  await page.getByTestId("sites-settings").waitFor();
  await page.getByTestId("region-add").click();
  await page.getByTestId("region-code").fill("EMEA");
  await page.getByTestId("region-name").fill("Europe");
  await page.getByTestId("region-add-save").click();
  await page.getByTestId("country-add").click();
  await page.getByTestId("country-iso").fill("DE");
  await page.getByTestId("country-region").click();
  await page.getByRole("option", { name: "EMEA" }).click();
  await page.getByTestId("country-name").fill("Germany");
  await page.getByTestId("country-add-save").click();
  await page.getByTestId("site-add").click();
  await page.getByTestId("site-code").fill("DE-FRA-01");
  await page.getByTestId("site-country").click();
  await page.getByRole("option", { name: /^DE/ }).click();
  await page.getByTestId("site-add-save").click();
  const fra = page.locator('[data-testid="site-row"][data-code="DE-FRA-01"]');
  await fra.waitFor();
  assert.match(await fra.innerText(), /Germany \/ EMEA/);
  await page.getByTestId("rule-add").click();
  await page.getByTestId("rule-site").click();
  await page.getByRole("option", { name: "DE-FRA-01" }).click();
  await page.getByTestId("rule-pattern").fill(".");
  // The preview says what the rule would place before it exists: the lab's VMs and hosts,
  // placed nowhere yet, would all move there.
  await page.getByTestId("rule-preview").click();
  const preview = page.getByTestId("rule-preview-result");
  await preview.filter({ hasText: /[1-9]\d* would move/ }).waitFor();
  assert.match(await preview.innerText(), new RegExp(`${vms} VM\\(s\\)`));
  assert.match(await preview.innerText(), /nowhere → DE-FRA-01/);
  await page.getByTestId("rule-add-save").click();
  await page.getByTestId("rules-table").getByText("DE-FRA-01").waitFor();
  await page.getByTestId("site-infer").click();
  await page.getByText(/^Inference: /).first().waitFor();
}

/** The inventory filtered by the inferred site: all `vms` lab VMs are at DE-FRA-01. */
export async function vmsAtInferredSite(page, vms) {
  await page.getByTestId("nav-inventory").click();
  await page.getByTestId("vm-table").waitFor();
  await page.getByTestId("filter-site").click();
  await page.getByRole("option", { name: /^DE-FRA-01/ }).click();
  await page.getByTestId("inventory-total").filter({ hasText: `${vms} VMs` }).waitFor();
  await page.getByTestId("vm-table").getByText("DE-FRA-01").first().waitFor();
}

/** Settings → Sources → Add: the certificate is shown before anything is trusted; it is
 *  checked against the lab's, then pinned. */
export async function addVcenter(page, vcenter, name) {
  await page.getByTestId("source-add").click();
  await page.getByTestId("source-name").fill(name);
  await page.getByTestId("source-url").fill(vcenter.url);
  await page.getByTestId("source-username").fill(vcenter.username);
  await page.getByTestId("source-password").fill(vcenter.password);
  await page.getByTestId("source-check").click();
  await page.getByTestId("certificate").waitFor();
  assert.equal(await page.getByTestId("cert-sha256").innerText(), vcenter.thumbprint);
  await page.getByTestId("cert-untrusted").waitFor();
  assert.equal(await page.getByTestId("source-save").isDisabled(), true, "nothing is trusted until the operator chooses");
  await page.getByTestId("trust-pin").click();
}
