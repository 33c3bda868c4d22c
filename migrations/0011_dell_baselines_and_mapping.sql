-- Dell: OpenManage Enterprise firmware baselines and their per-server compliance, and the
-- mapping between a physical server (its iDRAC) and the ESXi host running on it.
SET LOCAL ROLE eio_owner;

CREATE TABLE firmware_baselines (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ome_instance_id uuid NOT NULL CONSTRAINT firmware_baselines_ome_instance_id_fkey REFERENCES ome_instances (id) ON DELETE CASCADE,
    -- OME's own id of the baseline.
    ome_baseline_id text NOT NULL,
    name            text NOT NULL,
    description     text,
    catalog         text,
    last_run_at     timestamptz,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_sync       timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    CONSTRAINT firmware_baselines_ome_key UNIQUE (ome_instance_id, ome_baseline_id)
);

CREATE TYPE compliance_status AS ENUM ('compliant', 'upgrade', 'downgrade', 'unknown');

-- One row per (baseline, server, component): installed vs what the baseline wants.
CREATE TABLE firmware_compliance (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    baseline_id        uuid NOT NULL CONSTRAINT firmware_compliance_baseline_id_fkey REFERENCES firmware_baselines (id) ON DELETE CASCADE,
    -- "<service tag>/<component>": the natural key within a baseline.
    key                text NOT NULL,
    service_tag        text NOT NULL,
    physical_server_id uuid CONSTRAINT firmware_compliance_physical_server_id_fkey REFERENCES physical_servers (id) ON DELETE SET NULL,
    component          text NOT NULL,
    fqdd               text,
    current_version    text,
    baseline_version   text,
    status             compliance_status NOT NULL DEFAULT 'unknown',
    -- OME's words: Recommended, Urgent, Optional …
    criticality        text,
    reboot_required    boolean,
    first_seen         timestamptz NOT NULL DEFAULT now(),
    last_sync          timestamptz NOT NULL DEFAULT now(),
    removed_at         timestamptz,
    CONSTRAINT firmware_compliance_baseline_key UNIQUE (baseline_id, key)
);
CREATE INDEX firmware_compliance_server_idx ON firmware_compliance (physical_server_id);
CREATE INDEX firmware_compliance_service_tag_idx ON firmware_compliance (upper(service_tag));

-- How names are compared for the `naming` mapping method: each rule's regex is removed
-- (case-insensitively) from both the ESXi host name and the server's hostname before they
-- are compared. Admins tune them for their estate's conventions.
CREATE TABLE mapping_naming_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    strip_regex text NOT NULL CONSTRAINT mapping_naming_rules_regex_key UNIQUE,
    description text,
    position    integer NOT NULL DEFAULT 0
);
INSERT INTO mapping_naming_rules (strip_regex, description, position) VALUES
    ('\..*$', 'ignore the DNS domain', 1),
    ('[-_.]?(idrac|drac|bmc|ilo|ipmi|mgmt|oob|rac)[-_.]?', 'ignore BMC markers such as esx01-idrac', 2);

-- Name as compared by the naming method.
CREATE FUNCTION mapping_name(raw text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    r text;
    n text := lower(coalesce(raw, ''));
BEGIN
    FOR r IN SELECT strip_regex FROM mapping_naming_rules ORDER BY position, strip_regex LOOP
        n := regexp_replace(n, r, '', 'gi');
    END LOOP;
    RETURN nullif(n, '');
END
$$;

-- The same SMBIOS UUID with its first three fields byte-swapped: BMCs and hypervisors
-- disagree on the byte order of those fields.
CREATE FUNCTION uuid_swapped(u uuid) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN u IS NULL THEN NULL ELSE (
        substr(h, 7, 2) || substr(h, 5, 2) || substr(h, 3, 2) || substr(h, 1, 2) ||
        substr(h, 11, 2) || substr(h, 9, 2) ||
        substr(h, 15, 2) || substr(h, 13, 2) ||
        substr(h, 17))::uuid END
    FROM (SELECT replace(u::text, '-', '') AS h) x
$$;

-- Recompute the automatic server ↔ host mappings, set-based.
--   service_tag 0.95 · uuid 0.90 · attribute 0.85 · naming 0.60 · manual 1.0 (always wins)
-- A pair two independent methods agree on is verified (verified_at). A server (or host)
-- with more than one best candidate is ambiguous: every candidate is recorded as such and
-- none is guessed. Manual mappings are never touched and take their server and host out
-- of the automatic computation. Returns counts by status.
CREATE FUNCTION refresh_server_mappings() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    result jsonb;
BEGIN
    IF NOT (pg_has_role(session_user, 'eio_worker', 'MEMBER') OR pg_has_role(session_user, 'eio_admin', 'MEMBER')
            OR is_superuser_session()) THEN
        RAISE EXCEPTION 'permission denied: refreshing server mappings needs the worker or admin role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    CREATE TEMP TABLE pg_temp.mapping_candidates ON COMMIT DROP AS
    WITH manual AS (
        SELECT physical_server_id, esxi_host_id FROM server_mappings WHERE method = 'manual' AND status = 'active'
    ),
    srv AS (
        SELECT s.id, s.idrac_id, upper(nullif(btrim(s.service_tag), '')) AS tag, s.system_uuid, s.idrac_ip,
               mapping_name(coalesce(s.hostname, i.name)) AS short
        FROM physical_servers s LEFT JOIN idrac_endpoints i ON i.id = s.idrac_id
        WHERE s.removed_at IS NULL AND s.id NOT IN (SELECT physical_server_id FROM manual)
    ),
    hst AS (
        SELECT h.id, upper(nullif(btrim(h.service_tag), '')) AS tag, h.hardware_uuid, h.custom_attributes,
               mapping_name(h.name) AS short
        FROM esxi_hosts h
        WHERE h.removed_at IS NULL AND h.id NOT IN (SELECT esxi_host_id FROM manual)
    ),
    raw AS (
        SELECT s.id AS sid, s.idrac_id, h.id AS hid, 'service_tag'::mapping_method AS method, 0.95::real AS confidence,
               jsonb_build_object('service_tag', s.tag) AS evidence
        FROM srv s JOIN hst h ON h.tag = s.tag
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'uuid', 0.90,
               jsonb_build_object('server_uuid', s.system_uuid, 'host_uuid', h.hardware_uuid,
                                  'byte_swapped', h.hardware_uuid <> s.system_uuid)
        FROM srv s JOIN hst h ON h.hardware_uuid IN (s.system_uuid, uuid_swapped(s.system_uuid))
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'attribute', 0.85,
               jsonb_build_object('attribute', a.key, 'value', a.value)
        FROM srv s JOIN hst h ON true
        CROSS JOIN LATERAL jsonb_each_text(h.custom_attributes) a
        WHERE lower(replace(a.key, ' ', '')) IN ('servicetag', 'service_tag', 'idrac', 'idracip', 'bmc', 'bmcip')
          AND (upper(btrim(a.value)) = s.tag OR btrim(a.value) = host(s.idrac_ip))
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'naming', 0.60, jsonb_build_object('compared_name', s.short)
        FROM srv s JOIN hst h ON h.short = s.short
    ),
    pairs AS (
        -- One row per pair: its strongest method, and every method that found it.
        SELECT DISTINCT ON (sid, hid) sid, idrac_id, hid, method, confidence,
               evidence || jsonb_build_object('methods', (SELECT jsonb_agg(DISTINCT r2.method) FROM raw r2
                                                          WHERE r2.sid = raw.sid AND r2.hid = raw.hid)) AS evidence,
               (SELECT count(DISTINCT r2.method) FROM raw r2 WHERE r2.sid = raw.sid AND r2.hid = raw.hid) AS agreeing
        FROM raw
        ORDER BY sid, hid, confidence DESC
    ),
    ranked AS (
        SELECT p.*,
               max(confidence) OVER (PARTITION BY sid) AS best_for_server,
               max(confidence) OVER (PARTITION BY hid) AS best_for_host
        FROM pairs p
    ),
    top AS (
        SELECT r.*,
               count(*) OVER (PARTITION BY sid) AS rivals_for_server,
               count(*) OVER (PARTITION BY hid) AS rivals_for_host
        FROM ranked r
        WHERE r.confidence = r.best_for_server AND r.confidence = r.best_for_host
    )
    SELECT sid, idrac_id, hid, method, confidence, evidence, agreeing,
           CASE WHEN rivals_for_server > 1 OR rivals_for_host > 1 THEN 'ambiguous' ELSE 'active' END::mapping_status AS status
    FROM top;

    -- Drop automatic rows that no longer hold (manual ones are never touched).
    DELETE FROM server_mappings m
    WHERE m.method <> 'manual'
      AND NOT EXISTS (SELECT 1 FROM pg_temp.mapping_candidates c WHERE c.sid = m.physical_server_id AND c.hid = m.esxi_host_id);

    -- Demote first, so the one-active-per-server/host indexes never see two actives.
    UPDATE server_mappings m SET status = c.status
    FROM pg_temp.mapping_candidates c
    WHERE c.sid = m.physical_server_id AND c.hid = m.esxi_host_id AND m.method <> 'manual'
      AND c.status <> 'active' AND m.status = 'active';

    INSERT INTO server_mappings AS m (idrac_id, physical_server_id, esxi_host_id, confidence, method, status, evidence, verified_at)
    SELECT c.idrac_id, c.sid, c.hid, c.confidence, c.method, c.status, c.evidence,
           CASE WHEN c.agreeing >= 2 THEN now() END
    FROM pg_temp.mapping_candidates c
    ORDER BY (c.status = 'active')  -- ambiguous rows first
    ON CONFLICT ON CONSTRAINT server_mappings_pair_key DO UPDATE
        SET confidence = EXCLUDED.confidence, method = EXCLUDED.method, status = EXCLUDED.status,
            evidence = EXCLUDED.evidence, idrac_id = EXCLUDED.idrac_id,
            verified_at = CASE WHEN EXCLUDED.verified_at IS NULL THEN NULL ELSE coalesce(m.verified_at, EXCLUDED.verified_at) END
        WHERE m.method <> 'manual';

    SELECT jsonb_object_agg(status, n) INTO result
    FROM (SELECT status::text, count(*) AS n FROM server_mappings GROUP BY status) x;
    DROP TABLE pg_temp.mapping_candidates;
    RETURN coalesce(result, '{}');
END
$$;

GRANT SELECT ON firmware_baselines, firmware_compliance, mapping_naming_rules TO eio_viewer;
GRANT INSERT, UPDATE, DELETE ON firmware_baselines, firmware_compliance TO eio_worker;
GRANT INSERT, UPDATE, DELETE ON mapping_naming_rules TO eio_admin;
GRANT EXECUTE ON FUNCTION mapping_name(text), uuid_swapped(uuid) TO eio_viewer, eio_worker;
GRANT EXECUTE ON FUNCTION refresh_server_mappings() TO eio_worker, eio_admin;

-- An operator's manual mapping: it always wins. Automatic mappings of the same server or
-- host give way (the next refresh leaves them out), and an earlier manual mapping of
-- either is replaced. Operators only, as themselves.
CREATE FUNCTION set_manual_mapping(p_server uuid, p_host uuid) RETURNS server_mappings
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    m server_mappings;
BEGIN
    PERFORM require_role('eio_operator', 'mapping a server to a host by hand');
    u := require_app_user('mapping a server to a host by hand');
    IF NOT EXISTS (SELECT 1 FROM physical_servers WHERE id = p_server AND removed_at IS NULL) THEN
        RAISE EXCEPTION 'no such server' USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM esxi_hosts WHERE id = p_host AND removed_at IS NULL) THEN
        RAISE EXCEPTION 'no such ESXi host' USING ERRCODE = 'no_data_found';
    END IF;
    DELETE FROM server_mappings WHERE physical_server_id = p_server OR esxi_host_id = p_host;
    INSERT INTO server_mappings (idrac_id, physical_server_id, esxi_host_id, confidence, method, status, evidence,
                                 created_by, verified_at)
    SELECT p.idrac_id, p.id, p_host, 1.0, 'manual', 'active', jsonb_build_object('set_by', u.email), u.id, now()
    FROM physical_servers p WHERE p.id = p_server
    RETURNING * INTO m;
    PERFORM record_audit('mapping.manual', 'physical_server', p_server::text,
                         jsonb_build_object('esxi_host', p_host));
    RETURN m;
END
$$;
GRANT EXECUTE ON FUNCTION set_manual_mapping(uuid, uuid) TO eio_operator;
