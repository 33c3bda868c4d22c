//! Fixtures for the sites, IPAM, findings and search tests: inventory and observations
//! written the way the sync workers write them (as the migrating superuser here), and
//! the service layer over a test login's own connection.
#![allow(dead_code)]

use eio_core::Database;
use sqlx::PgPool;
use uuid::Uuid;

/// The service identity test sources use (created once per database).
pub async fn identity(admin: &PgPool) -> Uuid {
    sqlx::query("INSERT INTO worker_keys (public_key, label) VALUES ($1, 'test') ON CONFLICT DO NOTHING")
        .bind(crate::common::TEST_RECIPIENT)
        .execute(admin)
        .await
        .unwrap();
    if let Some(id) = sqlx::query_scalar("SELECT id FROM service_identities WHERE name = 'si-test'")
        .fetch_optional(admin)
        .await
        .unwrap()
    {
        return id;
    }
    sqlx::query_scalar(
        "INSERT INTO service_identities (name, system, username, encrypted_credentials, recipients)
         VALUES ('si-test', 'other', 'svc', $1, ARRAY[$2]) RETURNING id",
    )
    .bind(crate::common::fake_ciphertext())
    .bind(crate::common::TEST_RECIPIENT)
    .fetch_one(admin)
    .await
    .unwrap()
}

/// A source of inventory: a vCenter (as an admin would add it).
pub async fn vcenter(admin: &PgPool, name: &str) -> Uuid {
    let si = identity(admin).await;
    sqlx::query_scalar(
        "INSERT INTO vcenter_instances (name, url, service_identity_id) VALUES ($1, 'https://vc.example', $2) RETURNING id",
    )
    .bind(name)
    .bind(si)
    .fetch_one(admin)
    .await
    .unwrap()
}

pub async fn datacenter(admin: &PgPool, vc: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO datacenters (vcenter_id, moid, name) VALUES ($1, $2, $3) RETURNING id")
        .bind(vc)
        .bind(format!("dc-{}", Uuid::new_v4().simple()))
        .bind(name)
        .fetch_one(admin)
        .await
        .unwrap()
}

pub async fn cluster(admin: &PgPool, vc: Uuid, dc: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO clusters (vcenter_id, datacenter_id, moid, name) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(vc)
    .bind(dc)
    .bind(format!("domain-c{}", Uuid::new_v4().simple()))
    .bind(name)
    .fetch_one(admin)
    .await
    .unwrap()
}

pub async fn host(admin: &PgPool, vc: Uuid, cluster: Option<Uuid>, name: &str, service_tag: Option<&str>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO esxi_hosts (vcenter_id, cluster_id, datacenter_id, moid, name, service_tag, vendor, model)
         VALUES ($1, $2, (SELECT datacenter_id FROM clusters WHERE id = $2), $3, $4, $5, 'Dell Inc.', 'PowerEdge R650')
         RETURNING id",
    )
    .bind(vc)
    .bind(cluster)
    .bind(format!("host-{}", Uuid::new_v4().simple()))
    .bind(name)
    .bind(service_tag)
    .fetch_one(admin)
    .await
    .unwrap()
}

pub struct VmSpec<'a> {
    pub name: &'a str,
    pub cluster: Option<Uuid>,
    pub guest_hostname: Option<&'a str>,
    /// (mac, port group)
    pub nics: &'a [(&'a str, &'a str)],
}

pub async fn vm(admin: &PgPool, vc: Uuid, spec: VmSpec<'_>) -> Uuid {
    let nics: Vec<serde_json::Value> =
        spec.nics.iter().map(|(mac, net)| serde_json::json!({"mac": mac, "network": net, "connected": true})).collect();
    sqlx::query_scalar(
        "INSERT INTO virtual_machines (vcenter_id, cluster_id, datacenter_id, moid, name, guest_hostname, nics, power_state)
         VALUES ($1, $2, (SELECT datacenter_id FROM clusters WHERE id = $2), $3, $4, $5, $6, 'powered_on')
         RETURNING id",
    )
    .bind(vc)
    .bind(spec.cluster)
    .bind(format!("vm-{}", Uuid::new_v4().simple()))
    .bind(spec.name)
    .bind(spec.guest_hostname)
    .bind(serde_json::Value::Array(nics))
    .fetch_one(admin)
    .await
    .unwrap()
}

/// A Dell server behind its own iDRAC endpoint.
pub async fn server(admin: &PgPool, hostname: &str, service_tag: &str, idrac_ip: Option<&str>) -> Uuid {
    let si = identity(admin).await;
    let idrac: Uuid = sqlx::query_scalar(
        "INSERT INTO idrac_endpoints (name, url, service_identity_id) VALUES ($1, 'https://idrac.example', $2) RETURNING id",
    )
    .bind(format!("idrac-{}", service_tag.to_lowercase()))
    .bind(si)
    .fetch_one(admin)
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO physical_servers (idrac_id, hostname, service_tag, model, idrac_ip)
         VALUES ($1, $2, $3, 'PowerEdge R750', $4::inet) RETURNING id",
    )
    .bind(idrac)
    .bind(hostname)
    .bind(service_tag)
    .bind(idrac_ip)
    .fetch_one(admin)
    .await
    .unwrap_or_else(|e| panic!("server {hostname}: {e}"))
}

pub async fn routing_domain(admin: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO routing_domains (name) VALUES ($1) RETURNING id")
        .bind(name)
        .fetch_one(admin)
        .await
        .unwrap()
}

pub async fn domain_id(admin: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM routing_domains WHERE name = $1").bind(name).fetch_one(admin).await.unwrap()
}

/// One connector report, as a sync writes it (upserting by its identity).
pub struct Seen<'a> {
    pub domain: &'a str,
    pub address: &'a str,
    pub mac: Option<&'a str>,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub source: &'a str,
    pub hostname: Option<&'a str>,
}

impl<'a> Seen<'a> {
    pub fn vm(address: &'a str, mac: &'a str, vm: Uuid) -> Seen<'a> {
        Seen {
            domain: "default",
            address,
            mac: Some(mac),
            entity_type: "virtual_machine",
            entity_id: vm,
            source: "vcenter_vm",
            hostname: None,
        }
    }

    pub fn in_domain(mut self, domain: &'a str) -> Self {
        self.domain = domain;
        self
    }
}

pub async fn observe(pool: &PgPool, seen: Seen<'_>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO ip_observations AS o (routing_domain_id, address, source, mac_address, confidence, entity_type,
                                           entity_id, hostname)
         VALUES ((SELECT id FROM routing_domains WHERE name = $1), $2::inet, $3::observation_source, $4::macaddr, 0.9,
                 $5::entity_kind, $6, $7)
         ON CONFLICT ON CONSTRAINT ip_observations_identity_key DO UPDATE
             SET last_seen = now(), gone_at = NULL, mac_address = EXCLUDED.mac_address
         RETURNING id",
    )
    .bind(seen.domain)
    .bind(seen.address)
    .bind(seen.source)
    .bind(seen.mac)
    .bind(seen.entity_type)
    .bind(seen.entity_id)
    .bind(seen.hostname)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("observe {}: {e}", seen.address))
}

/// The carrier stopped reporting the address (what a sync does when it disappears).
pub async fn gone(pool: &PgPool, observation: Uuid) {
    sqlx::query("UPDATE ip_observations SET gone_at = now() WHERE id = $1")
        .bind(observation)
        .execute(pool)
        .await
        .unwrap();
}

/// The service layer over `pool`.
pub fn db(pool: &PgPool) -> Database {
    Database::from_pool(pool.clone())
}

/// Region EU, country DE, and the sites given (codes).
pub async fn sites(admin: &PgPool, codes: &[&str]) {
    let db = db(admin);
    eio_core::sites::add_region(&db, "EU", "Europe").await.unwrap();
    eio_core::sites::add_country(&db, "DE", "EU", "Germany").await.unwrap();
    for code in codes {
        eio_core::sites::add(
            &db,
            &eio_core::sites::NewSite {
                code: (*code).into(),
                country: "DE".into(),
                name: None,
                timezone: Some("Europe/Berlin".into()),
                status: None,
            },
        )
        .await
        .unwrap();
    }
}

/// A prefix in routing domain `domain` with no site, as an operator adds it.
pub async fn prefix(pool: &PgPool, domain: &str, cidr: &str, threshold: Option<f32>) -> Uuid {
    eio_core::ipam::prefixes::add(
        &db(pool),
        &eio_core::ipam::prefixes::NewPrefix {
            domain: Some(domain.into()),
            cidr: cidr.parse().unwrap(),
            site: None,
            vlan_id: None,
            status: eio_core::ipam::prefixes::PrefixStatus::Active,
            description: None,
            utilization_threshold: threshold,
        },
    )
    .await
    .unwrap()
    .id
}
