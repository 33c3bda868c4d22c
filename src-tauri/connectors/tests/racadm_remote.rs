//! The racadm driver: parsers against output written from Dell's RACADM CLI guide, and a fake
//! `racadm` script on a PATH in a temp dir standing in for the real binary.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use eio_connectors::idrac::{DriverKind, Generation, PowerState};
use eio_connectors::racadm::parse::{parse_getsysinfo, parse_getversion, parse_swinventory};
use eio_connectors::racadm::{Racadm, RacadmError};
use eio_connectors::Credentials;

const GETSYSINFO: &str = "\
RAC Information:
RAC Date/Time           = Wed Jun 05 2024 10:14:51
Firmware Version        = 2.83.83.83
Firmware Build          = 01
Last Firmware Update    = 05/02/2024 09:41:34
Hardware Version        = 0.01
MAC Address             = 18:66:DA:9D:CD:CD

Common settings:
Register DNS RAC Name   = 0
DNS RAC Name            = idrac-7XK2Q42
Current DNS Domain      =
Domain Name from DHCP   = Disabled

IPv4 settings:
Enabled                 = 1
Current IP Address      = 10.20.30.41
Current IP Gateway      = 10.20.30.1
Current IP Netmask      = 255.255.255.0
DHCP Enabled            = 0
Current DNS Server 1    = 10.20.0.10
Current DNS Server 2    = 0.0.0.0
DNS Servers from DHCP   = Disabled

System Information:
System Model            = PowerEdge R730
System Revision         = I
System BIOS Version     = 2.19.0
Service Tag             = 7XK2Q42
Express Svc Code        = 17020863122
Host Name               = esx-r730-07.example.com
OS Name                 = VMware ESXi
OS Version              = 7.0.3 build-21930508
Power Status            = ON
Fresh Air Capable       = No

Watchdog Information:
Recovery Action         = None
Present countdown value = 479 seconds
Initial countdown value = 480 seconds

Embedded NIC MAC Addresses:
NIC.Integrated.1-1-1    Ethernet                = 24:6E:96:12:34:50
";

const GETVERSION: &str = "\
 Bios Version                     = 2.19.0
 iDRAC Version                    = 2.83.83.83
 Lifecycle Controller Version     = 2.83.83.83
";

const SWINVENTORY: &str = "\
--------------------------SOFTWARE INVENTORY--------------------------
ComponentType = FIRMWARE
ElementName = Integrated Dell Remote Access Controller
FQDD = iDRAC.Embedded.1-1
InstallationDate = 2024-05-02T09:41:34Z
Current Version = 2.83.83.83
-------------------------------------------------------------------
ComponentType = FIRMWARE
ElementName = Integrated Dell Remote Access Controller
FQDD = iDRAC.Embedded.1-1
InstallationDate = NA
Rollback Version = 2.75.75.75
-------------------------------------------------------------------
ComponentType = BIOS
ElementName = BIOS
FQDD = BIOS.Setup.1-1
InstallationDate = 2024-05-02T10:02:11Z
Current Version = 2.19.0
-------------------------------------------------------------------
ComponentType = FIRMWARE
ElementName = PERC H730P Mini
FQDD = RAID.Integrated.1-1
InstallationDate = 2023-11-20T14:00:00Z
Current Version = 25.5.9.0001
-------------------------------------------------------------------
ComponentType = FIRMWARE
ElementName = Intel(R) Ethernet 10G 4P X520/I350 rNDC - 24:6E:96:12:34:50
FQDD = NIC.Integrated.1-1-1
InstallationDate = 2023-11-20T14:05:00Z
Current Version = 19.5.12
-------------------------------------------------------------------
ComponentType = APAC
ElementName = OS COLLECTOR
FQDD = OSCollector.Embedded.1
InstallationDate = NA
Available Version = 4.0
-------------------------------------------------------------------
";

#[test]
fn getsysinfo_parses() {
    let info = parse_getsysinfo(GETSYSINFO);
    assert_eq!(info.rac_firmware_version.as_deref(), Some("2.83.83.83"));
    assert_eq!(info.rac_mac.as_deref(), Some("18:66:DA:9D:CD:CD"));
    assert_eq!(info.rac_ip.as_deref(), Some("10.20.30.41"));
    assert_eq!(info.model.as_deref(), Some("PowerEdge R730"));
    assert_eq!(info.bios_version.as_deref(), Some("2.19.0"));
    assert_eq!(info.service_tag.as_deref(), Some("7XK2Q42"));
    assert_eq!(info.host_name.as_deref(), Some("esx-r730-07.example.com"));
    assert_eq!(info.os_name.as_deref(), Some("VMware ESXi"));
    assert_eq!(info.power_state, PowerState::On);
}

#[test]
fn getversion_and_swinventory_parse() {
    let v = parse_getversion(GETVERSION);
    assert_eq!(v.bios.as_deref(), Some("2.19.0"));
    assert_eq!(v.idrac.as_deref(), Some("2.83.83.83"));
    assert_eq!(v.lifecycle_controller.as_deref(), Some("2.83.83.83"));
    let fw = parse_swinventory(SWINVENTORY);
    let rows: Vec<(&str, &str)> = fw.iter().map(|f| (f.fqdd.as_str(), f.version.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("BIOS.Setup.1-1", "2.19.0"),
            ("NIC.Integrated.1-1-1", "19.5.12"),
            ("RAID.Integrated.1-1", "25.5.9.0001"),
            ("iDRAC.Embedded.1-1", "2.83.83.83"),
        ],
        "rollback and available images are not installed rows"
    );
    assert_eq!(fw[3].name, "Integrated Dell Remote Access Controller");
    assert_eq!(fw[3].category.as_deref(), Some("idrac"));
}

/// Write a fake racadm that answers like the real one for `password`.
fn fake_racadm(dir: &Path, password: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("getsysinfo.txt"), GETSYSINFO).unwrap();
    std::fs::write(dir.join("swinventory.txt"), SWINVENTORY).unwrap();
    let script = format!(
        r#"#!/bin/sh
# Fake remote racadm: racadm -r HOST -u USER -p PASSWORD SUBCOMMAND
while [ $# -gt 0 ]; do
  case "$1" in
    -r) host="$2"; shift 2;;
    -u) user="$2"; shift 2;;
    -p) pass="$2"; shift 2;;
    *) cmd="$1"; shift;;
  esac
done
if [ "$host" = "unreachable.invalid" ]; then echo "ERROR: Unable to connect to RAC at specified IP address."; exit 1; fi
if [ "$pass" != "{password}" ]; then
  echo "ERROR: Login failed - invalid username or password (you typed $pass)"; exit 1
fi
if [ "$cmd" = "hang" ]; then exec sleep 3600; fi
cat "{dir}/$cmd.txt" 2>/dev/null || {{ echo "ERROR: Invalid subcommand specified."; exit 1; }}
"#,
        dir = dir.display()
    );
    let path = dir.join("racadm");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn a_racadm_on_path_reads_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    fake_racadm(dir.path(), "calvin-9x");
    let path_var = std::env::join_paths([dir.path()]).unwrap();
    let racadm = Racadm::locate_in(&path_var).unwrap();
    assert_eq!(racadm.binary(), dir.path().join("racadm"));
    let inv = racadm
        .read_inventory("10.20.30.41", &Credentials::new("root", "calvin-9x"), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(inv.driver_used, DriverKind::Racadm);
    assert_eq!(inv.service_tag.as_deref(), Some("7XK2Q42"));
    assert_eq!(inv.model.as_deref(), Some("PowerEdge R730"));
    assert_eq!(inv.manufacturer.as_deref(), Some("Dell Inc."));
    assert_eq!(inv.bios_version.as_deref(), Some("2.19.0"));
    assert_eq!(inv.hostname.as_deref(), Some("esx-r730-07.example.com"));
    assert_eq!(inv.power_state, PowerState::On);
    assert_eq!(inv.manager.firmware_version.as_deref(), Some("2.83.83.83"));
    assert_eq!(inv.manager.generation, Some(Generation::Idrac8), "R730 is 13G");
    assert_eq!(inv.manager.mac.as_deref(), Some("18:66:da:9d:cd:cd"));
    assert_eq!(inv.manager.ip.as_deref(), Some("10.20.30.41"));
    assert_eq!(inv.firmware.len(), 4);
    assert!(inv.capabilities.racadm);
}

#[tokio::test]
async fn racadm_failures_are_typed_and_never_show_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let racadm = Racadm::at(fake_racadm(dir.path(), "right-one"));
    let secret = "Typed-5e5e5e-unique";
    let err = racadm
        .run("10.0.0.1", &Credentials::new("root", secret), &["getsysinfo"], Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err, RacadmError::Unauthorized { .. }), "{err:?}");
    let err2 = racadm
        .run("10.0.0.1", &Credentials::new("root", "right-one"), &["nosuchcommand"], Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err2, RacadmError::Failed { exit: 1, .. }), "{err2:?}");
    let err3 = racadm
        .run("unreachable.invalid", &Credentials::new("root", "right-one"), &["getsysinfo"], Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err3, RacadmError::Unreachable { .. }), "{err3:?}");
    let err4 = racadm
        .run("10.0.0.1", &Credentials::new("root", "right-one"), &["hang"], Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err4, RacadmError::Timeout { .. }), "{err4:?}");
    for e in [&err, &err2, &err3, &err4] {
        assert!(!format!("{e} {e:?}").contains(secret) && !format!("{e} {e:?}").contains("right-one"), "{e:?}");
    }
}

#[test]
fn no_racadm_means_the_capability_is_off_with_a_reason() {
    let empty = tempfile::tempdir().unwrap();
    let path_var = std::env::join_paths([empty.path()]).unwrap();
    // Dell's own install paths may exist on an operator's machine, not here.
    if Path::new("/opt/dell/srvadmin").exists() {
        return;
    }
    match Racadm::locate_in(&path_var) {
        Err(RacadmError::NotInstalled { reason }) => assert!(reason.contains("iDRAC Tools"), "{reason}"),
        other => panic!("expected NotInstalled, got {other:?}"),
    }
}

/// An iDRAC that speaks only TLS 1.0/1.1, with racadm installed: probe picks racadm, says
/// why, and the inventory comes through it.
#[tokio::test]
async fn legacy_tls_endpoints_fall_back_to_racadm() {
    use eio_connectors::idrac::{self, SyncOptions};
    use eio_lab::dell::{DellLab, Fault};
    let dir = tempfile::tempdir().unwrap();
    let lab =
        DellLab::builder().bmcs(1).credentials("root", "calvin-9x").fault(0, Fault::LegacyTls).build().await.unwrap();
    let mut e = lab.endpoint(0);
    e.racadm = Some(Racadm::at(fake_racadm(dir.path(), "calvin-9x")));
    let probe = idrac::probe(&e).await.unwrap();
    assert_eq!(probe.driver_preference, DriverKind::Racadm);
    assert!(probe.driver_reason.contains("TLS 1.0/1.1"), "{}", probe.driver_reason);
    assert_eq!(probe.tls.min_tls_version.as_deref(), Some("1.0/1.1"));
    assert!(probe.tls.note.as_deref().is_some_and(|n| n.contains("TLS 1.0/1.1")));
    let inv = idrac::inventory(&e, Some(&probe), &SyncOptions::default()).await.unwrap();
    assert_eq!(inv.driver_used, DriverKind::Racadm);
    assert_eq!(inv.service_tag.as_deref(), Some("7XK2Q42"));
}
