// The frame around every page: navigation (keyboard: Alt+1…8), who is signed in, the
// approvals badge, the kill-switch banner, the theme switch; live updates flow from here.
import {
  ActionIcon,
  Alert,
  AppShell,
  Badge,
  Burger,
  Center,
  Group,
  Loader,
  Menu,
  NavLink,
  ScrollArea,
  Text,
  Tooltip,
  UnstyledButton,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure, useHotkeys } from "@mantine/hooks";
import {
  IconAlertOctagon,
  IconBriefcase,
  IconDashboard,
  IconFileReport,
  IconLogout,
  IconMoon,
  IconNetwork,
  IconServer2,
  IconSettings,
  IconStack2,
  IconSun,
  IconUserCircle,
} from "@tabler/icons-react";
import { lazy, Suspense, useEffect, type ReactNode } from "react";
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from "react-router";
import { api, subscribeLive } from "./api/client";
import { inDesktop } from "./api/transport";
import { ErrorAlert } from "./components/common";
import { LiveProvider } from "./lib/live";
import { MeContext } from "./lib/me";
import { usePageModel } from "./lib/usePageModel";
import { DashboardPage } from "./pages/DashboardPage";
import { StatusView } from "./pages/StatusView";

// The dashboard is the first page; every other page is loaded when first opened, so the
// window parses and keeps only what the operator has used (desktop memory, issue 21).
const InventoryPage = lazy(() => import("./pages/InventoryPage").then((m) => ({ default: m.InventoryPage })));
const IpamPage = lazy(() => import("./pages/IpamPage").then((m) => ({ default: m.IpamPage })));
const JobDetailPage = lazy(() => import("./pages/JobDetailPage").then((m) => ({ default: m.JobDetailPage })));
const JobsPage = lazy(() => import("./pages/JobsPage").then((m) => ({ default: m.JobsPage })));
const ReportsPage = lazy(() => import("./pages/ReportsPage").then((m) => ({ default: m.ReportsPage })));
const ServersPage = lazy(() => import("./pages/ServersPage").then((m) => ({ default: m.ServersPage })));
const SettingsPage = lazy(() => import("./pages/SettingsPage").then((m) => ({ default: m.SettingsPage })));

type Nav = { to: string; label: string; icon: ReactNode; testId: string };
const NAV: Nav[] = [
  { to: "/", label: "Dashboard", icon: <IconDashboard size={18} />, testId: "nav-dashboard" },
  { to: "/inventory", label: "Inventory", icon: <IconStack2 size={18} />, testId: "nav-inventory" },
  { to: "/servers", label: "Dell servers", icon: <IconServer2 size={18} />, testId: "nav-servers" },
  { to: "/jobs", label: "Jobs", icon: <IconBriefcase size={18} />, testId: "nav-jobs" },
  { to: "/ipam", label: "IPAM", icon: <IconNetwork size={18} />, testId: "nav-ipam" },
  { to: "/reports", label: "Reports", icon: <IconFileReport size={18} />, testId: "nav-reports" },
  { to: "/settings", label: "Settings", icon: <IconSettings size={18} />, testId: "nav-settings" },
];

export function Shell(props: { account: string; signOutLabel?: string; onSignOut: () => void }) {
  return (
    <LiveProvider subscribe={subscribeLive}>
      <Frame {...props} />
    </LiveProvider>
  );
}

function Frame(props: { account: string; signOutLabel?: string; onSignOut: () => void }) {
  const [opened, { toggle, close }] = useDisclosure();
  const shell = usePageModel(() => api.shell_page(), [], ["approval", "job", "kill_switch"]);
  const location = useLocation();
  const navigate = useNavigate();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  useHotkeys(NAV.map((n, i) => [`alt+${i + 1}`, () => navigate(n.to)] as [string, () => void]));
  useEffect(close, [location.pathname, close]);
  useDesktopNavigation(navigate);

  const model = shell.data;
  const approvals = model?.approvals_for_me ?? 0;
  return (
    <MeContext.Provider value={model?.me ?? null}>
      <AppShell header={{ height: 52 }} navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group gap="xs" wrap="nowrap">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
              <Text fw={800} size="lg" c="indigo">
                EIO
              </Text>
              <Text size="sm" c="dimmed" visibleFrom="md">
                Enterprise Infrastructure Orchestrator
              </Text>
            </Group>
            <Group gap="xs" wrap="nowrap">
              {model?.kill_switch.engaged && (
                <Badge color="red" variant="filled" leftSection={<IconAlertOctagon size={14} />} data-testid="kill-switch-engaged">
                  Kill switch on
                </Badge>
              )}
              <Tooltip label={scheme === "dark" ? "Light theme" : "Dark theme"}>
                <ActionIcon
                  variant="default"
                  size="lg"
                  aria-label="Toggle colour theme"
                  data-testid="theme-toggle"
                  onClick={() => setColorScheme(scheme === "dark" ? "light" : "dark")}
                >
                  {scheme === "dark" ? <IconSun size={18} /> : <IconMoon size={18} />}
                </ActionIcon>
              </Tooltip>
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <UnstyledButton aria-label="Account" data-testid="account-menu">
                    <Group gap={6} wrap="nowrap">
                      <IconUserCircle size={22} />
                      <Text size="sm" visibleFrom="sm" data-testid="signed-in-as">
                        {model?.me.email ?? model?.me.login ?? ""}
                      </Text>
                    </Group>
                  </UnstyledButton>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Label>{props.account}</Menu.Label>
                  {model?.me.role && <Menu.Label>Role: {model.me.role}</Menu.Label>}
                  {props.signOutLabel && (
                    <Menu.Item leftSection={<IconLogout size={16} />} onClick={props.onSignOut} data-testid="sign-out">
                      {props.signOutLabel}
                    </Menu.Item>
                  )}
                </Menu.Dropdown>
              </Menu>
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs">
          <ScrollArea>
            {NAV.map((n, i) => (
              <NavLink
                key={n.to}
                component={Link}
                to={n.to}
                label={n.label}
                leftSection={n.icon}
                active={n.to === "/" ? location.pathname === "/" : location.pathname.startsWith(n.to)}
                data-testid={n.testId}
                title={`${n.label} (Alt+${i + 1})`}
                rightSection={
                  n.to === "/jobs" && approvals > 0 ? (
                    <Badge size="sm" color="orange" circle data-testid="approvals-badge">
                      {approvals}
                    </Badge>
                  ) : undefined
                }
              />
            ))}
          </ScrollArea>
        </AppShell.Navbar>
        <AppShell.Main>
          {shell.error && !model && <ErrorAlert error={shell.error} onRetry={shell.reload} />}
          {model?.kill_switch.engaged && (
            <Alert color="red" mb="md" icon={<IconAlertOctagon />} title="The kill switch is engaged" data-testid="kill-switch-banner">
              No job makes an external call until an admin releases it
              {model.kill_switch.reason ? ` (${model.kill_switch.reason})` : ""}.
            </Alert>
          )}
          <Suspense
            fallback={
              <Center h={200} data-testid="page-loading">
                <Loader />
              </Center>
            }
          >
            <Routes>
              <Route path="/" element={<DashboardPage />} />
              <Route path="/inventory" element={<InventoryPage />} />
              <Route path="/servers" element={<ServersPage />} />
              <Route path="/jobs" element={<JobsPage onChange={shell.reload} />} />
              <Route path="/jobs/:id" element={<JobDetailPage />} />
              <Route path="/ipam" element={<IpamPage />} />
              <Route path="/reports" element={<ReportsPage />} />
              <Route path="/settings" element={<SettingsPage />} />
              <Route path="/status" element={<StatusView />} />
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </Suspense>
        </AppShell.Main>
      </AppShell>
    </MeContext.Provider>
  );
}

/** In the desktop, the shell asks the page to open a job (a clicked notification or tray item). */
function useDesktopNavigation(navigate: (to: string) => void) {
  useEffect(() => {
    if (!inDesktop()) return;
    let stop: (() => void) | null = null;
    let cancelled = false;
    import("@tauri-apps/api/event")
      .then(({ listen }) => listen<string>("eio://open", (e) => navigate(e.payload)))
      .then((unlisten) => {
        if (cancelled) unlisten();
        else stop = unlisten;
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [navigate]);
}
