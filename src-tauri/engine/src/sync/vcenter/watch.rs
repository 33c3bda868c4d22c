//! The live watcher: WaitForUpdatesEx batches applied as `delta` runs, one watcher per
//! vCenter across all instances (the `watch:vcenter:<id>` lease), site inference and
//! findings refreshed once changes have gathered. It never runs a full sync itself except
//! when vCenter says the version was lost.
use super::*;

/// The right to watch one vCenter: the `leases` row `watch:vcenter:<source id>`, owned by
/// this watcher alone (the worker's name and a random suffix, so two watchers of one
/// process or two CLIs under one name are still two owners).
struct WatchLease {
    name: String,
    owner: String,
    ttl: Duration,
    renewed: Option<Instant>,
}

impl WatchLease {
    fn new(syncer: &Syncer, source: &SourceRow) -> WatchLease {
        WatchLease {
            name: format!("watch:vcenter:{}", source.id),
            owner: format!("{}/{}", syncer.worker, Uuid::new_v4()),
            ttl: syncer.watch_lease.max(Duration::from_secs(1)),
            renewed: None,
        }
    }

    /// Take the lease if it is free, lapsed or already ours; whether it is ours now.
    async fn take(&mut self, db: &eio_core::Database) -> Result<bool> {
        self.hold(
            db,
            "INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
             ON CONFLICT (name) DO UPDATE
                 SET owner = EXCLUDED.owner, acquired_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
                 WHERE leases.expires_at < now() OR leases.owner = EXCLUDED.owner",
        )
        .await
    }

    /// Renew the lease once a third of it has passed; whether it is still ours.
    async fn keep(&mut self, db: &eio_core::Database) -> Result<bool> {
        if self.renewed.is_some_and(|at| at.elapsed() < self.ttl / 3) {
            return Ok(true);
        }
        self.hold(
            db,
            "UPDATE leases SET heartbeat_at = now(), expires_at = now() + $3::bigint * interval '1 millisecond'
             WHERE name = $1 AND owner = $2",
        )
        .await
    }

    /// Run `sql` (over the name, the owner and the lifetime in ms); whether it wrote the row.
    async fn hold(&mut self, db: &eio_core::Database, sql: &str) -> Result<bool> {
        let held = sqlx::query(sql)
            .bind(&self.name)
            .bind(&self.owner)
            .bind(self.ttl.as_millis() as i64)
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1;
        self.renewed = held.then(Instant::now);
        Ok(held)
    }

    /// Who holds the lease now (its owner), if anyone.
    async fn holder(&self, db: &eio_core::Database) -> Option<String> {
        sqlx::query_scalar("SELECT owner FROM leases WHERE name = $1")
            .bind(&self.name)
            .fetch_optional(db.pool())
            .await
            .ok()
            .flatten()
    }

    /// How long until the next renewal (or, standing by, the next look).
    fn next_look(&self) -> Duration {
        let every = self.ttl / 3;
        self.renewed.map_or(every, |at| every.saturating_sub(at.elapsed()))
    }

    /// Hand the lease back at once, so a standing-by watcher needn't wait for it to lapse.
    async fn release(&self, db: &eio_core::Database) {
        let released = sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
            .bind(&self.name)
            .bind(&self.owner)
            .execute(db.pool())
            .await;
        if let Err(e) = released {
            tracing::warn!(lease = %self.name, error = %e, "could not hand the watch lease back; it lapses by itself");
        }
    }
}

/// Watch one vCenter until `stop` fires: apply every change batch as it arrives; fall back
/// to a full resync when the change stream loses its place. Returns the reports of the
/// batches that changed something. Changes applied but not yet followed by site inference
/// and findings (they gather for `derived_after_changes`) get that refresh before it
/// returns, for at most [`REFRESH_ON_STOP`].
pub async fn watch(
    syncer: &Syncer,
    source: &SourceRow,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<RunReport>> {
    let mut reports = Vec::new();
    // When site inference and findings are due over changes applied since they last ran.
    let mut derived_due: Option<Instant> = None;
    let mut lease = WatchLease::new(syncer, source);
    let mut standing_by = false;
    'session: loop {
        if *stop.borrow() {
            break 'session;
        }
        if !lease.take(&syncer.db).await? {
            if !standing_by {
                // Said at warn, the CLI's default level: whoever started this watcher sees it isn't applying.
                let holder = lease.holder(&syncer.db).await.unwrap_or_else(|| "another instance".into());
                tracing::warn!(source = %source.name, "{holder} watches this vCenter; standing by until it stops");
                standing_by = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(lease.next_look()) => continue 'session,
                _ = stop.changed() => break 'session,
            }
        }
        if standing_by {
            tracing::warn!(source = %source.name, "took over watching this vCenter");
            standing_by = false;
        }
        let session = match connect(syncer, source).await? {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, "watcher cannot log in; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => continue 'session,
                    _ = stop.changed() => break 'session,
                }
            }
        };
        let mut watcher = match session.watch().await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, "cannot start the change stream");
                let _ = session.logout().await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => continue 'session,
                    _ = stop.changed() => break 'session,
                }
            }
        };
        loop {
            if !lease.keep(&syncer.db).await? {
                tracing::warn!(source = %source.name, "lost the watch lease to another instance; standing by");
                let _ = session.logout().await;
                continue 'session;
            }
            if derived_due.is_some_and(|due| Instant::now() >= due) {
                derived_due = None;
                refresh_after_changes(syncer, source).await;
            }
            // Wait for changes no longer than until that refresh or the lease's renewal is due.
            let until = derived_due.map_or(Duration::MAX, |due| due.saturating_duration_since(Instant::now()));
            let wait = until.min(lease.next_look()).as_secs().clamp(1, 30) as u32;
            let batch = tokio::select! {
                b = watcher.next(wait) => b,
                _ = stop.changed() => {
                    let _ = session.logout().await;
                    break 'session;
                }
            };
            match batch {
                Ok(None) => continue,
                Ok(Some(batch)) => {
                    if let Some(report) = apply_batch(syncer, source, batch).await? {
                        reports.push(report);
                        derived_due.get_or_insert_with(|| Instant::now() + syncer.derived_after_changes);
                    }
                }
                Err(e) if e.needs_full_resync() => {
                    tracing::info!(source = %source.name, error = %e, "change stream lost its place; full resync");
                    let _ = session.logout().await;
                    reports.push(full_sync(syncer, source).await?);
                    derived_due = None;
                    refresh_after_changes(syncer, source).await;
                    continue 'session;
                }
                Err(e) => {
                    tracing::warn!(source = %source.name, error = %e, "change stream failed; reconnecting");
                    let _ = session.logout().await;
                    continue 'session;
                }
            }
        }
    }
    if derived_due.is_some()
        && tokio::time::timeout(REFRESH_ON_STOP, refresh_after_changes(syncer, source)).await.is_err()
    {
        tracing::warn!(
            source = %source.name,
            "stopped before findings caught up with the last changes; the next sync brings them up to date"
        );
    }
    lease.release(&syncer.db).await;
    Ok(reports)
}

/// Keep one [`watch`] running per enabled vCenter source until `stop` fires: what a
/// worker pool with `watch_vcenters` runs beside its jobs. Sources added or enabled later
/// are picked up at the next look (every `rescan`); a disabled or deleted source's watcher
/// is stopped; an edited source's (a new URL or thumbprint) is stopped and started again
/// with the new row once it has ended; a watcher that ended on a database error is
/// started again at the next look. The lease keeps it to one watcher per vCenter however
/// many instances run this.
pub async fn watch_all(syncer: Syncer, mut stop: tokio::sync::watch::Receiver<bool>, rescan: Duration) {
    // Per source: the row its watcher started with, and the watcher's stop.
    let mut watchers: HashMap<Uuid, (SourceRow, tokio::sync::watch::Sender<bool>)> = HashMap::new();
    let mut tasks: tokio::task::JoinSet<(String, Result<Vec<RunReport>>)> = tokio::task::JoinSet::new();
    loop {
        while let Some(ended) = tasks.try_join_next() {
            log_watcher_end(ended);
        }
        // A watcher that ended dropped its receiver: it is started again below.
        watchers.retain(|_, (_, tx)| !tx.is_closed());
        match sources(&syncer.db, SourceKind::Vcenter, None).await {
            Ok(enabled) => {
                for (id, (row, tx)) in &watchers {
                    // Gone, disabled or edited: stop it (an edited one starts again once ended).
                    if !enabled.iter().any(|s| s == row) {
                        tracing::debug!(source = %row.name, %id, "stopping the watcher of a changed or disabled source");
                        let _ = tx.send(true);
                    }
                }
                for source in enabled {
                    if watchers.contains_key(&source.id) {
                        continue;
                    }
                    let (tx, rx) = tokio::sync::watch::channel(false);
                    watchers.insert(source.id, (source.clone(), tx));
                    let syncer = syncer.clone();
                    tasks.spawn(async move {
                        let result = watch(&syncer, &source, rx).await;
                        (source.name, result)
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list vCenter sources to watch; looking again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(rescan) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    for (_, tx) in watchers.values() {
        let _ = tx.send(true);
    }
    while let Some(ended) = tasks.join_next().await {
        log_watcher_end(ended);
    }
}

fn log_watcher_end(ended: std::result::Result<(String, Result<Vec<RunReport>>), tokio::task::JoinError>) {
    match ended {
        Ok((_, Ok(_))) => {}
        Ok((source, Err(e))) => tracing::warn!(%source, error = %e, "vCenter watcher stopped on an error"),
        Err(e) => tracing::error!(error = %e, "vCenter watcher failed"),
    }
}

/// How long a stopping watcher spends bringing findings up to date with the changes it
/// applied last (seconds for a 10k-VM estate; a shutdown is not held up longer).
pub const REFRESH_ON_STOP: Duration = Duration::from_secs(30);

/// Site inference and findings over what a watcher applied, then an `eio_inventory`
/// notification saying so (`{"source": id, "derived": true}`), so open pages reload the
/// findings they show.
async fn refresh_after_changes(syncer: &Syncer, source: &SourceRow) {
    crate::sync::refresh_derived(&syncer.db).await;
    let notified =
        sqlx::query("SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'derived', true)::text)")
            .bind(source.id.to_string())
            .execute(syncer.db.pool())
            .await;
    if let Err(e) = notified {
        tracing::warn!(source = %source.name, error = %e, "could not announce the refreshed findings");
    }
}

/// Apply one WaitForUpdatesEx batch as a `delta` run; announce the changed objects.
async fn apply_batch(syncer: &Syncer, source: &SourceRow, batch: vcenter::UpdateBatch) -> Result<Option<RunReport>> {
    let mut dcs = Vec::new();
    let mut clusters = Vec::new();
    let mut hosts = Vec::new();
    let mut vms = Vec::new();
    let mut datastores = Vec::new();
    let mut left: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for change in &batch.changes {
        match (&change.kind, &change.record) {
            (UpdateKind::Leave, _) => {
                let table = match change.object_type.as_str() {
                    "VirtualMachine" => "virtual_machines",
                    "HostSystem" => "esxi_hosts",
                    "ClusterComputeResource" | "ComputeResource" => "clusters",
                    "Datacenter" => "datacenters",
                    "Datastore" => "datastores",
                    _ => continue,
                };
                left.entry(table).or_default().push(change.moid.clone());
            }
            (_, Some(InventoryRecord::Datacenter(d))) => dcs.push(d.clone()),
            (_, Some(InventoryRecord::Cluster(c))) => clusters.push(c.clone()),
            (_, Some(InventoryRecord::Host(h))) => hosts.push(h.clone()),
            (_, Some(InventoryRecord::Vm(v))) => vms.push(v.clone()),
            (_, Some(InventoryRecord::Datastore(d))) => datastores.push(d.clone()),
            (_, None) => {}
        }
    }
    if dcs.is_empty()
        && clusters.is_empty()
        && hosts.is_empty()
        && vms.is_empty()
        && datastores.is_empty()
        && left.is_empty()
    {
        return Ok(None);
    }
    let mut run = Run::start(&syncer.db, SourceKind::Vcenter, source.id, &source.name, "delta", &syncer.worker).await?;
    let mut tx = snapshot::begin(&syncer.db).await?;
    let removed = |t: &str| Mode::Delta { removed: left.get(t).cloned().unwrap_or_default() };
    let result: std::result::Result<(), sqlx::Error> = async {
        let staged = stage_datacenters(&dedup(&dcs, |d| &d.moid));
        run.record("datacenters", snapshot::apply(&mut tx, &DATACENTERS, source.id, run.id, staged, removed("datacenters")).await?);
        let staged = stage_clusters(&dedup(&clusters, |c| &c.moid));
        run.record("clusters", snapshot::apply(&mut tx, &CLUSTERS, source.id, run.id, staged, removed("clusters")).await?);
        // Tags come from the REST API, not the change stream: keep the ones stored.
        let host_refs = dedup(&hosts, |h| &h.moid);
        run.record(
            "esxi_hosts",
            snapshot::apply_skipping(&mut tx, &HOSTS, source.id, run.id, stage_hosts(&host_refs), removed("esxi_hosts"), &["tags"])
                .await?,
        );
        let vm_refs = dedup(&vms, |v| &v.moid);
        run.record(
            "virtual_machines",
            snapshot::apply_skipping(&mut tx, &VMS, source.id, run.id, stage_vms(&vm_refs), removed("virtual_machines"), &["tags"])
                .await?,
        );
        let gone_datastores = left.get("datastores").cloned().unwrap_or_default();
        run.record(
            "datastores",
            store_datastores(&mut tx, source.id, &dedup(&datastores, |d| &d.moid), Some(&gone_datastores)).await?,
        );
        run.record("ip_observations", observe(&mut tx, source, &host_refs, &vm_refs, false).await?);
        let moids: Vec<String> = batch.changes.iter().map(|c| c.moid.clone()).collect();
        sqlx::query("SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'run', $2::text, 'moids', $3::text[])::text)")
            .bind(source.id.to_string())
            .bind(run.id.to_string())
            .bind(&moids[..moids.len().min(200)])
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(Some(run.finish(&syncer.db, Outcome::Succeeded, 1, None).await?))
        }
        Err(e) => {
            drop(tx);
            Ok(Some(run.finish(&syncer.db, Outcome::Failed, 1, Some(Error::from(e).message)).await?))
        }
    }
}
