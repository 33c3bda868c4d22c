//! Wiring EIO to the lab as an operator would: this machine's worker key, regions, sites,
//! rules and prefixes, service identities and sources with pinned certificates, the first
//! iDRAC sync — and `--reset`, which drops what the demo set up so it can be set up again.
use std::path::Path;

use eio_core::config::Config;
use eio_core::error::ErrorCode;
use eio_core::identity::keystore;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::ipam::findings;
use eio_core::ipam::prefixes::{self, NewPrefix, PrefixStatus};
use eio_core::jobs;
use eio_core::sites::{self, NewSite, NewSiteRule, RuleMatch};
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::{Database, Error};
use eio_engine::sync::{dell, Syncer};
use eio_lab::estate::{Estate, EstateLab};
use eio_secret::{Credentials, Secret};

use crate::{OME_NAME, OPERATOR_EMAIL};

/// Treat "already exists" as done (set-up steps are repeated on every start).
pub(crate) fn done_if_exists<T>(r: Result<T, Error>) -> Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code == ErrorCode::Conflict => Ok(()),
        Err(e) => Err(e),
    }
}

/// The source name of the iDRAC of host `i`: `idrac-esx-fra-01`.
pub(crate) fn idrac_name(estate: &Estate, i: usize) -> String {
    format!("idrac-{}", estate.hosts[i].name.split('.').next().unwrap_or_default())
}

/// This machine's worker key, created (and trusted) on first use; in the OS keyring when
/// one answers, else in the data directory's key file.
pub(crate) async fn worker_key(config: &Config, key_file: Option<&Path>, db: &Database) -> Result<WorkerKey, Error> {
    let mut location = keystore::locate(config, key_file);
    let loaded = match keystore::load(&location).await {
        Err(e) if matches!(location, keystore::KeyLocation::Keyring { .. }) && e.code != ErrorCode::NotFound => {
            // The demo lab is throwaway and must start on a headless machine: it keeps its
            // key in the data directory's key file, and says so.
            location = keystore::KeyLocation::File(keystore::default_key_file(config));
            eprintln!(
                "eio demo: no Secret Service (OS keyring) here: the demo keeps its worker key in {location} \
                 (mode 0600); a real instance names its key file with --key-file"
            );
            keystore::load(&location).await
        }
        other => other,
    };
    let key = match loaded {
        Ok(k) => k,
        Err(e) if e.code == ErrorCode::NotFound => {
            let key = WorkerKey::generate();
            keystore::save(&location, &key, false).await?;
            key
        }
        Err(e) => return Err(e),
    };
    ids::trust_worker_key(db, &key.public_key(), "eio demo").await?;
    Ok(key)
}

pub(crate) async fn geography(db: &Database, estate: &Estate) -> Result<(), Error> {
    for (code, name) in estate.regions() {
        done_if_exists(sites::add_region(db, code, name).await)?;
    }
    for s in &estate.sites {
        done_if_exists(sites::add_country(db, &s.country, &s.region, &s.country_name).await)?;
        done_if_exists(
            sites::add(
                db,
                &NewSite {
                    code: s.code.clone(),
                    country: s.country.clone(),
                    name: Some(s.name.clone()),
                    timezone: Some(s.timezone.clone()),
                    status: None,
                },
            )
            .await,
        )?;
    }
    let rules = sites::rules(db).await?;
    for s in &estate.sites {
        let pattern = format!("^{}(-|$)", s.datacenter);
        if !rules.iter().any(|r| r.site == s.code && r.pattern.as_deref() == Some(pattern.as_str())) {
            done_if_exists(
                sites::add_rule(
                    db,
                    &NewSiteRule {
                        site: s.code.clone(),
                        rule: RuleMatch::Vcenter(pattern),
                        confidence: None,
                        description: Some(format!("the {} datacenter and its clusters (demo)", s.datacenter)),
                    },
                )
                .await,
            )?;
        }
    }
    for p in &estate.prefixes {
        done_if_exists(
            prefixes::add(
                db,
                &NewPrefix {
                    domain: None,
                    cidr: p.cidr.parse()?,
                    site: Some(p.site.clone()),
                    vlan_id: p.vlan,
                    status: PrefixStatus::Active,
                    description: Some(p.description.clone()),
                    utilization_threshold: None,
                },
            )
            .await,
        )?;
    }
    Ok(())
}

/// Add (or keep) one source: kept when it already points at `url` with `thumbprint`,
/// replaced when the lab moved.
pub(crate) async fn ensure_source(db: &Database, new: NewSource, thumbprint: &str) -> Result<(), Error> {
    match sources::get(db, new.kind, &new.name).await {
        Ok(s)
            if s.url == sources::normalize_url(new.kind, &new.url, false)?
                && s.thumbprint_sha256.as_deref() == Some(thumbprint) =>
        {
            // Sources a previous run added are the lab's too.
            return sources::mark_demo_lab(db, new.kind, &new.name).await;
        }
        Ok(_) => sources::remove(db, new.kind, &new.name, false).await.map(|_| ()).map_err(|e| {
            e.context(format!(
                "the demo lab moved, and its {} source {} could not be replaced",
                new.kind.as_str(),
                new.name
            ))
        })?,
        Err(e) if e.code == ErrorCode::NotFound => {}
        Err(e) => return Err(e),
    }
    let (kind, name) = (new.kind, new.name.clone());
    sources::add(db, &new).await?;
    sources::mark_demo_lab(db, kind, &name).await
}

pub(crate) async fn identity_choice(
    db: &Database,
    name: &str,
    credentials: Credentials,
) -> Result<IdentityChoice, Error> {
    match ids::get(db, name).await {
        Ok(_) => Ok(IdentityChoice::Existing(name.to_owned())),
        Err(e) if e.code == ErrorCode::NotFound => {
            Ok(IdentityChoice::New { name: Some(name.to_owned()), credentials, rotation_period_days: 90 })
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn register_sources(db: &Database, lab: &EstateLab) -> Result<(), Error> {
    let e = &lab.estate;
    for (v, vc) in e.vcenters.iter().enumerate() {
        let sim = &lab.vcenters[v];
        let thumbprint = sources::normalize_thumbprint(&sim.thumbprint.to_string())?;
        let creds = Credentials::new(sim.username(), Secret::new(sim.password()));
        let site = (vc.datacenter_sites.len() == 1).then(|| e.sites[vc.datacenter_sites[0]].code.clone());
        let new = NewSource {
            kind: SourceKind::Vcenter,
            name: vc.name.clone(),
            url: sim.sdk_url.clone(),
            identity: identity_choice(db, &format!("demo-{}", vc.name), creds).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site,
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    let dell_creds = lab.dell.credentials();
    if let Some(ome) = &lab.dell.ome {
        let thumbprint = sources::normalize_thumbprint(&ome.thumbprint.to_string())?;
        let new = NewSource {
            kind: SourceKind::Ome,
            name: OME_NAME.into(),
            url: ome.url.to_string(),
            identity: identity_choice(db, "demo-ome", dell_creds.clone()).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site: None,
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    for (i, bmc) in lab.dell.bmcs.iter().enumerate() {
        let Some(t) = bmc.thumbprint else { continue };
        let thumbprint = sources::normalize_thumbprint(&t.to_string())?;
        let new = NewSource {
            kind: SourceKind::Idrac,
            name: idrac_name(e, i),
            url: bmc.url.to_string(),
            identity: identity_choice(db, "demo-idrac-fleet", dell_creds.clone()).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site: Some(e.sites[e.hosts[i].site].code.clone()),
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    Ok(())
}

/// Sync the demo's iDRACs (all of them at once, as `eio sync` does a fleet).
pub(crate) async fn sync_demo_idracs(
    syncer: &Syncer,
    estate: &Estate,
) -> Result<Vec<eio_engine::sync::ledger::RunReport>, Error> {
    let names: std::collections::HashSet<String> = (0..estate.servers()).map(|i| idrac_name(estate, i)).collect();
    let all = sources::list(&syncer.db).await?;
    if all.iter().filter(|s| s.kind == SourceKind::Idrac).all(|s| names.contains(&s.name)) {
        return dell::sync_idracs(syncer, None).await;
    }
    // Other iDRACs are registered too: sync only the demo's.
    let mut reports = Vec::new();
    for source in eio_engine::sync::sources(&syncer.db, SourceKind::Idrac, None).await? {
        if names.contains(&source.name) {
            reports.push(dell::sync_idrac(syncer, &source).await?);
        }
    }
    dell::refresh_mappings(syncer).await?;
    Ok(reports)
}

/// Drop what the demo set up: its open jobs are cancelled (the ledgers keep their history)
/// and its sites and prefixes go (to be added again). Its sources stay: the lab comes back
/// fresh at the same addresses, and the next sync brings their inventory back in step.
pub(crate) async fn reset_demo_data(db: &Database, estate: &Estate) -> Result<(), Error> {
    for j in jobs::list(db, None, 500).await? {
        if j.status.is_open() && j.initiated_by.as_deref() == Some(OPERATOR_EMAIL) {
            let _ = jobs::cancel(db, j.id, "eio demo --reset").await;
        }
    }
    // Children before parents.
    for p in estate.prefixes.iter().rev() {
        match prefixes::remove(db, None, &p.cidr.parse()?).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    for s in &estate.sites {
        match sites::remove(db, &s.code).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    findings::run(db, None).await?;
    Ok(())
}
