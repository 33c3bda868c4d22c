//! The Redfish driver against a third-party peer: sushy-emulator (sushy-tools 2.2.0, `--fake`)
//! over HTTPS with a pinned certificate and Basic auth (it offers no sessions).
#[path = "common/dell.rs"]
mod dell;

use eio_connectors::http::{HttpConfig, TlsPolicy};
use eio_connectors::idrac::{self, DriverKind, ErrorKind, Health, IdracEndpoint, PowerState, SyncOptions};
use eio_connectors::Credentials;

#[tokio::test]
async fn inventory_of_a_sushy_emulator_system() {
    let (cert, key, thumbprint) = dell::self_signed();
    let peer = dell::start_sushy("admin", "sushy-Secret-1", &cert, &key);
    let url = url::Url::parse(&format!("https://127.0.0.1:{}", peer.port)).unwrap();
    let http = HttpConfig { tls: TlsPolicy::Pinned(thumbprint), ..Default::default() };
    let endpoint = IdracEndpoint::new(url, Credentials::new("admin", "sushy-Secret-1"), http);

    let inv = idrac::inventory(&endpoint, None, &SyncOptions::default()).await.unwrap();
    // sushy-tools' fake driver: one system with a fixed UUID, powered off, no model or SKU.
    assert_eq!(inv.system_uuid.unwrap().to_string(), "27946b59-9e44-4fa7-8e91-f3527a1ef094");
    assert_eq!(inv.manufacturer.as_deref(), Some("Sushy Emulator"));
    assert_eq!(inv.service_tag, None);
    assert_eq!(inv.model, None);
    assert_eq!(inv.power_state, PowerState::Off);
    assert_eq!(inv.health, Health::Ok);
    assert_eq!(inv.manager.firmware_version.as_deref(), Some("1.00"));
    assert_eq!(inv.manager.model.as_deref(), Some("Joo Janta 200"));
    assert_eq!(inv.manager.generation, None, "not a Dell generation");
    assert_eq!(inv.driver_used, DriverKind::Redfish);
    assert!(inv.firmware.is_empty());
    let caps = &inv.capabilities;
    assert!(caps.redfish && !caps.sessions, "no SessionService: Basic auth");
    assert!(caps.simple_update && caps.http_push_update && !caps.multipart_update);
    assert!(!caps.firmware_inventory && !caps.expand);
    assert!(caps.notes.iter().any(|n| n.contains("FirmwareInventory")), "{:?}", caps.notes);
    assert_eq!(inv.tls.pinned_sha256, Some(thumbprint.to_hex()));

    let mut wrong = endpoint.clone();
    wrong.credentials = Credentials::new("admin", "nope");
    let err = idrac::inventory(&wrong, None, &SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
}
