-- refresh_server_mappings() at 5,000 servers and 1,000 hosts (issue 21): the same
-- candidates, the same statuses and evidence, found by hash joins.
--
-- The UUID match compared every server with every host through uuid_swapped(), a function
-- PostgreSQL cannot inline (5M calls, 49 s of a 355 s iDRAC sync of 5,000 servers); it is
-- now two equality joins, the byte-swapped form computed once per server. The custom
-- attribute match likewise (every server against every host's attributes), and each
-- pair's list of agreeing methods is grouped once instead of rescanning every candidate
-- for every candidate. Same signature, same result (expand-only).
SET LOCAL ROLE eio_owner;

CREATE OR REPLACE FUNCTION refresh_server_mappings() RETURNS jsonb
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
        SELECT s.id, s.idrac_id, upper(nullif(btrim(s.service_tag), '')) AS tag, s.system_uuid,
               uuid_swapped(s.system_uuid) AS swapped_uuid, s.idrac_ip, host(s.idrac_ip) AS idrac_host,
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
    -- The hosts' custom attributes that may name a server's service tag or iDRAC address.
    attr AS (
        SELECT h.id AS hid, a.key, a.value, upper(btrim(a.value)) AS tag, btrim(a.value) AS trimmed
        FROM hst h CROSS JOIN LATERAL jsonb_each_text(h.custom_attributes) a
        WHERE lower(replace(a.key, ' ', '')) IN ('servicetag', 'service_tag', 'idrac', 'idracip', 'bmc', 'bmcip')
    ),
    raw AS (
        SELECT s.id AS sid, s.idrac_id, h.id AS hid, 'service_tag'::mapping_method AS method, 0.95::real AS confidence,
               jsonb_build_object('service_tag', s.tag) AS evidence
        FROM srv s JOIN hst h ON h.tag = s.tag
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'uuid', 0.90,
               jsonb_build_object('server_uuid', s.system_uuid, 'host_uuid', h.hardware_uuid,
                                  'byte_swapped', h.hardware_uuid <> s.system_uuid)
        FROM srv s JOIN hst h ON h.hardware_uuid = s.system_uuid
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'uuid', 0.90,
               jsonb_build_object('server_uuid', s.system_uuid, 'host_uuid', h.hardware_uuid, 'byte_swapped', true)
        FROM srv s JOIN hst h ON h.hardware_uuid = s.swapped_uuid AND h.hardware_uuid <> s.system_uuid
        UNION ALL
        SELECT s.id, s.idrac_id, a.hid, 'attribute', 0.85,
               jsonb_build_object('attribute', a.key, 'value', a.value)
        FROM attr a JOIN srv s ON a.tag = s.tag
        UNION ALL
        SELECT s.id, s.idrac_id, a.hid, 'attribute', 0.85,
               jsonb_build_object('attribute', a.key, 'value', a.value)
        FROM attr a JOIN srv s ON a.trimmed = s.idrac_host AND a.tag IS DISTINCT FROM s.tag
        UNION ALL
        SELECT s.id, s.idrac_id, h.id, 'naming', 0.60, jsonb_build_object('compared_name', s.short)
        FROM srv s JOIN hst h ON h.short = s.short
    ),
    methods AS (
        SELECT sid, hid, jsonb_agg(DISTINCT method) AS methods, count(DISTINCT method) AS agreeing
        FROM raw GROUP BY sid, hid
    ),
    pairs AS (
        -- One row per pair: its strongest method, and every method that found it.
        SELECT DISTINCT ON (r.sid, r.hid) r.sid, r.idrac_id, r.hid, r.method, r.confidence,
               r.evidence || jsonb_build_object('methods', m.methods) AS evidence, m.agreeing
        FROM raw r JOIN methods m ON m.sid = r.sid AND m.hid = r.hid
        -- Ties (two attributes of one host naming the server) by evidence, so a refresh
        -- names the same one every time.
        ORDER BY r.sid, r.hid, r.confidence DESC, r.evidence::text
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
