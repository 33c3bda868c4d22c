-- The literal statements of the release at e46d878 (scripts/snapshot-release-queries).
-- migrations_expand PREPAREs each against the next release's schema. Generated: don't edit.

-- src-tauri/core/src/db/mod.rs:348
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1);

-- src-tauri/core/src/db/mod.rs:457
SELECT to_regclass('public._sqlx_migrations') IS NOT NULL;

-- src-tauri/core/src/db/mod.rs:459
SELECT version FROM _sqlx_migrations WHERE success ORDER BY version;

-- src-tauri/core/src/identity/mod.rs:67
SELECT session_user::text AS login,
               u.email, u.role::text AS role, coalesce(u.capabilities, '{}') AS capabilities,
               u.disabled_at IS NOT NULL AS disabled,
               pg_has_role(session_user, 'eio_viewer', 'MEMBER') AS viewer,
               pg_has_role(session_user, 'eio_operator', 'MEMBER') AS operator,
               pg_has_role(session_user, 'eio_approver', 'MEMBER') AS approver,
               pg_has_role(session_user, 'eio_admin', 'MEMBER') AS admin,
               pg_has_role(session_user, 'eio_worker', 'MEMBER') AS worker
        FROM (SELECT 1) one
        LEFT JOIN users u ON u.login_role = session_user;

-- src-tauri/core/src/identity/mod.rs:120
SELECT record_login($1);

-- src-tauri/core/src/identity/service_identities.rs:81
SELECT public_key FROM worker_keys WHERE revoked_at IS NULL ORDER BY created_at;

-- src-tauri/core/src/identity/service_identities.rs:96
SELECT public_key, label, created_at, revoked_at IS NOT NULL AS revoked FROM worker_keys ORDER BY created_at;

-- src-tauri/core/src/identity/service_identities.rs:105
SELECT trust_worker_key($1, $2);

-- src-tauri/core/src/identity/service_identities.rs:110
SELECT revoke_worker_key($1);

-- src-tauri/core/src/identity/service_identities.rs:144
INSERT INTO service_identities
             (name, system, username, encrypted_credentials, recipients, rotation_period_days, rotation_due, created_by)
         VALUES ($1, $2::external_system, $3, $4, $5, $6, now() + make_interval(days => $6), current_app_user_id())
         RETURNING id;

-- src-tauri/core/src/identity/service_identities.rs:174
UPDATE service_identities
         SET username = $2, encrypted_credentials = $3, recipients = $4, rotated_at = now(),
             rotation_due = now() + make_interval(days => rotation_period_days)
         WHERE name = $1;

-- src-tauri/core/src/identity/service_identities.rs:196
SELECT name FROM service_identities WHERE id = $1;

-- src-tauri/core/src/identity/service_identities.rs:209
SELECT id, encrypted_credentials, recipients FROM service_identities WHERE name = $1;

-- src-tauri/core/src/identity/service_identities.rs:227
UPDATE service_identities SET last_success = now() WHERE id = $1;

-- src-tauri/core/src/identity/service_identities.rs:229
UPDATE service_identities SET last_failure = now(), last_error = left($2, 500) WHERE id = $1;

-- src-tauri/core/src/identity/service_identities.rs:245
SELECT name, encrypted_credentials, recipients FROM service_identities ORDER BY name;

-- src-tauri/core/src/identity/service_identities.rs:253
UPDATE service_identities SET encrypted_credentials = $2, recipients = $3 WHERE name = $1;

-- src-tauri/core/src/identity/service_identities.rs:271
SELECT refresh_credential_findings();

-- src-tauri/core/src/identity/users.rs:121
SELECT set_user_password($1, $2);

-- src-tauri/core/src/inventory/mod.rs:52
SELECT p.id AS uuid, p.service_tag, p.system_uuid, p.model, e.generation::text AS generation,
               p.power_state::text AS power_state, p.health::text AS health, p.hostname, e.name AS idrac,
               p.idrac_firmware, host(p.idrac_ip) AS idrac_ip,
               coalesce(e.driver_override, e.driver_preference)::text AS driver, p.bios_version,
               (SELECT count(*) FROM firmware_inventory f WHERE f.server_id = p.id AND f.removed_at IS NULL)
                   AS firmware_components,
               h.name AS esxi_host, m.method::text AS mapping_method, m.confidence AS mapping_confidence,
               (SELECT count(*) FROM firmware_compliance c
                WHERE c.physical_server_id = p.id AND c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade'))
                   AS noncompliant_components,
               s.code AS site, p.last_sync
        FROM physical_servers p
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, o.site_id)
        LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
        WHERE p.removed_at IS NULL
        ORDER BY coalesce(p.hostname, e.name, p.service_tag);

-- src-tauri/core/src/inventory/mod.rs:97
SELECT DISTINCT p.id FROM physical_servers p
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
        WHERE p.removed_at IS NULL
          AND (upper(p.service_tag) = upper($1) OR lower(p.hostname) = lower($1) OR e.name = $1
               OR lower(h.name) = lower($1) OR lower(split_part(h.name, '.', 1)) = lower($1));

-- src-tauri/core/src/inventory/mod.rs:121
SELECT f.fqdd, f.component_id, f.name, f.version, f.category, f.updateable, f.reported_by,
               c.baseline_version, c.status::text AS compliance, c.criticality
        FROM firmware_inventory f
        LEFT JOIN LATERAL (
            SELECT c.* FROM firmware_compliance c
            WHERE c.physical_server_id = f.server_id AND c.fqdd = f.fqdd AND c.removed_at IS NULL
            ORDER BY c.last_sync DESC LIMIT 1
        ) c ON true
        WHERE f.server_id = $1 AND f.removed_at IS NULL
        ORDER BY f.category NULLS LAST, f.fqdd;

-- src-tauri/core/src/inventory/mod.rs:154
SELECT p.service_tag, e.name AS idrac, h.name AS esxi_host, m.method::text AS method, m.confidence,
               m.status::text AS status, m.verified_at IS NOT NULL AS verified, m.evidence
        FROM server_mappings m
        JOIN physical_servers p ON p.id = m.physical_server_id
        JOIN esxi_hosts h ON h.id = m.esxi_host_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        ORDER BY m.status, p.service_tag, h.name;

-- src-tauri/core/src/inventory/mod.rs:173
SELECT id FROM esxi_hosts WHERE removed_at IS NULL AND (lower(name) = lower($1) OR lower(split_part(name, '.', 1)) = lower($1));

-- src-tauri/core/src/inventory/mod.rs:180
SELECT set_manual_mapping($1, $2);

-- src-tauri/core/src/inventory/mod.rs:226
SELECT v.uuid, v.moid, v.name, v.folder_path, v.vcpu, v.memory_mb, v.power_state::text AS power_state,
               v.tools_status::text AS tools_status, v.guest_os, v.guest_hostname, v.nics, v.guest_ips, v.tags,
               v.custom_attributes, v.notes, v.has_snapshot,
               greatest(v.last_sync, vc.last_full_sync_at) AS last_sync, vc.name AS vcenter, d.name AS datacenter,
               c.name AS cluster, h.name AS host
        FROM virtual_machines v
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        LEFT JOIN datacenters d ON d.id = v.datacenter_id
        LEFT JOIN clusters c ON c.id = v.cluster_id
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        WHERE v.removed_at IS NULL
          AND ($1::text IS NULL
               OR v.name ILIKE '%' || $1 || '%' OR v.name % $1 OR v.guest_hostname ILIKE '%' || $1 || '%'
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.guest_ips) g WHERE g ->> 'ip' = $1))
        ORDER BY CASE WHEN $1::text IS NULL THEN 0 ELSE -similarity(v.name, $1) END, v.name
        LIMIT $2;

-- src-tauri/core/src/inventory/mod.rs:278
SELECT h.hardware_uuid, h.moid, h.name, h.vendor, h.model, h.serial_number, h.service_tag, h.esxi_version,
               h.connection_state::text AS connection_state, h.power_state::text AS power_state, h.in_maintenance_mode,
               ARRAY(SELECT host(a) FROM unnest(h.management_ips) a) AS management_ips,
               (SELECT count(*) FROM virtual_machines v WHERE v.host_id = h.id AND v.removed_at IS NULL) AS vms,
               vc.name AS vcenter, d.name AS datacenter, c.name AS cluster, p.service_tag AS server,
               greatest(h.last_sync, vc.last_full_sync_at) AS last_sync
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
        ORDER BY vc.name, c.name NULLS LAST, h.name;

-- src-tauri/core/src/inventory/mod.rs:302
SELECT refresh_server_mappings();

-- src-tauri/core/src/ipam/assignments.rs:32
SELECT p.cidr::text, ipam_is_reserved(p.cidr, $2::inet), p.status = 'deprecated' FROM prefixes p
         WHERE p.id = ipam_containing_prefix($1, $2::inet);

-- src-tauri/core/src/ipam/assignments.rs:57
INSERT INTO ip_assignments (routing_domain_id, address, hostname, mac_address, description, status)
         VALUES ($1, $2::inet, $3, $4::macaddr, $5, $6::assignment_status) RETURNING id;

-- src-tauri/core/src/ipam/assignments.rs:86
UPDATE ip_assignments SET
            hostname = CASE WHEN $2 THEN hostname ELSE $3 END,
            mac_address = CASE WHEN $4 THEN mac_address ELSE $5::macaddr END,
            description = CASE WHEN $6 THEN description ELSE $7 END,
            status = coalesce($8::assignment_status, status)
         WHERE id = $1;

-- src-tauri/core/src/ipam/assignments.rs:113
DELETE FROM ip_assignments WHERE id = $1;

-- src-tauri/core/src/ipam/assignments.rs:124
SELECT id FROM ip_assignments WHERE routing_domain_id = $1 AND address = $2::inet;

-- src-tauri/core/src/ipam/findings.rs:136
SELECT id, started_at, finished_at, duration_ms, run_by::text AS run_by, opened, reopened, resolved,
                open_total, open_by_type
         FROM run_ipam_findings(coalesce(make_interval(secs => $1::float8), interval '1 day'));

-- src-tauri/core/src/ipam/findings.rs:195
SELECT current_app_user_id(), session_user::text;

-- src-tauri/core/src/ipam/findings.rs:201
UPDATE ipam_findings
         SET acknowledged_at = now(), acknowledged_by = current_app_user_id(), acknowledge_note = $2
         WHERE id = $1;

-- src-tauri/core/src/ipam/findings.rs:227
SELECT u.email FROM ipam_findings f LEFT JOIN users u ON u.id = f.acknowledged_by WHERE f.id = $1;

-- src-tauri/core/src/ipam/mod.rs:38
SELECT id FROM routing_domains WHERE name = $1;

-- src-tauri/core/src/ipam/ops.rs:104
SELECT id, count(*) OVER () AS total FROM prefixes
         WHERE ($1::uuid IS NULL OR routing_domain_id = $1) AND ($2::cidr IS NULL OR cidr <<= $2::cidr)
         ORDER BY routing_domain_id, cidr LIMIT $3;

-- src-tauri/core/src/ipam/ops.rs:129
SELECT type::text, count(*) FROM ipam_findings WHERE resolved_at IS NULL GROUP BY 1;

-- src-tauri/core/src/ipam/ops.rs:136
SELECT code FROM sites ORDER BY code;

-- src-tauri/core/src/ipam/ops.rs:137
SELECT finished_at, duration_ms, run_by::text AS run_by, opened, resolved FROM finding_runs
         ORDER BY finished_at DESC LIMIT 1;

-- src-tauri/core/src/ipam/prefixes.rs:163
SELECT d.id, d.name, d.description, d.created_at,
                (SELECT count(*) FROM prefixes p WHERE p.routing_domain_id = d.id) AS prefixes
         FROM routing_domains d ORDER BY d.name = 'default' DESC, d.name;

-- src-tauri/core/src/ipam/prefixes.rs:175
INSERT INTO routing_domains (name, description) VALUES ($1, $2);

-- src-tauri/core/src/ipam/prefixes.rs:224
SELECT id FROM prefixes
         WHERE ($1::uuid IS NULL OR routing_domain_id = $1) AND ($2::cidr IS NULL OR cidr <<= $2::cidr);

-- src-tauri/core/src/ipam/prefixes.rs:238
SELECT id FROM prefixes WHERE routing_domain_id = $1 AND cidr = $2::cidr;

-- src-tauri/core/src/ipam/prefixes.rs:262
SELECT id FROM sites WHERE code = upper($1);

-- src-tauri/core/src/ipam/prefixes.rs:311
SELECT ipam_lock_prefix(p.id) FROM prefixes p
         WHERE p.routing_domain_id = $1 AND p.cidr >> $2::cidr ORDER BY masklen(p.cidr) DESC LIMIT 1;

-- src-tauri/core/src/ipam/prefixes.rs:319
INSERT INTO prefixes (routing_domain_id, cidr, site_id, vlan_id, status, description,
                               utilization_threshold, created_by)
         VALUES ($1, $2::cidr, $3, $4, $5, $6, coalesce($7, 0.9), current_app_user_id()) RETURNING id;

-- src-tauri/core/src/ipam/prefixes.rs:350
UPDATE prefixes SET
             status = coalesce($2, status),
             site_id = CASE WHEN $3 THEN $4 ELSE site_id END,
             vlan_id = CASE WHEN $5 THEN $6 ELSE vlan_id END,
             description = CASE WHEN $7 THEN $8 ELSE description END,
             utilization_threshold = coalesce($9, utilization_threshold)
         WHERE id = $1;

-- src-tauri/core/src/ipam/prefixes.rs:378
DELETE FROM prefixes WHERE id = $1;

-- src-tauri/core/src/ipam/prefixes.rs:384
SELECT k.id, count(*) OVER () AS total FROM (
            SELECT c.id, c.cidr,
                   coalesce(c.cidr::inet > max(ipam_last_address(c.cidr)) OVER
                                (ORDER BY c.cidr ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS top
            FROM prefixes p
            JOIN prefixes c ON c.routing_domain_id = p.routing_domain_id
                           AND c.cidr > p.cidr AND c.cidr <= ipam_last_address(p.cidr)::cidr
            WHERE p.id = $1
        ) k
        WHERE k.top
        ORDER BY k.cidr
        LIMIT $2;

-- src-tauri/core/src/ipam/prefixes.rs:412
SELECT a.id, a.cidr::text AS cidr, a.status, s.code AS site, a.vlan_id
         FROM prefixes p
         JOIN prefixes a ON a.routing_domain_id = p.routing_domain_id AND a.cidr >> p.cidr
         LEFT JOIN sites s ON s.id = a.site_id
         WHERE p.id = $1 ORDER BY masklen(a.cidr);

-- src-tauri/core/src/ipam/space.rs:304
SELECT s.first, s.last FROM prefixes p
             CROSS JOIN LATERAL ipam_free_spans_large(p.routing_domain_id, p.cidr) s WHERE p.id = $1
             ORDER BY s.first;

-- src-tauri/core/src/ipam/space.rs:336
SELECT ipam_observed_in_gaps($1, $2::inet, $3, $4);

-- src-tauri/core/src/ipam/space.rs:509
SELECT count(*) FROM ip_assignments a JOIN prefixes q ON q.id = $1
         WHERE a.routing_domain_id = q.routing_domain_id AND a.address <<= q.cidr;

-- src-tauri/core/src/ipam/space.rs:521
WITH q AS (SELECT routing_domain_id AS rd, cidr FROM prefixes WHERE id = $1),
        addrs AS (
            SELECT DISTINCT o.address FROM ip_observations o, q
            WHERE o.routing_domain_id = q.rd AND o.gone_at IS NULL
              AND o.address >= q.cidr::inet AND o.address <= ipam_last_address(q.cidr)
            ORDER BY o.address LIMIT $2
        )
        SELECT host(o.address) AS address, o.source, o.mac_address::text AS mac_address, o.entity_type,
               o.entity_id, entity_label(o.entity_type, o.entity_id) AS entity_name, o.hostname, o.confidence,
               o.last_seen
        FROM addrs a, q, ip_observations o
        WHERE o.routing_domain_id = q.rd AND o.address = a.address AND o.gone_at IS NULL
        ORDER BY o.address, o.source, o.entity_id;

-- src-tauri/core/src/ipam/space.rs:542
SELECT count(DISTINCT o.address) FROM prefixes q
         JOIN ip_observations o ON o.routing_domain_id = q.routing_domain_id AND o.gone_at IS NULL
                               AND o.address >= q.cidr::inet AND o.address <= ipam_last_address(q.cidr)
         WHERE q.id = $1;

-- src-tauri/core/src/ipam/space.rs:578
SELECT id FROM allocate_ip($1, $2, $3, $4::macaddr, coalesce($5, 'planned'::assignment_status));

-- src-tauri/core/src/ipam/space.rs:609
SELECT id FROM allocate_prefix($1, $2, coalesce($3, 'active'::prefix_status), $4, $5);

-- src-tauri/core/src/ipam/space.rs:645
WITH d AS (SELECT id FROM routing_domains WHERE name = $2)
        SELECT jsonb_build_object(
            'prefixes', (
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'cidr', p.cidr::text, 'status', p.status,
                                                             'site', s.code, 'vlan_id', p.vlan_id)
                                          ORDER BY masklen(p.cidr) DESC), '[]')
                FROM prefixes p LEFT JOIN sites s ON s.id = p.site_id
                WHERE p.routing_domain_id = (SELECT id FROM d) AND p.cidr = ANY ($3::cidr[])),
            'assignments', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'id', a.id, 'routing_domain', $2::text, 'address', abbrev(a.address),
                           'prefix', p.cidr::text, 'status', a.status, 'hostname', a.hostname,
                           'mac_address', a.mac_address::text, 'description', a.description,
                           'created_by', u.email, 'created_at', a.created_at)
                       ORDER BY masklen(a.address) DESC), '[]')
                FROM ip_assignments a
                LEFT JOIN prefixes p ON p.id = a.prefix_id
                LEFT JOIN users u ON u.id = a.created_by
                WHERE a.routing_domain_id = (SELECT id FROM d) AND a.address = ANY ($3::inet[])),
            'observations', (
                SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'source', o.source, 'mac_address', o.mac_address::text, 'entity_type', o.entity_type,
                           'entity_id', o.entity_id, 'hostname', o.hostname, 'confidence', o.confidence,
                           'last_seen', o.last_seen, 'gone_at', o.gone_at)
                       ORDER BY o.gone_at IS NOT NULL, o.source, o.entity_id), '[]')
                FROM ip_observations o
                WHERE o.routing_domain_id = (SELECT id FROM d) AND o.address = ANY (ARRAY(SELECT $1::inet))))
        FROM d;

-- src-tauri/core/src/jobs/baselines.rs:208
SELECT DISTINCT ON (f.fqdd) f.fqdd, f.name, f.version AS installed, c.version AS wanted,
                            c.package, c.reboot_required
                     FROM eio_baseline_components c
                     JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component))
                     JOIN physical_servers p ON p.id = f.server_id
                     WHERE c.baseline_id = $1 AND upper(p.service_tag) = upper($2)
                       AND f.removed_at IS NULL AND f.updateable
                     ORDER BY f.fqdd, length(c.component) DESC;

-- src-tauri/core/src/jobs/baselines.rs:242
SELECT c.fqdd, c.component, c.current_version,
                            c.baseline_version, c.status::text AS status, c.package, c.reboot_required
                     FROM firmware_compliance c
                     WHERE c.baseline_id = $1 AND upper(c.service_tag) = upper($2) AND c.removed_at IS NULL
                       AND c.status IN ('upgrade', 'downgrade')
                     ORDER BY c.fqdd NULLS LAST, c.component;

-- src-tauri/core/src/jobs/baselines.rs:310
SELECT b.id, b.name, 'eio' AS source, b.repository FROM eio_baselines b
         WHERE lower(b.name) = lower($1)
            OR ($1 = '' AND EXISTS (SELECT 1 FROM eio_baseline_components c
                                     JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component))
                                     JOIN physical_servers p ON p.id = f.server_id
                                    WHERE c.baseline_id = b.id AND f.removed_at IS NULL
                                      AND upper(p.service_tag) = ANY ($2)))
         UNION ALL
         SELECT b.id, b.name, 'ome', NULL FROM firmware_baselines b
         WHERE b.removed_at IS NULL AND (lower(b.name) = lower($1)
               OR ($1 = '' AND EXISTS (SELECT 1 FROM firmware_compliance c WHERE c.baseline_id = b.id
                                        AND c.removed_at IS NULL AND upper(c.service_tag) = ANY ($2))))
         ORDER BY 2, 3;

-- src-tauri/core/src/jobs/baselines.rs:357
SELECT baseline_id, component, version, package, reboot_required FROM eio_baseline_components
         ORDER BY baseline_id, component;

-- src-tauri/core/src/jobs/baselines.rs:363
SELECT b.id, b.name, 'eio' AS source, b.description, b.repository,
                (SELECT count(DISTINCT p.id) FROM eio_baseline_components c
                   JOIN firmware_inventory f ON starts_with(lower(f.fqdd), lower(c.component)) AND f.removed_at IS NULL AND f.updateable
                   JOIN physical_servers p ON p.id = f.server_id
                  WHERE c.baseline_id = b.id AND f.version <> c.version) AS behind
         FROM eio_baselines b
         UNION ALL
         SELECT b.id, b.name, 'ome', b.description, NULL,
                (SELECT count(DISTINCT upper(c.service_tag)) FROM firmware_compliance c
                  WHERE c.baseline_id = b.id AND c.removed_at IS NULL AND c.status = 'upgrade')
         FROM firmware_baselines b WHERE b.removed_at IS NULL
         ORDER BY 3 DESC, 2;

-- src-tauri/core/src/jobs/baselines.rs:445
INSERT INTO eio_baselines (name, description, repository) VALUES ($1, $2, $3)
         ON CONFLICT ((lower(name))) DO UPDATE
            SET name = EXCLUDED.name, description = EXCLUDED.description, repository = EXCLUDED.repository,
                changed_at = now()
         RETURNING id;

-- src-tauri/core/src/jobs/baselines.rs:457
DELETE FROM eio_baseline_components WHERE baseline_id = $1;

-- src-tauri/core/src/jobs/baselines.rs:459
INSERT INTO eio_baseline_components (baseline_id, component, version, package, reboot_required)
             VALUES ($1, $2, $3, $4, $5);

-- src-tauri/core/src/jobs/baselines.rs:481
DELETE FROM eio_baselines WHERE lower(name) = lower($1);

-- src-tauri/core/src/jobs/mod.rs:240
SELECT resolve_job_policy($1, $2, $3);

-- src-tauri/core/src/jobs/mod.rs:303
SELECT id FROM submit_scheduled_job($1::job_type, $2, $3, $4, $5, p_policy_name => $6, p_policy => $7,
                                                 p_idempotency_key => $8, p_site_id => $9, p_cluster_id => $10,
                                                 p_plan => $11);

-- src-tauri/core/src/jobs/mod.rs:323
SELECT id FROM submit_job($1::job_type, $2, p_target => $3, p_policy_name => $4, p_policy => $5,
                                   p_idempotency_key => $6, p_run_at => $7, p_site_id => $8, p_cluster_id => $9,
                                   p_plan => $10);

-- src-tauri/core/src/jobs/mod.rs:350
SELECT md5($1::jsonb::text);

-- src-tauri/core/src/jobs/mod.rs:480
SELECT target, policy, plan, plan_hash, pause_reason, decision FROM jobs WHERE id = $1;

-- src-tauri/core/src/jobs/mod.rs:484
SELECT seq, name, kind, status, external_task_id, attempts, error, started_at, finished_at
         FROM job_steps WHERE job_id = $1 ORDER BY seq;

-- src-tauri/core/src/jobs/mod.rs:491
SELECT e.id, e.at, e.level, e.message, e.data, coalesce(u.email, e.actor_login::text) AS actor
         FROM job_events e LEFT JOIN users u ON u.id = e.actor_user WHERE e.job_id = $1 ORDER BY e.id;

-- src-tauri/core/src/jobs/mod.rs:524
SELECT approve_job($1, $2, $3, $4);

-- src-tauri/core/src/jobs/mod.rs:535
SELECT deny_job($1, $2);

-- src-tauri/core/src/jobs/mod.rs:540
SELECT cancel_job($1, $2);

-- src-tauri/core/src/jobs/mod.rs:575
SELECT pause_reason FROM jobs WHERE id = $1;

-- src-tauri/core/src/jobs/mod.rs:586
SELECT decide_job($1, $2, $3, $4);

-- src-tauri/core/src/jobs/mod.rs:606
SELECT engaged, reason, changed_by_login::text AS changed_by, changed_at FROM kill_switch;

-- src-tauri/core/src/jobs/mod.rs:613
SELECT set_kill_switch($1, $2);

-- src-tauri/core/src/jobs/plan.rs:200
SELECT h.id, h.moid, h.name, c.name AS cluster, h.in_maintenance_mode,
               p.service_tag AS server, vc.name AS vcenter
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
          AND (h.moid = ANY($1) OR h.name = ANY($1) OR split_part(h.name, '.', 1) = ANY($1)
               OR ($2::text IS NOT NULL AND (c.name = $2 OR vc.name || '/' || c.name = $2)))
        ORDER BY h.name;

-- src-tauri/core/src/jobs/plan.rs:252
SELECT moid, name, power_state::text AS power_state FROM virtual_machines
             WHERE host_id = $1 AND removed_at IS NULL AND NOT is_template ORDER BY name;

-- src-tauri/core/src/jobs/plan.rs:284
SELECT DISTINCT h.cluster_id, coalesce(vc.site_id, NULL) AS site_id, c.name, c.drs_enabled, c.drs_behavior
         FROM esxi_hosts h LEFT JOIN clusters c ON c.id = h.cluster_id JOIN vcenter_instances vc ON vc.id = h.vcenter_id
         WHERE h.moid = ANY($1) AND h.removed_at IS NULL;

-- src-tauri/core/src/jobs/plan.rs:370
SELECT e.name FROM physical_servers p JOIN idrac_endpoints e ON e.id = p.idrac_id
             WHERE upper(p.service_tag) = upper($1) LIMIT 1;

-- src-tauri/core/src/jobs/plan.rs:412
SELECT f.fqdd, f.name, f.version FROM firmware_inventory f
             JOIN physical_servers p ON p.id = f.server_id
             WHERE upper(p.service_tag) = upper($1) AND f.removed_at IS NULL AND f.updateable
               AND (f.fqdd ILIKE $2 || '%' OR f.name ILIKE '%' || $2 || '%')
             ORDER BY f.fqdd;

-- src-tauri/core/src/jobs/plan.rs:490
SELECT v.moid, v.name, v.power_state::text AS power_state, h.name AS host, v.cluster_id, vc.site_id,
                        vc.name AS vcenter
                 FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
                 LEFT JOIN esxi_hosts h ON h.id = v.host_id
                 WHERE v.removed_at IS NULL AND (v.moid = ANY($1) OR v.name = ANY($1)) ORDER BY v.name;

-- src-tauri/core/src/jobs/plan.rs:554
SELECT p.service_tag, e.name AS idrac, h.name AS host, h.in_maintenance_mode
                     FROM physical_servers p LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
                     LEFT JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
                     LEFT JOIN esxi_hosts h ON h.id = m.esxi_host_id
                     WHERE p.removed_at IS NULL AND (upper(p.service_tag) = upper($1) OR e.name = $1);

-- src-tauri/core/src/jobs/plan.rs:602
SELECT v.name FROM virtual_machines v
         WHERE v.moid = ANY($1) AND v.removed_at IS NULL
           AND NOT ((cardinality($2::text[]) = 0 OR v.tags && $2::text[])
                    AND (cardinality($3::text[]) = 0
                         OR EXISTS (SELECT 1 FROM unnest($3::text[]) f
                                    WHERE v.folder_path = f OR v.folder_path LIKE f || '/%')))
         ORDER BY v.name;

-- src-tauri/core/src/jobs/policies.rs:22
SELECT name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit,
                shutdown_timeout_seconds, tag_filters, folder_filters
         FROM job_policies ORDER BY name = 'default' DESC, name;

-- src-tauri/core/src/jobs/policies.rs:134
SELECT name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff, vm_limit,
                shutdown_timeout_seconds, tag_filters, folder_filters
         FROM job_policies WHERE name = $1 FOR UPDATE;

-- src-tauri/core/src/jobs/policies.rs:185
INSERT INTO job_policies (name, description, require_approval, allow_vm_shutdown, allow_hard_poweroff,
                                   vm_limit, shutdown_timeout_seconds, tag_filters, folder_filters)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT ON CONSTRAINT job_policies_name_key DO UPDATE
         SET description = EXCLUDED.description, require_approval = EXCLUDED.require_approval,
             allow_vm_shutdown = EXCLUDED.allow_vm_shutdown, allow_hard_poweroff = EXCLUDED.allow_hard_poweroff,
             vm_limit = EXCLUDED.vm_limit, shutdown_timeout_seconds = EXCLUDED.shutdown_timeout_seconds,
             tag_filters = EXCLUDED.tag_filters, folder_filters = EXCLUDED.folder_filters, updated_at = now();

-- src-tauri/core/src/jobs/policies.rs:217
DELETE FROM job_policies WHERE name = $1;

-- src-tauri/core/src/jobs/policies.rs:271
SELECT l.scope_type, coalesce(s.code, c.name), l.max_running, vc.name
         FROM concurrency_limits l
         LEFT JOIN sites s ON l.scope_type = 'site' AND s.id = l.scope_id
         LEFT JOIN clusters c ON l.scope_type = 'cluster' AND c.id = l.scope_id
         LEFT JOIN vcenter_instances vc ON vc.id = c.vcenter_id
         ORDER BY l.scope_type, l.scope_id IS NOT NULL, 2, 4;

-- src-tauri/core/src/jobs/policies.rs:311
SELECT id FROM sites WHERE code = upper($1);

-- src-tauri/core/src/jobs/policies.rs:318
SELECT c.id FROM clusters c JOIN vcenter_instances vc ON vc.id = c.vcenter_id
                 WHERE c.name = $1 AND c.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2);

-- src-tauri/core/src/jobs/policies.rs:346
INSERT INTO concurrency_limits (scope_type, scope_id, max_running) VALUES ($1, $2, $3)
                 ON CONFLICT (scope_type, coalesce(scope_id, '00000000-0000-0000-0000-000000000000'::uuid))
                 DO UPDATE SET max_running = EXCLUDED.max_running;

-- src-tauri/core/src/jobs/policies.rs:361
DELETE FROM concurrency_limits WHERE scope_type = $1 AND scope_id = $2;

-- src-tauri/core/src/jobs/predict.rs:98
SELECT id, name, drs, drs_enabled, drs_behavior FROM clusters WHERE id = ANY($1);

-- src-tauri/core/src/jobs/predict.rs:104
SELECT v.moid, v.name, v.host_id AS host_id, v.memory_mb, v.mobility
           FROM virtual_machines v JOIN esxi_hosts h ON h.id = v.host_id
           WHERE v.removed_at IS NULL AND NOT v.is_template AND v.power_state = 'powered_on'
             AND h.removed_at IS NULL AND (h.cluster_id = ANY($1) OR h.id = ANY($2))
           ORDER BY v.name, v.moid;

-- src-tauri/core/src/jobs/predict.rs:115
SELECT vcenter_id, moid, name, host_moids, multiple_host_access FROM datastores WHERE vcenter_id = ANY($1);

-- src-tauri/core/src/pages/dashboard.rs:203
WITH vm AS (
            SELECT coalesce(pl.site_id, vc.site_id) AS site_id, count(*) AS vms,
                   count(*) FILTER (WHERE v.power_state = 'powered_on') AS vms_on
            FROM virtual_machines v JOIN vcenter_instances vc ON vc.id = v.vcenter_id
            LEFT JOIN entity_sites pl ON pl.entity_type = 'virtual_machine' AND pl.entity_id = v.id
            WHERE v.removed_at IS NULL AND NOT v.is_template
            GROUP BY 1
        ), host AS (
            SELECT coalesce(pl.site_id, vc.site_id) AS site_id, count(*) AS hosts, count(DISTINCT h.cluster_id) AS clusters
            FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
            LEFT JOIN entity_sites pl ON pl.entity_type = 'esxi_host' AND pl.entity_id = h.id
            WHERE h.removed_at IS NULL
            GROUP BY 1
        ), srv AS (
            SELECT coalesce(pl.site_id, e.site_id, o.site_id) AS site_id, count(*) AS servers
            FROM physical_servers p
            LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
            LEFT JOIN ome_instances o ON o.id = p.ome_instance_id
            LEFT JOIN entity_sites pl ON pl.entity_type = 'physical_server' AND pl.entity_id = p.id
            WHERE p.removed_at IS NULL
            GROUP BY 1
        ), keys AS (
            SELECT id AS site_id FROM sites
            UNION SELECT site_id FROM vm UNION SELECT site_id FROM host UNION SELECT site_id FROM srv
        )
        SELECT s.code AS site, s.name, coalesce(vm.vms, 0) AS vms, coalesce(vm.vms_on, 0) AS vms_powered_on,
               coalesce(host.hosts, 0) AS hosts, coalesce(host.clusters, 0) AS clusters,
               coalesce(srv.servers, 0) AS servers
        FROM keys k
        LEFT JOIN sites s ON s.id = k.site_id
        LEFT JOIN vm ON vm.site_id IS NOT DISTINCT FROM k.site_id
        LEFT JOIN host ON host.site_id IS NOT DISTINCT FROM k.site_id
        LEFT JOIN srv ON srv.site_id IS NOT DISTINCT FROM k.site_id
        ORDER BY s.code NULLS LAST;

-- src-tauri/core/src/pages/dashboard.rs:244
SELECT (SELECT count(*) FROM virtual_machines WHERE removed_at IS NULL AND NOT is_template) AS vms,
               (SELECT count(*) FROM virtual_machines
                WHERE removed_at IS NULL AND NOT is_template AND power_state = 'powered_on') AS vms_powered_on,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL) AS hosts,
               (SELECT count(*) FROM esxi_hosts WHERE removed_at IS NULL AND in_maintenance_mode) AS hosts_in_maintenance,
               (SELECT count(*) FROM clusters WHERE removed_at IS NULL) AS clusters,
               (SELECT count(*) FROM physical_servers WHERE removed_at IS NULL) AS servers,
               (SELECT count(DISTINCT c.physical_server_id) FROM firmware_compliance c
                JOIN physical_servers p ON p.id = c.physical_server_id AND p.removed_at IS NULL
                WHERE c.removed_at IS NULL AND c.status IN ('upgrade', 'downgrade')) AS servers_noncompliant;

-- src-tauri/core/src/pages/dashboard.rs:277
SELECT severity::text AS value, count(*) AS n FROM ipam_findings WHERE resolved_at IS NULL GROUP BY 1;

-- src-tauri/core/src/pages/dashboard.rs:285
SELECT status::text AS value, count(*) AS n FROM jobs GROUP BY 1;

-- src-tauri/core/src/pages/dashboard.rs:294
SELECT id, hostname, mode, heartbeat_at, heartbeat_at > now() - interval '90 seconds' AS alive
         FROM worker_instances WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC LIMIT 50;

-- src-tauri/core/src/pages/inventory/detail.rs:140
SELECT v.id, v.moid, v.name, v.uuid, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster,
               h.name AS host, s.code AS site, v.folder_path, v.vcpu, v.memory_mb,
               v.power_state::text AS power_state, v.tools_status::text AS tools_status, v.guest_os, v.guest_hostname,
               v.nics, v.guest_ips, v.tags, v.custom_attributes, v.notes, v.has_snapshot, v.snapshot_count,
               v.first_seen, v.host_id,
               -- a live VM was confirmed by its vCenter's last full sync even if unchanged
               CASE WHEN v.removed_at IS NULL THEN greatest(v.last_sync, vc.last_full_sync_at) ELSE v.last_sync END AS last_sync
        FROM virtual_machines v
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = v.datacenter_id
        LEFT JOIN clusters c ON c.id = v.cluster_id
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        WHERE v.id = $1;

-- src-tauri/core/src/pages/inventory/detail.rs:272
SELECT h.id, h.moid, h.name, vc.name AS vcenter, d.name AS datacenter, c.name AS cluster, s.code AS site,
               h.vendor, h.model, h.serial_number, h.service_tag, h.hardware_uuid, h.esxi_version, h.esxi_build,
               h.connection_state::text AS connection_state, h.power_state::text AS power_state,
               h.in_maintenance_mode, ARRAY(SELECT host(a) FROM unnest(h.management_ips) a) AS management_ips,
               h.cpu_model, h.cpu_cores, h.memory_mb, h.tags, h.custom_attributes,
               CASE WHEN h.removed_at IS NULL THEN greatest(h.last_sync, vc.last_full_sync_at) ELSE h.last_sync END AS last_sync
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        WHERE h.id = $1;

-- src-tauri/core/src/pages/inventory/detail.rs:293
SELECT id, name, power_state::text AS power_state FROM virtual_machines
         WHERE host_id = $1 AND removed_at IS NULL ORDER BY name LIMIT 500;

-- src-tauri/core/src/pages/inventory/hosts.rs:50
SELECT h.id, h.moid, h.name, h.connection_state::text AS connection_state,
               h.power_state::text AS power_state, h.in_maintenance_mode, h.esxi_version, h.model,
               h.service_tag, coalesce(n.vms, 0) AS vms, p.service_tag AS server, m.confidence AS mapping_confidence,
               c.name AS cluster, s.code AS site, vc.name AS vcenter,
               count(*) OVER () AS total
        FROM esxi_hosts h
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN (SELECT host_id, count(*) AS vms FROM virtual_machines
                   WHERE removed_at IS NULL GROUP BY host_id) n ON n.host_id = h.id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
          AND ($1::text IS NULL OR h.name ILIKE $2 OR h.name % $1 OR upper(h.service_tag) = upper($1)
               OR $1 = ANY (h.tags) OR EXISTS (SELECT 1 FROM unnest(h.management_ips) a WHERE host(a) = $1))
          AND ($3::text IS NULL OR s.code = $3)
          AND ($4::text IS NULL OR c.name = $4)
          AND ($5::text IS NULL OR h.power_state::text = $5)
          AND ($6::text IS NULL OR $6 = ANY (h.tags))
        ORDER BY CASE WHEN $1::text IS NULL THEN 0 ELSE similarity(h.name, $1) END DESC, h.name, h.id
        LIMIT $7 OFFSET $8;

-- src-tauri/core/src/pages/jobs.rs:90
SELECT status, count(*) FROM jobs GROUP BY 1;

-- src-tauri/core/src/pages/jobs.rs:100
SELECT id, plan, policy, plan_hash FROM jobs WHERE id = ANY($1);

-- src-tauri/core/src/pages/jobs.rs:116
SELECT h.name, c.name AS cluster, h.in_maintenance_mode, p.service_tag AS server
        FROM esxi_hosts h
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
        LEFT JOIN physical_servers p ON p.id = m.physical_server_id
        WHERE h.removed_at IS NULL
        ORDER BY c.name NULLS LAST, h.name
        LIMIT 5000;

-- src-tauri/core/src/pages/jobs.rs:131
SELECT DISTINCT name FROM clusters WHERE removed_at IS NULL ORDER BY name;

-- src-tauri/core/src/pages/jobs.rs:135
SELECT name FROM (SELECT name FROM vcenter_instances UNION SELECT name FROM idrac_endpoints
                           UNION SELECT name FROM ome_instances) s ORDER BY name;

-- src-tauri/core/src/pages/jobs.rs:142
SELECT name FROM report_definitions ORDER BY name;

-- src-tauri/core/src/pages/servers.rs:49
WITH verdict AS (
            SELECT p.id,
                   bool_or(c.status IN ('upgrade', 'downgrade')) AS behind,
                   count(c.id) AS rows
            FROM physical_servers p
            LEFT JOIN firmware_compliance c ON c.physical_server_id = p.id AND c.removed_at IS NULL
            WHERE p.removed_at IS NULL
            GROUP BY p.id
        )
        SELECT count(*) FILTER (WHERE rows > 0 AND NOT coalesce(behind, false)) AS compliant,
               count(*) FILTER (WHERE coalesce(behind, false)) AS noncompliant,
               count(*) FILTER (WHERE rows = 0) AS no_baseline,
               (SELECT count(*) FROM physical_servers p WHERE p.removed_at IS NULL AND NOT EXISTS
                   (SELECT 1 FROM server_mappings m WHERE m.physical_server_id = p.id AND m.status = 'active')) AS unmapped
        FROM verdict;

-- src-tauri/core/src/pages/servers.rs:114
SELECT name FROM esxi_hosts WHERE removed_at IS NULL ORDER BY name LIMIT 5000;

-- src-tauri/core/src/pages/settings.rs:50
SELECT s.code, s.name, c.name AS country, r.name AS region, s.timezone, s.status::text AS status
        FROM sites s JOIN countries c ON c.id = s.country_id JOIN regions r ON r.id = c.region_id
        ORDER BY s.code;

-- src-tauri/core/src/pages/settings.rs:59
SELECT id, hostname, mode, heartbeat_at, heartbeat_at > now() - interval '90 seconds' AS alive
         FROM worker_instances WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC LIMIT 50;

-- src-tauri/core/src/pages/settings.rs:65
SELECT public_key, label, revoked_at IS NOT NULL AS revoked FROM worker_keys ORDER BY created_at;

-- src-tauri/core/src/pages/shell.rs:40
SELECT current_app_user_id() AS user_id,
               count(*) FILTER (WHERE j.status = 'awaiting_approval') AS pending,
               count(*) FILTER (WHERE j.status = 'awaiting_approval'
                                  AND j.initiated_by_user IS DISTINCT FROM current_app_user_id()) AS for_me,
               count(*) FILTER (WHERE j.status = 'paused' AND j.initiated_by_user = current_app_user_id()) AS paused
        FROM jobs j
        WHERE j.status IN ('awaiting_approval', 'paused');

-- src-tauri/core/src/reports/definitions.rs:166
INSERT INTO report_definitions (name, type, schedule, formats, filters, output_dir, enabled, next_run_at, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_definitions_name_key DO UPDATE
            SET type = EXCLUDED.type, schedule = EXCLUDED.schedule, formats = EXCLUDED.formats,
                filters = EXCLUDED.filters, output_dir = EXCLUDED.output_dir, enabled = EXCLUDED.enabled,
                next_run_at = EXCLUDED.next_run_at;

-- src-tauri/core/src/reports/executions.rs:96
INSERT INTO report_executions (definition_id, job_id, type, status, format, filters, requested_by)
        VALUES ($1, $2, $3, 'pending', $4, $5, current_app_user_id())
        ON CONFLICT ON CONSTRAINT report_executions_job_format_key DO NOTHING
        RETURNING id;

-- src-tauri/core/src/reports/executions.rs:116
SELECT id FROM report_executions WHERE job_id = $1 AND format = $2;

-- src-tauri/core/src/reports/executions.rs:126
UPDATE report_executions SET status = 'generating', started_at = now(), finished_at = NULL, error = NULL, duration_ms = NULL WHERE id = $1;

-- src-tauri/core/src/reports/executions.rs:139
UPDATE report_executions
        SET status = 'completed', storage_path = $2, files = $3, size_bytes = $4, row_count = $5,
            finished_at = now(), duration_ms = $6
        WHERE id = $1;

-- src-tauri/core/src/reports/executions.rs:160
UPDATE report_executions SET status = 'failed', error = $2, finished_at = now(), duration_ms = $3 WHERE id = $1;

-- src-tauri/core/src/reports/folders.rs:42
SELECT f.path, f.description, u.email AS created_by, f.created_at
         FROM report_output_folders f LEFT JOIN users u ON u.id = f.created_by ORDER BY f.path;

-- src-tauri/core/src/reports/folders.rs:59
INSERT INTO report_output_folders (path, description) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING;

-- src-tauri/core/src/reports/folders.rs:70
DELETE FROM report_output_folders WHERE path = $1;

-- src-tauri/core/src/reports/folders.rs:93
SELECT report_output_allowed($1);

-- src-tauri/core/src/reports/run.rs:106
SELECT has_table_privilege($1, 'SELECT');

-- src-tauri/core/src/reports/schedule.rs:88
SELECT now();

-- src-tauri/core/src/reports/schedule.rs:89
SELECT id, name, schedule, type, next_run_at
        FROM report_definitions
        WHERE enabled AND schedule IS NOT NULL AND next_run_at <= now()
        ORDER BY next_run_at, id
        FOR UPDATE SKIP LOCKED;

-- src-tauri/core/src/reports/schedule.rs:112
UPDATE report_definitions SET next_run_at = $2 WHERE id = $1;

-- src-tauri/core/src/reports/schedule.rs:121
SELECT enqueue_system_job('report', $1, $2, $3, $4);

-- src-tauri/core/src/search/index.rs:152
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- src-tauri/core/src/search/index.rs:153
SELECT pg_current_snapshot()::text;

-- src-tauri/core/src/sites/mod.rs:255
SELECT r.id, r.code, r.name, (SELECT count(*) FROM countries c WHERE c.region_id = r.id) AS countries
         FROM regions r ORDER BY r.code;

-- src-tauri/core/src/sites/mod.rs:266
INSERT INTO regions (code, name) VALUES ($1, $2);

-- src-tauri/core/src/sites/mod.rs:276
SELECT c.id, c.iso_code::text AS iso_code, c.name, r.code AS region,
                (SELECT count(*) FROM sites s WHERE s.country_id = c.id) AS sites
         FROM countries c JOIN regions r ON r.id = c.region_id ORDER BY c.iso_code;

-- src-tauri/core/src/sites/mod.rs:296
SELECT id FROM regions WHERE code = $1;

-- src-tauri/core/src/sites/mod.rs:301
INSERT INTO countries (region_id, iso_code, name) VALUES ($1, $2, $3);

-- src-tauri/core/src/sites/mod.rs:337
SELECT id FROM countries WHERE iso_code = $1;

-- src-tauri/core/src/sites/mod.rs:342
INSERT INTO sites (country_id, code, name, timezone, status)
         VALUES ($1, $2, $3, coalesce($4, 'UTC'), coalesce($5, 'active'::site_status));

-- src-tauri/core/src/sites/mod.rs:360
UPDATE sites SET name = coalesce($2, name), timezone = coalesce($3, timezone), status = coalesce($4, status)
         WHERE id = $1;

-- src-tauri/core/src/sites/mod.rs:378
DELETE FROM sites WHERE id = $1;

-- src-tauri/core/src/sites/mod.rs:409
INSERT INTO site_rules (method, site_id, pattern, vlan_id, confidence, description, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, current_app_user_id()) RETURNING id;

-- src-tauri/core/src/sites/mod.rs:458
CREATE TEMP TABLE eio_rule_preview_before ON COMMIT DROP AS SELECT entity_type, entity_id, site_id FROM entity_sites;

-- src-tauri/core/src/sites/mod.rs:464
SELECT * FROM refresh_site_inferences();

-- src-tauri/core/src/sites/mod.rs:469
CREATE TEMP TABLE eio_rule_preview_matched ON COMMIT DROP AS
         SELECT entity_type, entity_id, site_id FROM site_inferences WHERE evidence ->> 'rule_id' = $1::text;

-- src-tauri/core/src/sites/mod.rs:484
SELECT entity_type, count(*) FROM pg_temp.eio_rule_preview_matched GROUP BY 1 ORDER BY 1;

-- src-tauri/core/src/sites/mod.rs:513
DELETE FROM site_rules WHERE id = $1;

-- src-tauri/core/src/sites/mod.rs:522
SELECT method, total, written, removed FROM refresh_site_inferences();

-- src-tauri/core/src/sites/mod.rs:530
SELECT entity_label($1, $2);

-- src-tauri/core/src/sites/mod.rs:531
SELECT i.method, s.code AS site, i.confidence, i.evidence, i.updated_at
         FROM site_inferences i JOIN sites s ON s.id = i.site_id
         WHERE i.entity_type = $1 AND i.entity_id = $2
         ORDER BY (i.method = 'manual') DESC, i.confidence DESC, i.method, s.code;

-- src-tauri/core/src/sites/mod.rs:550
SELECT entity_type, entity_id, entity_label(entity_type, entity_id) AS name, winner_site_code AS winner_site,
                winner_method,
                opinions
         FROM site_inference_conflicts ORDER BY entity_type, name, entity_id;

-- src-tauri/core/src/sites/mod.rs:565
SELECT entity_label($1, $2) IS NOT NULL, current_app_user_id(), session_user::text;

-- src-tauri/core/src/sites/mod.rs:580
DELETE FROM site_inferences WHERE entity_type = $1 AND entity_id = $2 AND method = 'manual';

-- src-tauri/core/src/sites/mod.rs:585
INSERT INTO site_inferences (entity_type, entity_id, site_id, method, confidence, evidence, created_by)
         VALUES ($1, $2, $3, 'manual', 1, jsonb_strip_nulls(jsonb_build_object(
                     'rule', 'manual', 'set_by', (SELECT email FROM users WHERE id = current_app_user_id()),
                     'note', $4::text)),
                 current_app_user_id());

-- src-tauri/core/src/sites/mod.rs:605
DELETE FROM site_inferences WHERE entity_type = $1 AND entity_id = $2 AND method = 'manual';

-- src-tauri/core/src/sites/mod.rs:620
SELECT coalesce(u.email, 'someone') FROM site_inferences i LEFT JOIN users u ON u.id = i.created_by
         WHERE i.entity_type = $1 AND i.entity_id = $2 AND i.method = 'manual'
           AND i.created_by IS DISTINCT FROM current_app_user_id() AND NOT is_admin_session();

-- src-tauri/core/src/sources/import.rs:172
SELECT 1 FROM service_identities WHERE name = $1;

-- src-tauri/core/src/sources/import.rs:194
SELECT code FROM sites;

-- src-tauri/core/src/sources/import.rs:196
SELECT name FROM idrac_endpoints;

-- src-tauri/core/src/sources/mod.rs:235
SELECT id FROM service_identities WHERE name = $1;

-- src-tauri/core/src/sources/mod.rs:249
SELECT id FROM sites WHERE code = $1;

-- src-tauri/core/src/sources/mod.rs:337
SELECT id FROM service_identities WHERE name = $1;

-- src-tauri/core/src/sources/mod.rs:348
SELECT id FROM sites WHERE code = $1;

-- src-tauri/core/src/status.rs:82
SELECT current_database() AS database,
               current_setting('server_version') AS server_version,
               session_user::text AS login,
               (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) AS superuser,
               ARRAY(SELECT r.rolname::text FROM pg_roles r
                     WHERE r.rolname IN ('eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker')
                       AND pg_has_role(session_user, r.oid, 'MEMBER')
                     ORDER BY r.rolname) AS roles,
               to_regclass('public.users') IS NOT NULL AS has_users,
               to_regclass('public.jobs') IS NOT NULL AS has_jobs,
               to_regclass('public.kill_switch') IS NOT NULL AS has_kill_switch,
               (SELECT CASE WHEN ssl THEN 'encrypted (' || version || ')' ELSE 'not encrypted' END
                FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS this_connection;

-- src-tauri/core/src/status.rs:110
SELECT email, role::text AS role, capabilities FROM users WHERE login_role = session_user;

-- src-tauri/core/src/status.rs:129
SELECT count(*) FROM jobs WHERE status = 'awaiting_approval';

-- src-tauri/core/src/status.rs:135
SELECT engaged, reason, changed_by_login::text AS changed_by, changed_at FROM kill_switch;

-- src-tauri/core/src/status.rs:216
SELECT c.relname::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND c.relname <> '_sqlx_migrations'
          AND has_any_column_privilege(c.oid, 'SELECT')
        ORDER BY 1;

-- src-tauri/engine/src/jobs/context.rs:177
SELECT (SELECT engaged FROM kill_switch) AS engaged, (SELECT reason FROM kill_switch) AS reason,
                    j.cancel_requested_at IS NOT NULL AS cancel, j.lease_owner = $2 AS mine
             FROM jobs j WHERE j.id = $1;

-- src-tauri/engine/src/jobs/context.rs:219
INSERT INTO job_events (job_id, step_id, level, message, data)
             SELECT $1, $2, $3::event_level, $4, $5 FROM jobs WHERE id = $1 AND lease_owner = $6;

-- src-tauri/engine/src/jobs/context.rs:235
SELECT job_report_progress($1, $2, $3, $4);

-- src-tauri/engine/src/jobs/context.rs:250
INSERT INTO job_steps (job_id, seq, name, kind, target) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT ON CONSTRAINT job_steps_job_seq_key DO NOTHING;

-- src-tauri/engine/src/jobs/context.rs:261
SELECT id, seq, status::text AS status, external_task_id, result FROM job_steps WHERE job_id = $1 AND seq = $2;

-- src-tauri/engine/src/jobs/context.rs:273
SELECT id, seq, status::text AS status, external_task_id, result FROM job_steps
             WHERE job_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq;

-- src-tauri/engine/src/jobs/context.rs:292
UPDATE job_steps s SET status = $2::step_status, result = coalesce($3, s.result), error = $4,
                    attempts = s.attempts + CASE WHEN $2 = 'running' THEN 1 ELSE 0 END,
                    started_at = coalesce(s.started_at, CASE WHEN $2 IN ('running', 'waiting') THEN now() END),
                    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'skipped', 'cancelled') THEN now() END
             FROM jobs j WHERE s.id = $1 AND j.id = s.job_id AND j.lease_owner = $5;

-- src-tauri/engine/src/jobs/context.rs:324
UPDATE job_steps s SET status = 'cancelled', external_task_id = NULL, error = $2, finished_at = now()
             FROM jobs j WHERE s.id = $1 AND j.id = s.job_id AND j.lease_owner = $3;

-- src-tauri/engine/src/jobs/context.rs:337
INSERT INTO job_events (job_id, step_id, level, message, data) VALUES ($1, $2, 'info', $3, $4);

-- src-tauri/engine/src/jobs/context.rs:352
SELECT job_record_task($1, $2, $3);

-- src-tauri/engine/src/jobs/context.rs:361
UPDATE job_steps SET external_task_id = $2, status = 'waiting' WHERE id = $1;

-- src-tauri/engine/src/jobs/context.rs:366
INSERT INTO job_events (job_id, step_id, level, message, data) VALUES ($1, $2, 'info', $3, $4);

-- src-tauri/engine/src/jobs/handlers/firmware.rs:311
SELECT EXISTS (SELECT 1 FROM job_events WHERE step_id = $1 AND data ->> 'external_task_id' = $2
                          AND at < $3::timestamptz)
            AND NOT EXISTS (SELECT 1 FROM job_events WHERE job_id = $4 AND data ->> 'kind' = 'decision_applied'
                              AND data ->> 'decision_at' = $5);

-- src-tauri/engine/src/jobs/handlers/maintenance.rs:37
SELECT EXISTS (SELECT 1 FROM job_steps WHERE job_id = $1);

-- src-tauri/engine/src/jobs/handlers/maintenance.rs:199
SELECT EXISTS (SELECT 1 FROM job_events WHERE job_id = $1 AND data ->> 'kind' = 'gate_check'
                        AND data ->> 'host' = $2 AND data ->> 'vcenter' = $3);

-- src-tauri/engine/src/jobs/handlers/maintenance.rs:290
SELECT count(*) FILTER (WHERE data ->> 'decision_at' = $2) AS applied,
                count(*) FILTER (WHERE data ->> 'host' = $3) AS on_host
         FROM job_events WHERE job_id = $1 AND data ->> 'kind' = 'decision_applied';

-- src-tauri/engine/src/jobs/handlers/power.rs:70
SELECT h.name, h.in_maintenance_mode FROM physical_servers p
                     JOIN server_mappings m ON m.physical_server_id = p.id AND m.status = 'active'
                     JOIN esxi_hosts h ON h.id = m.esxi_host_id AND h.removed_at IS NULL
                     WHERE upper(p.service_tag) = upper($1);

-- src-tauri/engine/src/jobs/handlers/report.rs:21
SELECT params FROM jobs WHERE id = $1;

-- src-tauri/engine/src/jobs/handlers/targets.rs:41
SELECT h.moid, h.name, c.moid AS cluster_moid, vc.name AS vcenter, e.name AS idrac
         FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id
         LEFT JOIN clusters c ON c.id = h.cluster_id
         LEFT JOIN server_mappings m ON m.esxi_host_id = h.id AND m.status = 'active'
         LEFT JOIN physical_servers p ON p.id = m.physical_server_id
         LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
         WHERE h.moid = $1 AND h.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2)
         ORDER BY vc.name LIMIT 1;

-- src-tauri/engine/src/jobs/handlers/targets.rs:67
SELECT vc.name AS vcenter, h.moid AS host FROM virtual_machines v
         JOIN vcenter_instances vc ON vc.id = v.vcenter_id LEFT JOIN esxi_hosts h ON h.id = v.host_id
         WHERE v.moid = $1 AND v.removed_at IS NULL AND ($2::text IS NULL OR vc.name = $2) ORDER BY vc.name LIMIT 1;

-- src-tauri/engine/src/jobs/handlers/targets.rs:82
SELECT e.name FROM physical_servers p JOIN idrac_endpoints e ON e.id = p.idrac_id
         WHERE p.removed_at IS NULL AND (upper(p.service_tag) = upper($1) OR e.name = $1) LIMIT 1;

-- src-tauri/engine/src/jobs/schedule.rs:24
WITH s AS (
            SELECT 'vcenter'::source_kind AS kind, id, name FROM vcenter_instances WHERE enabled
            UNION ALL SELECT 'idrac', id, name FROM idrac_endpoints WHERE enabled
            UNION ALL SELECT 'ome', id, name FROM ome_instances WHERE enabled
        )
        SELECT s.kind, s.name, floor(extract(epoch FROM now()) / $1)::bigint AS slot
        FROM s
        WHERE NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.source_type = s.kind AND r.source_id = s.id
                            AND r.started_at > now() - make_interval(secs => $1))
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.type = 'sync'
                            AND j.status IN ('pending', 'scheduled', 'running', 'paused')
                            AND j.schedule IS NULL
                            AND coalesce(j.target ->> 'kind', s.kind::text) = s.kind::text
                            AND coalesce(j.target ->> 'source', s.name) = s.name)
        ORDER BY s.kind, s.name;

-- src-tauri/engine/src/jobs/schedule.rs:61
SELECT enqueue_system_job('sync', $1, $2, '{}', $3);

-- src-tauri/engine/src/jobs/schedule.rs:94
SELECT now();

-- src-tauri/engine/src/jobs/schedule.rs:95
SELECT id, schedule, next_run_at, target, policy FROM jobs
         WHERE schedule IS NOT NULL AND status = 'scheduled' AND next_run_at <= now()
         ORDER BY next_run_at, id
         FOR UPDATE SKIP LOCKED;

-- src-tauri/engine/src/jobs/schedule.rs:115
SELECT set_job_next_run($1, $2);

-- src-tauri/engine/src/jobs/schedule.rs:136
SELECT create_scheduled_run($1, $2, $3, $4, $5, $6);

-- src-tauri/engine/src/jobs/worker.rs:111
SELECT engaged FROM kill_switch;

-- src-tauri/engine/src/jobs/worker.rs:191
UPDATE worker_instances SET stopped_at = now() WHERE id = $1;

-- src-tauri/engine/src/jobs/worker.rs:201
INSERT INTO worker_instances (id, hostname, pid, version, mode) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET started_at = now(), heartbeat_at = now(), stopped_at = NULL;

-- src-tauri/engine/src/jobs/worker.rs:229
SELECT engaged FROM kill_switch;

-- src-tauri/engine/src/jobs/worker.rs:253
SELECT id, type, target, policy, plan, plan_hash, decision, attempts
             FROM lease_jobs($1, $2, make_interval(secs => $3));

-- src-tauri/engine/src/jobs/worker.rs:268
UPDATE worker_instances SET heartbeat_at = now() WHERE id = $1 RETURNING (SELECT engaged FROM kill_switch);

-- src-tauri/engine/src/jobs/worker.rs:286
SELECT renew_leases($1, $2, make_interval(secs => $3));

-- src-tauri/engine/src/jobs/worker.rs:303
SELECT id FROM jobs WHERE id = ANY($1) AND cancel_requested_at IS NOT NULL;

-- src-tauri/engine/src/jobs/worker.rs:371
SELECT complete_jobs($1, $2, $3);

-- src-tauri/engine/src/jobs/worker.rs:404
SELECT job_finish($1, $2, 'succeeded', 'succeeded', p_result => $3);

-- src-tauri/engine/src/jobs/worker.rs:414
SELECT job_hand_back($1, $2);

-- src-tauri/engine/src/jobs/worker.rs:433
SELECT job_reapprove($1, $2, $3, $4);

-- src-tauri/engine/src/jobs/worker.rs:459
SELECT job_finish($1, $2, $3::job_status, $4, $5, $6);

-- src-tauri/engine/src/sync/dell.rs:110
SELECT refresh_server_mappings();

-- src-tauri/engine/src/sync/dell.rs:184
UPDATE idrac_endpoints SET generation = $2::idrac_generation, firmware_version = $3, manager_model = $4,
                capabilities = $5, driver_preference = $6::idrac_driver, driver_reason = $7, tls_constraints = $8
         WHERE id = $1;

-- src-tauri/engine/src/sync/dell.rs:202
UPDATE physical_servers SET idrac_id = $1
             WHERE upper(service_tag) = upper($2) AND idrac_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM physical_servers WHERE idrac_id = $1);

-- src-tauri/engine/src/sync/dell.rs:212
SELECT to_jsonb(p) - ARRAY['id', 'first_seen', 'last_sync', 'removed_at'] FROM physical_servers p WHERE idrac_id = $1;

-- src-tauri/engine/src/sync/dell.rs:218
INSERT INTO physical_servers AS p (idrac_id, service_tag, system_uuid, manufacturer, model, bios_version, power_state,
                                            health, cpu_model, cpu_count, memory_gib, hostname, idrac_firmware, idrac_mac, idrac_ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7::server_power_state, $8::health_state, $9, $10, $11, $12, $13, $14::macaddr, $15::inet)
         ON CONFLICT ON CONSTRAINT physical_servers_idrac_id_key DO UPDATE SET
             service_tag = EXCLUDED.service_tag, system_uuid = EXCLUDED.system_uuid, manufacturer = EXCLUDED.manufacturer,
             model = EXCLUDED.model, bios_version = EXCLUDED.bios_version, power_state = EXCLUDED.power_state,
             health = EXCLUDED.health, cpu_model = EXCLUDED.cpu_model, cpu_count = EXCLUDED.cpu_count,
             memory_gib = EXCLUDED.memory_gib, hostname = EXCLUDED.hostname, idrac_firmware = EXCLUDED.idrac_firmware,
             idrac_mac = EXCLUDED.idrac_mac, idrac_ip = EXCLUDED.idrac_ip, removed_at = NULL, last_sync = now()
         RETURNING p.id, to_jsonb(p) - ARRAY['id', 'first_seen', 'last_sync', 'removed_at'] AS j;

-- src-tauri/engine/src/sync/dell.rs:275
INSERT INTO inventory_changes (sync_run_id, entity_type, entity_id, change, diff)
             VALUES ($1, 'physical_server', $2, $3::change_kind, $4);

-- src-tauri/engine/src/sync/dell.rs:307
UPDATE ip_observations SET gone_at = now()
         WHERE source = 'idrac_mgmt' AND entity_id = $1 AND gone_at IS NULL
           AND ($2::inet IS NULL OR address <> $2::inet);

-- src-tauri/engine/src/sync/dell.rs:317
INSERT INTO ip_observations (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id, hostname)
             VALUES ($1, host($2::inet)::inet, 'idrac_mgmt', $3::macaddr, 0.95, 'physical_server', $4, $5)
             ON CONFLICT ON CONSTRAINT ip_observations_identity_key DO UPDATE
                 SET last_seen = now(), gone_at = NULL, mac_address = EXCLUDED.mac_address, hostname = EXCLUDED.hostname;

-- src-tauri/engine/src/sync/dell.rs:402
INSERT INTO physical_servers AS p (ome_instance_id, ome_device_id, service_tag, model, hostname, power_state, health, idrac_ip, idrac_mac)
             VALUES ($1, $2, $3, $4, $5, $6::server_power_state, $7::health_state, $8::inet, $9::macaddr)
             ON CONFLICT ((upper(service_tag))) WHERE service_tag IS NOT NULL DO UPDATE
                 SET ome_instance_id = EXCLUDED.ome_instance_id, ome_device_id = EXCLUDED.ome_device_id,
                     model = coalesce(p.model, EXCLUDED.model), hostname = coalesce(p.hostname, EXCLUDED.hostname),
                     power_state = CASE WHEN p.idrac_id IS NULL THEN EXCLUDED.power_state ELSE p.power_state END,
                     health = CASE WHEN p.idrac_id IS NULL THEN EXCLUDED.health ELSE p.health END,
                     idrac_ip = coalesce(p.idrac_ip, EXCLUDED.idrac_ip), idrac_mac = coalesce(p.idrac_mac, EXCLUDED.idrac_mac),
                     removed_at = NULL, last_sync = now()
             RETURNING (xmax = 0) AS inserted;

-- src-tauri/engine/src/sync/dell.rs:432
INSERT INTO firmware_baselines (ome_instance_id, ome_baseline_id, name, description, catalog, last_run_at)
             VALUES ($1, $2, $3, $4, $5, $6::timestamptz)
             ON CONFLICT ON CONSTRAINT firmware_baselines_ome_key DO UPDATE
                 SET name = EXCLUDED.name, description = EXCLUDED.description, catalog = EXCLUDED.catalog,
                     last_run_at = EXCLUDED.last_run_at, removed_at = NULL, last_sync = now()
             RETURNING id;

-- src-tauri/engine/src/sync/ledger.rs:70
INSERT INTO sync_runs (source_type, source_id, kind, worker) VALUES ($1::source_kind, $2, $3::sync_kind, $4) RETURNING id;

-- src-tauri/engine/src/sync/ledger.rs:109
UPDATE sync_runs SET status = $2::sync_outcome, finished_at = now(), duration_ms = $3, counts = $4,
                                  api_calls = $5, error = $6
             WHERE id = $1;

-- src-tauri/engine/src/sync/ledger.rs:175
UPDATE sync_runs SET status = 'failed', finished_at = now(),
                              error = 'abandoned: the worker running it stopped before it finished'
         WHERE status = 'running' AND started_at < now() - make_interval(mins => $1);

-- src-tauri/engine/src/sync/snapshot.rs:35
SET LOCAL jit = off;

-- src-tauri/engine/src/sync/vcenter/mod.rs:125
UPDATE vcenter_instances SET instance_uuid = $2, api_version = $3, product = $4 WHERE id = $1;

-- src-tauri/engine/src/sync/vcenter/mod.rs:182
UPDATE vcenter_instances SET last_full_sync_at = now() WHERE id = $1;

-- src-tauri/engine/src/sync/vcenter/mod.rs:200
WITH s AS (
            SELECT moid, name,
                   CASE WHEN jsonb_typeof(hosts) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(hosts)) END AS host_moids,
                   multiple_host_access
            FROM UNNEST($2::text[], $3::text[], $4::jsonb[], $5::bool[]) AS s(moid, name, hosts, multiple_host_access)
        ),
        fresh AS (
            SELECT s.* FROM s LEFT JOIN datastores t ON t.vcenter_id = $1 AND t.moid = s.moid
            WHERE t.moid IS NULL
               OR (t.name, t.host_moids, t.multiple_host_access) IS DISTINCT FROM (s.name, s.host_moids, s.multiple_host_access)
        ),
        up AS (
            INSERT INTO datastores AS t (vcenter_id, moid, name, host_moids, multiple_host_access)
            SELECT $1, moid, name, host_moids, multiple_host_access FROM fresh
            ON CONFLICT (vcenter_id, moid) DO UPDATE
                SET name = EXCLUDED.name, host_moids = EXCLUDED.host_moids,
                    multiple_host_access = EXCLUDED.multiple_host_access, last_sync = now()
                WHERE (t.name, t.host_moids, t.multiple_host_access)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.host_moids, EXCLUDED.multiple_host_access)
            RETURNING (xmax = 0) AS inserted
        ),
        gone AS (
            DELETE FROM datastores t
            WHERE t.vcenter_id = $1
              AND ($6::text[] IS NULL OR t.moid = ANY($6::text[]))
              AND NOT EXISTS (SELECT 1 FROM s WHERE s.moid = t.moid)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM up WHERE inserted) AS created,
               (SELECT count(*) FROM up WHERE NOT inserted) AS updated,
               (SELECT count(*) FROM gone) AS removed;

-- src-tauri/engine/src/sync/vcenter/mod.rs:286
WITH s AS (
            SELECT DISTINCT ON (kind, moid, host(ip::inet)) kind, moid, host(ip::inet)::inet AS address,
                   CASE WHEN mac ~* '^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$' THEN mac::macaddr END AS mac, confidence, hostname
            FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::float4[], $7::text[])
                 AS s(kind, moid, ip, mac, confidence, hostname)
            ORDER BY kind, moid, host(ip::inet), confidence DESC
        ),
        resolved AS (
            SELECT CASE s.kind WHEN 'vm' THEN 'vcenter_vm' ELSE 'esxi_mgmt' END::observation_source AS src,
                   CASE s.kind WHEN 'vm' THEN 'virtual_machine' ELSE 'esxi_host' END::entity_kind AS entity_type,
                   coalesce(v.id, h.id) AS entity_id, s.address, s.mac, s.confidence, s.hostname
            FROM s
            LEFT JOIN virtual_machines v ON s.kind = 'vm' AND v.vcenter_id = $1 AND v.moid = s.moid
            LEFT JOIN esxi_hosts h ON s.kind = 'host' AND h.vcenter_id = $1 AND h.moid = s.moid
        ),
        up AS (
            INSERT INTO ip_observations AS o (routing_domain_id, address, source, mac_address, confidence, entity_type, entity_id, hostname)
            SELECT $8, address, src, mac, confidence, entity_type, entity_id, hostname FROM resolved WHERE entity_id IS NOT NULL
            ON CONFLICT ON CONSTRAINT ip_observations_identity_key DO UPDATE
                SET last_seen = now(), gone_at = NULL, mac_address = EXCLUDED.mac_address,
                    confidence = EXCLUDED.confidence, hostname = EXCLUDED.hostname
            RETURNING o.id, (xmax = 0) AS inserted
        ),
        carriers AS (
            SELECT id FROM virtual_machines WHERE vcenter_id = $1 AND ($9 OR moid = ANY($10::text[]))
            UNION ALL
            SELECT id FROM esxi_hosts WHERE vcenter_id = $1 AND ($9 OR moid = ANY($11::text[]))
        ),
        gone AS (
            UPDATE ip_observations o SET gone_at = now()
            WHERE o.gone_at IS NULL AND o.source IN ('vcenter_vm', 'esxi_mgmt')
              AND o.entity_id IN (SELECT id FROM carriers)
              AND NOT EXISTS (SELECT 1 FROM up WHERE up.id = o.id)
            RETURNING o.id
        )
        SELECT (SELECT count(*) FROM up) AS seen, (SELECT count(*) FROM up WHERE inserted) AS created,
               (SELECT count(*) FROM gone) AS removed;

-- src-tauri/engine/src/sync/vcenter/mod.rs:349
SELECT id FROM virtual_machines WHERE vcenter_id = $1 AND moid = $2;

-- src-tauri/engine/src/sync/vcenter/watch.rs:68
SELECT owner FROM leases WHERE name = $1;

-- src-tauri/engine/src/sync/vcenter/watch.rs:84
DELETE FROM leases WHERE name = $1 AND owner = $2;

-- src-tauri/engine/src/sync/vcenter/watch.rs:282
SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'derived', true)::text);

-- src-tauri/engine/src/sync/vcenter/watch.rs:357
SELECT pg_notify('eio_inventory', json_build_object('source', $1::text, 'run', $2::text, 'moids', $3::text[])::text);

-- src-tauri/server/src/serve/mod.rs:69
SELECT session_user::text;

-- src-tauri/src/live.rs:115
SELECT type, status, initiated_by_user FROM jobs WHERE id = $1;

-- src-tauri/src/workers.rs:46
SELECT pg_has_role(current_user, 'eio_worker', 'MEMBER');
