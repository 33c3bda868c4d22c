// IPAM: prefixes per routing domain, utilization, available ranges, allocation, findings.
// The IPAM module's operations are being built; this page fills in when they land in
// the operation registry.
import { Stack } from "@mantine/core";
import { IconNetwork } from "@tabler/icons-react";
import { EmptyState, PageHeader } from "../components/common";

export function IpamPage() {
  return (
    <Stack data-testid="ipam">
      <PageHeader title="IPAM" description="Prefixes, planned and observed addresses, and findings." />
      <EmptyState title="IPAM arrives with the IPAM module" icon={<IconNetwork size={26} />} testId="ipam-pending">
        The prefix tree, utilization, allocation and findings appear here once the IPAM operations are in this build.
        Open findings already show on the dashboard.
      </EmptyState>
    </Stack>
  );
}
