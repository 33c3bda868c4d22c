// Reports: definitions, schedules, run now, history, the files. The reporting module's
// operations are being built; this page fills in when they land in the registry.
import { Stack } from "@mantine/core";
import { IconFileReport } from "@tabler/icons-react";
import { EmptyState, PageHeader } from "../components/common";

export function ReportsPage() {
  return (
    <Stack data-testid="reports">
      <PageHeader title="Reports" description="Inventory, compliance and job reports as HTML, CSV, JSON or XLSX." />
      <EmptyState title="Reports arrive with the reporting module" icon={<IconFileReport size={26} />} testId="reports-pending">
        Report definitions, schedules, history and their files appear here once the reporting operations are in this
        build.
      </EmptyState>
    </Stack>
  );
}
