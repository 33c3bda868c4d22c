-- Sites, site inference, IPAM and findings (issue 6).
--
--   * site_rules: how vcenter (datacenter/cluster names), vlan and dns (host names)
--     inference place things at sites; cidr inference uses prefixes.site_id; manual
--     inferences are the operators' own and are never touched by a re-run.
--   * refresh_site_inferences(): one set-based pass writing every non-manual inference
--     for hosts, VMs, servers and observed addresses; site_placements shows the winner
--     (manual first, then confidence), site_inference_conflicts the disagreements.
--   * IPAM: the prefix hierarchy is derived by containment within a routing domain
--     (prefix_tree); available_ranges() returns the free blocks of a prefix as CIDRs;
--     allocate_ip()/allocate_prefix() take the next free address or /N under an advisory
--     lock per parent prefix; prefix_utilization() counts planned and observed use.
--   * run_ipam_findings(): the findings engine, set-based, upserting by (type, subject)
--     like refresh_credential_findings() (which it calls), resolving what cleared,
--     reopening what returned; every run is recorded in finding_runs.
--
-- Usable addresses (documented in ipam_usable_count): IPv4 reserves the network and
-- broadcast addresses except in /31 (RFC 3021) and /32; IPv6 reserves the Subnet-Router
-- anycast address (the all-zero interface id, RFC 4291 2.6.1) except in /127 (RFC 6164)
-- and /128. Free space (available_ranges) is address space, without those reservations;
-- the allocator of single addresses skips them.
SET LOCAL ROLE eio_owner;

-- ---------------------------------------------------------------------------------
-- Sites: the rules inference applies.
CREATE TABLE site_rules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    method      inference_method NOT NULL
                CONSTRAINT site_rules_method_ruled CHECK (method IN ('vcenter', 'vlan', 'dns')),
    site_id     uuid NOT NULL CONSTRAINT site_rules_site_id_fkey REFERENCES sites (id) ON DELETE CASCADE,
    -- vcenter: a case-insensitive regular expression over datacenter and cluster names;
    -- dns: over host names (VM names and guest host names, ESXi host names, server and
    -- observed host names).
    pattern     text,
    -- vlan: the VLAN id whose prefixes and port groups place things at the site.
    vlan_id     integer CONSTRAINT site_rules_vlan_id_range CHECK (vlan_id BETWEEN 1 AND 4094),
    -- Below 1: only a manual placement is certain.
    confidence  real NOT NULL CONSTRAINT site_rules_confidence_range CHECK (confidence > 0 AND confidence < 1),
    description text,
    created_by  uuid CONSTRAINT site_rules_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT site_rules_shape CHECK (
        CASE method WHEN 'vlan' THEN vlan_id IS NOT NULL AND pattern IS NULL
                    ELSE vlan_id IS NULL AND pattern IS NOT NULL AND pattern <> '' END)
);
CREATE UNIQUE INDEX site_rules_rule_key ON site_rules (method, coalesce(pattern, ''), coalesce(vlan_id, 0), site_id);
CREATE INDEX site_rules_site_id_idx ON site_rules (site_id);

-- A pattern PostgreSQL can't compile would break every inference run later.
CREATE FUNCTION check_site_rule_pattern() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.pattern IS NOT NULL THEN
        BEGIN
            PERFORM '' ~* NEW.pattern;
        EXCEPTION WHEN invalid_regular_expression THEN
            RAISE EXCEPTION 'site rule pattern "%" is not a valid regular expression', NEW.pattern
                USING ERRCODE = 'check_violation', CONSTRAINT = 'site_rules_pattern_valid';
        END;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER site_rules_pattern_valid BEFORE INSERT OR UPDATE OF pattern ON site_rules
    FOR EACH ROW EXECUTE FUNCTION check_site_rule_pattern();

-- One manual placement per entity: a new one replaces the old.
CREATE UNIQUE INDEX site_inferences_one_manual_key ON site_inferences (entity_type, entity_id) WHERE method = 'manual';
-- A manual placement names who made it (the RLS policy checks it is the caller).
ALTER TABLE site_inferences ADD CONSTRAINT site_inferences_manual_has_author
    CHECK (method <> 'manual' OR created_by IS NOT NULL);

-- The winning placement of each entity: manual first, then the most confident method
-- (ties: vcenter, cidr, vlan, dns — the enum's order — then the site code).
CREATE VIEW site_placements WITH (security_invoker = true) AS
SELECT DISTINCT ON (i.entity_type, i.entity_id)
       i.entity_type, i.entity_id, i.site_id, s.code AS site_code, i.method, i.confidence, i.evidence,
       i.created_by, i.updated_at
FROM site_inferences i
JOIN sites s ON s.id = i.site_id
ORDER BY i.entity_type, i.entity_id, (i.method = 'manual') DESC, i.confidence DESC, i.method, s.code;

-- Entities whose inferences disagree about the site, with every opinion.
CREATE VIEW site_inference_conflicts WITH (security_invoker = true) AS
SELECT i.entity_type, i.entity_id,
       p.site_id AS winner_site_id, p.site_code AS winner_site_code, p.method AS winner_method,
       jsonb_agg(jsonb_build_object('site', s.code, 'method', i.method, 'confidence', i.confidence,
                                    'evidence', i.evidence)
                 ORDER BY (i.method = 'manual') DESC, i.confidence DESC, i.method, s.code) AS opinions
FROM site_inferences i
JOIN sites s ON s.id = i.site_id
JOIN site_placements p ON p.entity_type = i.entity_type AND p.entity_id = i.entity_id
GROUP BY i.entity_type, i.entity_id, p.site_id, p.site_code, p.method
HAVING count(DISTINCT i.site_id) > 1;

-- What an entity is called, for listings of placements, conflicts and findings.
CREATE FUNCTION entity_label(p_type entity_kind, p_id uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE p_type
        WHEN 'virtual_machine' THEN (SELECT name FROM virtual_machines WHERE id = p_id)
        WHEN 'esxi_host' THEN (SELECT name FROM esxi_hosts WHERE id = p_id)
        WHEN 'physical_server' THEN (SELECT coalesce(hostname, service_tag, id::text) FROM physical_servers WHERE id = p_id)
        WHEN 'idrac_endpoint' THEN (SELECT name FROM idrac_endpoints WHERE id = p_id)
        WHEN 'ip_observation' THEN (SELECT host(address) FROM ip_observations WHERE id = p_id)
        WHEN 'datacenter' THEN (SELECT name FROM datacenters WHERE id = p_id)
        WHEN 'cluster' THEN (SELECT name FROM clusters WHERE id = p_id)
        WHEN 'vcenter_instance' THEN (SELECT name FROM vcenter_instances WHERE id = p_id)
        WHEN 'ome_instance' THEN (SELECT name FROM ome_instances WHERE id = p_id)
        ELSE NULL
    END
$$;

-- Partial indexes for inference: the prefixes that name a site or a VLAN.
CREATE INDEX prefixes_site_gist ON prefixes USING gist (cidr inet_ops) WHERE site_id IS NOT NULL;
CREATE INDEX prefixes_vlan_gist ON prefixes USING gist (cidr inet_ops) WHERE vlan_id IS NOT NULL;

-- Infer the site of every live host, VM, server and observed address in one set-based
-- pass: upsert each method's opinion, delete opinions that no longer hold. Manual
-- placements are never touched, so they survive every re-run. Returns, per method, how
-- many inferences now exist (total), how many were written (new or changed) and removed.
CREATE FUNCTION refresh_site_inferences()
RETURNS TABLE (method inference_method, total bigint, written bigint, removed bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
#variable_conflict use_column
BEGIN
    -- One run at a time; a second caller waits and then sees the first one's result.
    PERFORM pg_advisory_xact_lock(hashtextextended('eio:site_inference', 0));
    RETURN QUERY
    WITH vc_objects AS (
        SELECT 'esxi_host'::entity_kind AS et, h.id, h.vcenter_id, d.name AS dc, c.name AS cl
        FROM esxi_hosts h
        LEFT JOIN datacenters d ON d.id = h.datacenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        WHERE h.removed_at IS NULL
        UNION ALL
        SELECT 'virtual_machine'::entity_kind, v.id, v.vcenter_id, d.name, c.name
        FROM virtual_machines v
        LEFT JOIN esxi_hosts h ON h.id = v.host_id
        LEFT JOIN datacenters d ON d.id = coalesce(v.datacenter_id, h.datacenter_id)
        LEFT JOIN clusters c ON c.id = coalesce(v.cluster_id, h.cluster_id)
        WHERE v.removed_at IS NULL
    ),
    names AS (
        SELECT 'virtual_machine'::entity_kind AS et, v.id, 'name' AS field, v.name FROM virtual_machines v
        WHERE v.removed_at IS NULL
        UNION ALL
        SELECT 'virtual_machine', v.id, 'guest_hostname', v.guest_hostname FROM virtual_machines v
        WHERE v.removed_at IS NULL AND v.guest_hostname IS NOT NULL
        UNION ALL
        SELECT 'esxi_host', h.id, 'name', h.name FROM esxi_hosts h WHERE h.removed_at IS NULL
        UNION ALL
        SELECT 'physical_server', s.id, 'hostname', s.hostname FROM physical_servers s
        WHERE s.removed_at IS NULL AND s.hostname IS NOT NULL
        UNION ALL
        SELECT 'ip_observation', o.id, 'hostname', o.hostname FROM ip_observations o
        WHERE o.gone_at IS NULL AND o.hostname IS NOT NULL
    ),
    -- Who carries which address: the carriers of observations (an iDRAC's addresses
    -- count for its server), each observation itself, iDRAC addresses and ESXi
    -- management addresses from the inventory.
    carried AS (
        SELECT o.entity_type AS et, o.entity_id AS id, o.routing_domain_id AS rd, o.address
        FROM ip_observations o WHERE o.gone_at IS NULL AND o.entity_type <> 'idrac_endpoint'
        UNION ALL
        SELECT 'physical_server', s.id, o.routing_domain_id, o.address
        FROM ip_observations o JOIN physical_servers s ON s.idrac_id = o.entity_id
        WHERE o.gone_at IS NULL AND o.entity_type = 'idrac_endpoint' AND s.removed_at IS NULL
        UNION ALL
        SELECT 'ip_observation', o.id, o.routing_domain_id, o.address FROM ip_observations o WHERE o.gone_at IS NULL
        UNION ALL
        SELECT 'physical_server', s.id, coalesce(e.routing_domain_id, default_routing_domain_id()),
               set_masklen(s.idrac_ip, CASE family(s.idrac_ip) WHEN 4 THEN 32 ELSE 128 END)
        FROM physical_servers s LEFT JOIN idrac_endpoints e ON e.id = s.idrac_id
        WHERE s.removed_at IS NULL AND s.idrac_ip IS NOT NULL
        UNION ALL
        SELECT 'esxi_host', h.id, vc.routing_domain_id, set_masklen(ip, CASE family(ip) WHEN 4 THEN 32 ELSE 128 END)
        FROM esxi_hosts h JOIN vcenter_instances vc ON vc.id = h.vcenter_id CROSS JOIN unnest(h.management_ips) ip
        WHERE h.removed_at IS NULL
    ),
    -- Each distinct address once: its most specific prefix with a site, and with a VLAN.
    located AS (
        SELECT a.rd, a.address, ps.cidr AS site_cidr, ps.site_id, pv.cidr AS vlan_cidr, pv.vlan_id
        FROM (SELECT DISTINCT c.rd, c.address FROM carried c) a
        LEFT JOIN LATERAL (SELECT p.cidr, p.site_id FROM prefixes p
                           WHERE p.site_id IS NOT NULL AND p.routing_domain_id = a.rd AND p.cidr >>= a.address
                           ORDER BY masklen(p.cidr) DESC LIMIT 1) ps ON true
        LEFT JOIN LATERAL (SELECT p.cidr, p.vlan_id FROM prefixes p
                           WHERE p.vlan_id IS NOT NULL AND p.routing_domain_id = a.rd AND p.cidr >>= a.address
                           ORDER BY masklen(p.cidr) DESC LIMIT 1) pv ON true
        WHERE ps.site_id IS NOT NULL OR pv.vlan_id IS NOT NULL
    ),
    candidates AS (
        -- vcenter: name rules over the datacenter and cluster an object lives in ...
        SELECT o.et, o.id, r.site_id, 'vcenter'::inference_method AS how, r.confidence,
               jsonb_build_object('rule', 'name pattern', 'rule_id', r.id, 'pattern', r.pattern,
                                  'matched', m.kind, 'name', m.name) AS evidence
        FROM vc_objects o
        CROSS JOIN LATERAL (VALUES ('datacenter', o.dc), ('cluster', o.cl)) m(kind, name)
        JOIN site_rules r ON r.method = 'vcenter' AND m.name ~* r.pattern
        UNION ALL
        -- ... and the site its vCenter is configured with.
        SELECT o.et, o.id, vc.site_id, 'vcenter', 0.7::real,
               jsonb_build_object('rule', 'vcenter site', 'vcenter', vc.name)
        FROM vc_objects o JOIN vcenter_instances vc ON vc.id = o.vcenter_id
        WHERE vc.site_id IS NOT NULL
        UNION ALL
        -- cidr: the most specific prefix with a site holding one of its addresses.
        SELECT c.et, c.id, l.site_id, 'cidr', 0.8::real,
               jsonb_build_object('rule', 'prefix site', 'prefix', l.site_cidr::text, 'address', host(c.address),
                                  'routing_domain', d.name)
        FROM carried c
        JOIN located l ON l.rd = c.rd AND l.address = c.address
        JOIN routing_domains d ON d.id = c.rd
        WHERE l.site_id IS NOT NULL
        UNION ALL
        -- vlan: the VLAN of the most specific prefix with one, mapped to a site by a rule ...
        SELECT c.et, c.id, r.site_id, 'vlan', r.confidence,
               jsonb_build_object('rule', 'prefix vlan', 'rule_id', r.id, 'vlan', l.vlan_id,
                                  'prefix', l.vlan_cidr::text, 'address', host(c.address))
        FROM carried c
        JOIN located l ON l.rd = c.rd AND l.address = c.address
        JOIN site_rules r ON r.method = 'vlan' AND r.vlan_id = l.vlan_id
        UNION ALL
        -- ... or the VLAN a VM's port group names ("VLAN120", "vlan-120", "VL_120").
        SELECT 'virtual_machine', v.id, r.site_id, 'vlan', r.confidence,
               jsonb_build_object('rule', 'port group vlan', 'rule_id', r.id, 'vlan', r.vlan_id,
                                  'network', n.network)
        FROM virtual_machines v
        CROSS JOIN LATERAL (SELECT e ->> 'network' AS network FROM jsonb_array_elements(v.nics) e
                            WHERE jsonb_typeof(e) = 'object') n
        JOIN site_rules r ON r.method = 'vlan'
                          AND r.vlan_id = substring(lower(n.network) FROM 'vl(?:an)?[ _-]?([0-9]{1,4})')::int
        WHERE v.removed_at IS NULL
        UNION ALL
        -- dns: host name patterns.
        SELECT n.et, n.id, r.site_id, 'dns', r.confidence,
               jsonb_build_object('rule', 'name pattern', 'rule_id', r.id, 'pattern', r.pattern,
                                  'field', n.field, 'name', n.name)
        FROM names n JOIN site_rules r ON r.method = 'dns' AND n.name ~* r.pattern
    ),
    -- One opinion per entity, method and site: the most confident evidence.
    best AS (
        SELECT DISTINCT ON (c.et, c.id, c.how, c.site_id) c.et, c.id, c.how, c.site_id, c.confidence, c.evidence
        FROM candidates c
        ORDER BY c.et, c.id, c.how, c.site_id, c.confidence DESC, c.evidence::text
    ),
    up AS (
        INSERT INTO site_inferences AS i (entity_type, entity_id, site_id, method, confidence, evidence)
        SELECT b.et, b.id, b.site_id, b.how, b.confidence, b.evidence FROM best b
        ON CONFLICT ON CONSTRAINT site_inferences_entity_method_key DO UPDATE
            SET confidence = EXCLUDED.confidence, evidence = EXCLUDED.evidence
            WHERE i.confidence IS DISTINCT FROM EXCLUDED.confidence OR i.evidence IS DISTINCT FROM EXCLUDED.evidence
        RETURNING i.method
    ),
    gone AS (
        DELETE FROM site_inferences i
        WHERE i.method <> 'manual'
          AND NOT EXISTS (SELECT 1 FROM best b WHERE b.et = i.entity_type AND b.id = i.entity_id
                                                 AND b.how = i.method AND b.site_id = i.site_id)
        RETURNING i.method
    )
    SELECT m.m,
           CASE WHEN m.m = 'manual' THEN (SELECT count(*) FROM site_inferences i WHERE i.method = 'manual')
                ELSE (SELECT count(*) FROM best b WHERE b.how = m.m) END,
           (SELECT count(*) FROM up WHERE up.method = m.m),
           (SELECT count(*) FROM gone WHERE gone.method = m.m)
    FROM unnest(enum_range(NULL::inference_method)) m(m);
END
$fn$;

-- ---------------------------------------------------------------------------------
-- IPAM: addresses, blocks, the hierarchy.

-- An assignment is one address (/32, /128) or a planned block without host bits, so
-- that it is a CIDR block like everything else the free-space arithmetic handles.
ALTER TABLE ip_assignments ADD CONSTRAINT ip_assignments_address_aligned CHECK (network(address)::inet = address);

-- Live observations by (domain, address), in order, with the MAC: duplicate detection,
-- free space and per-prefix counts read this index alone.
CREATE INDEX ip_observations_live_idx ON ip_observations (routing_domain_id, address) INCLUDE (mac_address)
    WHERE gone_at IS NULL;
CREATE INDEX ip_observations_live_mac_idx ON ip_observations (routing_domain_id, mac_address) INCLUDE (entity_id)
    WHERE gone_at IS NULL AND mac_address IS NOT NULL;

-- How many addresses a block holds (numeric: an IPv6 /0 holds 2^128).
CREATE FUNCTION ipam_address_count(p cidr) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN family(p) = 4 THEN (1::int8 << (32 - masklen(p)))::numeric
                WHEN masklen(p) >= 66 THEN (1::int8 << (128 - masklen(p)))::numeric
                ELSE power(2::numeric, 128 - masklen(p)) END
$$;

-- How many host addresses a prefix offers. IPv4: all but network and broadcast, except
-- /31 (RFC 3021: both usable) and /32. IPv6: all but the Subnet-Router anycast address
-- (RFC 4291 2.6.1), except /127 (RFC 6164: both usable) and /128.
CREATE FUNCTION ipam_usable_count(p cidr) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN family(p) = 4 AND masklen(p) >= 31 THEN ipam_address_count(p)
                WHEN family(p) = 6 AND masklen(p) >= 127 THEN ipam_address_count(p)
                WHEN family(p) = 4 THEN ipam_address_count(p) - 2
                ELSE ipam_address_count(p) - 1 END
$$;

-- Whether the allocator of single addresses must skip `a` in prefix `p` (see above).
CREATE FUNCTION ipam_is_reserved(p cidr, a inet) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN family(p) = 4 AND masklen(p) <= 30
                    THEN set_masklen(a, 32) IN (set_masklen(p::inet, 32), set_masklen(broadcast(p), 32))
                WHEN family(p) = 6 AND masklen(p) <= 126
                    THEN set_masklen(a, 128) = set_masklen(p::inet, 128)
                ELSE false END
$$;

-- The last address of a block, as a host address.
CREATE FUNCTION ipam_last_address(p cidr) RETURNS inet
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT set_masklen(broadcast(p), CASE family(p) WHEN 4 THEN 32 ELSE 128 END)
$$;

-- The most specific prefix of a routing domain holding an address (or block).
CREATE FUNCTION ipam_containing_prefix(p_domain uuid, p_address inet) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT p.id FROM prefixes p
    WHERE p.routing_domain_id = p_domain AND p.cidr >>= p_address
    ORDER BY masklen(p.cidr) DESC LIMIT 1
$$;

-- Keep ip_assignments.prefix_id pointing at a prefix of the same routing domain that
-- holds the address; left empty, it is the most specific such prefix.
CREATE FUNCTION place_ip_assignment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.prefix_id IS NULL THEN
        NEW.prefix_id := ipam_containing_prefix(NEW.routing_domain_id, NEW.address);
    ELSIF NOT EXISTS (SELECT 1 FROM prefixes p WHERE p.id = NEW.prefix_id
                        AND p.routing_domain_id = NEW.routing_domain_id AND p.cidr >>= NEW.address) THEN
        RAISE EXCEPTION 'address % is not inside prefix % of its routing domain', NEW.address, NEW.prefix_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ip_assignments_prefix_contains';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ip_assignments_prefix_contains BEFORE INSERT OR UPDATE OF address, prefix_id, routing_domain_id
    ON ip_assignments FOR EACH ROW EXECUTE FUNCTION place_ip_assignment();

-- The hierarchy, derived by containment within each routing domain: a prefix's parent is
-- the most specific other prefix of its domain containing it; depth counts its ancestors.
CREATE VIEW prefix_tree WITH (security_invoker = true) AS
SELECT p.id, p.routing_domain_id, p.cidr, p.site_id, p.vlan_id, p.status, p.description,
       p.utilization_threshold, p.created_by, p.created_at, p.updated_at,
       parent.id AS parent_id,
       (SELECT count(*) FROM prefixes a WHERE a.routing_domain_id = p.routing_domain_id AND a.cidr >> p.cidr)::int AS depth
FROM prefixes p
LEFT JOIN LATERAL (SELECT q.id FROM prefixes q
                   WHERE q.routing_domain_id = p.routing_domain_id AND q.cidr >> p.cidr
                   ORDER BY masklen(q.cidr) DESC LIMIT 1) parent ON true;

-- Utilization of prefixes (all of them when p_ids is NULL), from both sides, shown side
-- by side: planned = addresses in planned assignments (a block counts its size);
-- observed = distinct addresses seen live; both against the usable addresses. Child
-- coverage = the share of the prefix's space its child prefixes take. The overall
-- utilization is the largest of the three: whichever says the prefix is fuller.
CREATE FUNCTION prefix_utilization(p_ids uuid[] DEFAULT NULL)
RETURNS TABLE (prefix_id uuid, addresses numeric, usable numeric, planned numeric, observed bigint,
               child_prefixes bigint, child_addresses numeric,
               planned_ratio float8, observed_ratio float8, child_ratio float8, utilization float8)
LANGUAGE sql STABLE AS $$
    SELECT p.id, ipam_address_count(p.cidr), u.usable, pl.planned, ob.observed, ch.n, ch.covered,
           (pl.planned / u.usable)::float8, (ob.observed / u.usable)::float8,
           (ch.covered / ipam_address_count(p.cidr))::float8,
           greatest(pl.planned / u.usable, ob.observed / u.usable, ch.covered / ipam_address_count(p.cidr))::float8
    FROM prefixes p
    CROSS JOIN LATERAL (SELECT greatest(ipam_usable_count(p.cidr), 1) AS usable) u
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(ipam_address_count(network(a.address))), 0) AS planned
        FROM ip_assignments a
        WHERE a.routing_domain_id = p.routing_domain_id AND a.address <<= p.cidr
    ) pl
    CROSS JOIN LATERAL (
        SELECT count(*) AS observed FROM (
            SELECT DISTINCT o.address FROM ip_observations o
            WHERE o.routing_domain_id = p.routing_domain_id AND o.gone_at IS NULL
              AND o.address >= p.cidr::inet AND o.address <= ipam_last_address(p.cidr)
        ) d
    ) ob
    CROSS JOIN LATERAL (
        -- Direct children: those not inside an earlier child (blocks nest or are disjoint).
        SELECT count(*) FILTER (WHERE k.top) AS n,
               coalesce(sum(ipam_address_count(k.cidr)) FILTER (WHERE k.top), 0) AS covered
        FROM (SELECT c.cidr,
                     coalesce(c.cidr::inet > max(ipam_last_address(c.cidr)) OVER
                                  (ORDER BY c.cidr ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS top
              FROM prefixes c
              WHERE c.routing_domain_id = p.routing_domain_id
                AND c.cidr > p.cidr AND c.cidr <= ipam_last_address(p.cidr)::cidr) k
    ) ch
    WHERE p_ids IS NULL OR p.id = ANY (p_ids)
$$;

-- floor(log2(x)) for 0 < x <= 2^62: float arithmetic corrected to the exact answer.
-- Not STRICT so that it is inlined.
CREATE FUNCTION ipam_log2(x int8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(ln(x::float8) / 0.6931471805599453)::int
           + CASE WHEN floor(ln(x::float8) / 0.6931471805599453)::int < 62
                   AND (1::int8 << (floor(ln(x::float8) / 0.6931471805599453)::int + 1)) <= x THEN 1
                  WHEN (1::int8 << floor(ln(x::float8) / 0.6931471805599453)::int) > x THEN -1
                  ELSE 0 END
$$;

-- Free space when offsets from the prefix's first address fit in int8 (IPv4; IPv6 /66
-- and longer). Children and planned assignments are read in one pass; the gaps between
-- them are then probed for observed addresses (everything seen inside a child prefix
-- belongs to the child), split at those, and cut into maximal aligned blocks.
CREATE FUNCTION ipam_free_blocks_small(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
LANGUAGE plpgsql STABLE SET jit = off AS $fn$
DECLARE
    w         int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    bits      int := (CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END) - masklen(p_cidr);
    last      int8;
    last_addr inet := set_masklen(broadcast(p_cidr), CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    base      inet := set_masklen(p_cidr::inet, CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
BEGIN
    last := (1::int8 << bits) - 1;
    RETURN QUERY
    WITH RECURSIVE taken AS (
        -- Child prefixes: the btree range (cidr > P AND cidr <= P's last address) is
        -- exactly the strict subnets of P.
        SELECT c.cidr - p_cidr AS s, (c.cidr - p_cidr) + ((1::int8 << (w - masklen(c.cidr))) - 1) AS e
        FROM prefixes c
        WHERE c.routing_domain_id = p_domain AND c.cidr > p_cidr AND c.cidr <= last_addr::cidr
        UNION ALL
        -- Planned assignments inside P (addresses and blocks) ...
        SELECT network(x.address) - p_cidr, least(set_masklen(broadcast(x.address), w) - p_cidr, last)
        FROM ip_assignments x
        WHERE x.routing_domain_id = p_domain AND x.address >= p_cidr::inet AND x.address <= last_addr
        UNION ALL
        -- ... and a planned block covering all of P.
        SELECT 0, last FROM ip_assignments x WHERE x.routing_domain_id = p_domain AND x.address >> p_cidr
    ),
    gaps1 AS (
        SELECT coalesce(r.prev_e + 1, 0) AS a, r.s - 1 AS b
        FROM (SELECT t.s, max(t.e) OVER (ORDER BY t.s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
              FROM taken t) r
        WHERE r.s > coalesce(r.prev_e + 1, 0)
        UNION ALL
        SELECT coalesce(max(t.e) + 1, 0), last FROM taken t HAVING coalesce(max(t.e), -1) < last
    ),
    gaps AS (
        SELECT sg.a, sg.b
        FROM gaps1 g
        CROSS JOIN LATERAL (
            SELECT array_agg(o.address - base) AS xs FROM ip_observations o
            WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL
              AND o.address >= base + g.a AND o.address <= base + g.b
        ) seen
        CROSS JOIN LATERAL (
            SELECT g.a, g.b WHERE seen.xs IS NULL
            UNION ALL
            SELECT t.lo + 1, t.hi - 1
            FROM (SELECT v AS lo, lead(v) OVER (ORDER BY v) AS hi
                  FROM unnest(g.a - 1 || seen.xs || g.b + 1) v WHERE seen.xs IS NOT NULL) t
            WHERE t.hi - t.lo > 1
        ) sg
    ),
    -- A gap that is one aligned block (the common case) is that block; the others are cut
    -- greedily from their start into the largest aligned block that fits.
    sized AS (SELECT g.a, g.b, g.b - g.a + 1 AS size FROM gaps g),
    blocks AS (
        SELECT z.a AS x, z.b, ipam_log2(z.size) AS k, true AS done
        FROM sized z WHERE (z.size & (z.size - 1)) = 0 AND (z.a & (z.size - 1)) = 0
        UNION ALL
        SELECT z.a, z.b, least(CASE WHEN z.a = 0 THEN bits ELSE ipam_log2(z.a & -z.a) END, ipam_log2(z.size)), false
        FROM sized z WHERE NOT ((z.size & (z.size - 1)) = 0 AND (z.a & (z.size - 1)) = 0)
        UNION ALL
        SELECT n.x, bl.b, least(ipam_log2(n.x & -n.x), ipam_log2(bl.b - n.x + 1)), false
        FROM blocks bl, LATERAL (SELECT bl.x + (1::int8 << bl.k) AS x) n
        WHERE NOT bl.done AND n.x <= bl.b
    )
    SELECT set_masklen(p_cidr + bl.x, w - bl.k)::cidr FROM blocks bl ORDER BY bl.x;
END
$fn$;

-- The same for prefixes too large for int8 offsets (IPv6 shorter than /66), in inet
-- arithmetic: gap ends are host addresses; blocks are found level by level, where only
-- the first and the last block of a level inside a gap can be maximal.
CREATE FUNCTION ipam_free_blocks_large(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
LANGUAGE plpgsql STABLE SET jit = off AS $fn$
DECLARE
    w     int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    plen  int := masklen(p_cidr);
    first inet := set_masklen(p_cidr::inet, CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    last  inet := set_masklen(broadcast(p_cidr), CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
BEGIN
    RETURN QUERY
    WITH taken AS (
        SELECT set_masklen(c.cidr::inet, w) AS s, set_masklen(broadcast(c.cidr), w) AS e
        FROM prefixes c
        WHERE c.routing_domain_id = p_domain AND c.cidr > p_cidr AND c.cidr <= last::cidr
        UNION ALL
        SELECT set_masklen(network(x.address)::inet, w), least(set_masklen(broadcast(x.address), w), last)
        FROM ip_assignments x
        WHERE x.routing_domain_id = p_domain AND x.address >= p_cidr::inet AND x.address <= last
        UNION ALL
        SELECT first, last FROM ip_assignments x WHERE x.routing_domain_id = p_domain AND x.address >> p_cidr
    ),
    gaps1 AS (
        -- prev_e + 1 < s, guarded so that no arithmetic leaves the address family.
        SELECT CASE WHEN r.prev_e IS NULL THEN first ELSE r.prev_e + 1 END AS a, r.s - 1 AS b
        FROM (SELECT t.s, max(t.e) OVER (ORDER BY t.s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
              FROM taken t) r
        WHERE CASE WHEN r.prev_e IS NULL THEN r.s > first WHEN r.prev_e >= r.s THEN false ELSE r.prev_e + 1 < r.s END
        UNION ALL
        SELECT CASE WHEN max(t.e) IS NULL THEN first ELSE max(t.e) + 1 END, last
        FROM taken t HAVING max(t.e) IS NULL OR max(t.e) < last
    ),
    gaps AS (
        SELECT sg.a, sg.b
        FROM gaps1 g
        CROSS JOIN LATERAL (
            SELECT array_agg(DISTINCT o.address) AS xs FROM ip_observations o
            WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL AND o.address >= g.a AND o.address <= g.b
        ) seen
        CROSS JOIN LATERAL (
            SELECT g.a, g.b WHERE seen.xs IS NULL
            UNION ALL
            SELECT v.lo, v.hi FROM (
                SELECT CASE WHEN q.prev IS NULL THEN g.a ELSE q.prev + 1 END AS lo, q.x - 1 AS hi
                FROM (SELECT x, lag(x) OVER (ORDER BY x) AS prev FROM unnest(seen.xs) x WHERE seen.xs IS NOT NULL) q
                WHERE CASE WHEN q.prev IS NULL THEN q.x > g.a ELSE q.prev + 1 < q.x END
                UNION ALL
                SELECT max(x) + 1, g.b FROM unnest(seen.xs) x WHERE seen.xs IS NOT NULL HAVING max(x) < g.b
            ) v
        ) sg
    ),
    spans AS (SELECT g.a, g.b, inet_merge(g.a, g.b) AS hull FROM gaps g)
    SELECT z.blk FROM (
        SELECT sp.hull AS blk FROM spans sp
        WHERE set_masklen(sp.hull::inet, w) = sp.a AND set_masklen(broadcast(sp.hull), w) = sp.b
        UNION
        SELECT k.blk
        FROM spans sp,
        LATERAL (SELECT masklen(sp.hull) AS lc,
                        CASE WHEN sp.a = first THEN plen ELSE masklen(inet_merge(sp.a - 1, sp.a)) + 1 END AS la,
                        CASE WHEN sp.b = last THEN plen ELSE masklen(inet_merge(sp.b, sp.b + 1)) + 1 END AS lb) m,
        LATERAL generate_series(m.lc + 1, greatest(m.la, m.lb)) AS l,
        LATERAL (VALUES (set_masklen(sp.a, l)::cidr), (set_masklen(sp.b, l)::cidr)) edge(blk),
        LATERAL (SELECT CASE WHEN set_masklen(edge.blk::inet, w) < sp.a THEN set_masklen(broadcast(edge.blk), w) + 1
                             WHEN set_masklen(broadcast(edge.blk), w) > sp.b THEN set_masklen(edge.blk::inet, w) - 1
                             ELSE set_masklen(edge.blk::inet, w) END AS start) c,
        LATERAL (SELECT set_masklen(c.start, l)::cidr AS blk) k
        WHERE NOT (set_masklen(sp.hull::inet, w) = sp.a AND set_masklen(broadcast(sp.hull), w) = sp.b)
          AND set_masklen(k.blk::inet, w) >= sp.a AND set_masklen(broadcast(k.blk), w) <= sp.b
          AND NOT (set_masklen(set_masklen(k.blk, l - 1)::cidr::inet, w) >= sp.a
                   AND set_masklen(broadcast(set_masklen(k.blk, l - 1)), w) <= sp.b)
    ) z
    ORDER BY z.blk;
END
$fn$;

CREATE FUNCTION available_ranges(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
LANGUAGE plpgsql STABLE SET jit = off AS $fn$
BEGIN
    IF p_domain IS NULL OR p_cidr IS NULL THEN
        RETURN;
    END IF;
    IF (CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END) - masklen(p_cidr) <= 62 THEN
        RETURN QUERY SELECT b.range FROM ipam_free_blocks_small(p_domain, p_cidr) b;
    ELSE
        RETURN QUERY SELECT b.range FROM ipam_free_blocks_large(p_domain, p_cidr) b;
    END IF;
END
$fn$;

-- The free space of a prefix, as the smallest set of CIDR blocks in address order.
CREATE FUNCTION available_ranges(p_prefix uuid) RETURNS TABLE (range cidr)
LANGUAGE sql STABLE AS $$
    SELECT a.range FROM prefixes p CROSS JOIN LATERAL available_ranges(p.routing_domain_id, p.cidr) a
    WHERE p.id = p_prefix
$$;

-- Allocation. One advisory lock per prefix allocated from serializes allocators, and
-- the free space is read after the lock is held, so concurrent callers never get the
-- same address or block (the unique constraints would refuse it anyway).
CREATE FUNCTION ipam_lock_prefix(p_prefix uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('eio:ipam:prefix:' || p_prefix::text, 0))
$$;

CREATE FUNCTION ipam_allocatable_prefix(p_prefix uuid) RETURNS prefixes
LANGUAGE plpgsql STABLE AS $$
DECLARE
    pf prefixes;
BEGIN
    SELECT * INTO pf FROM prefixes WHERE id = p_prefix;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no prefix with id %', p_prefix USING ERRCODE = 'no_data_found';
    END IF;
    IF pf.status = 'deprecated' THEN
        RAISE EXCEPTION 'prefix % is deprecated: nothing more is allocated from it', pf.cidr
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN pf;
END
$$;

-- The next free address of a prefix (lowest first, skipping reserved addresses and
-- whatever is planned, seen or inside a child prefix), planned for the caller.
CREATE FUNCTION allocate_ip(
    p_prefix      uuid,
    p_hostname    text DEFAULT NULL,
    p_description text DEFAULT NULL,
    p_mac         macaddr DEFAULT NULL,
    p_status      assignment_status DEFAULT 'planned'
) RETURNS ip_assignments
LANGUAGE plpgsql AS $$
DECLARE
    pf   prefixes;
    w    int;
    addr inet;
    r    ip_assignments;
BEGIN
    pf := ipam_allocatable_prefix(p_prefix);
    w := CASE family(pf.cidr) WHEN 4 THEN 32 ELSE 128 END;
    PERFORM ipam_lock_prefix(pf.id);
    SELECT c.a INTO addr
    FROM available_ranges(pf.routing_domain_id, pf.cidr) f
    CROSS JOIN LATERAL (SELECT set_masklen(f.range::inet, w) AS a
                        UNION ALL
                        SELECT set_masklen(f.range::inet, w) + 1 WHERE masklen(f.range) < w) c
    WHERE NOT ipam_is_reserved(pf.cidr, c.a)
    ORDER BY c.a
    LIMIT 1;
    IF addr IS NULL THEN
        RAISE EXCEPTION 'prefix % has no free address', pf.cidr USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO ip_assignments (routing_domain_id, prefix_id, address, status, hostname, description, mac_address, created_by)
    VALUES (pf.routing_domain_id, pf.id, addr, coalesce(p_status, 'planned'), p_hostname, p_description, p_mac,
            current_app_user_id())
    RETURNING * INTO r;
    RETURN r;
END
$$;

-- The next free /N of a prefix (lowest first), created as a child prefix in the same
-- routing domain and site.
CREATE FUNCTION allocate_prefix(
    p_prefix      uuid,
    p_length      integer,
    p_status      prefix_status DEFAULT 'active',
    p_description text DEFAULT NULL,
    p_vlan_id     integer DEFAULT NULL
) RETURNS prefixes
LANGUAGE plpgsql AS $$
DECLARE
    pf  prefixes;
    blk cidr;
    r   prefixes;
BEGIN
    pf := ipam_allocatable_prefix(p_prefix);
    IF p_length IS NULL OR p_length <= masklen(pf.cidr) OR p_length > (CASE family(pf.cidr) WHEN 4 THEN 32 ELSE 128 END) THEN
        RAISE EXCEPTION 'a /% does not fit inside %: the length must be between % and %', p_length, pf.cidr,
            masklen(pf.cidr) + 1, CASE family(pf.cidr) WHEN 4 THEN 32 ELSE 128 END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM ipam_lock_prefix(pf.id);
    SELECT set_masklen(f.range, p_length)::cidr INTO blk
    FROM available_ranges(pf.routing_domain_id, pf.cidr) f
    WHERE masklen(f.range) <= p_length
    ORDER BY f.range
    LIMIT 1;
    IF blk IS NULL THEN
        RAISE EXCEPTION 'prefix % has no free /%', pf.cidr, p_length USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO prefixes (routing_domain_id, cidr, site_id, vlan_id, status, description, created_by)
    VALUES (pf.routing_domain_id, blk, pf.site_id, p_vlan_id, coalesce(p_status, 'active'), p_description,
            current_app_user_id())
    RETURNING * INTO r;
    RETURN r;
END
$$;

-- ---------------------------------------------------------------------------------
-- Findings.

-- An acknowledgement says why (the RLS policy of 0008 already says it is your own).
ALTER TABLE ipam_findings ADD CONSTRAINT ipam_findings_ack_has_note
    CHECK (acknowledged_at IS NULL OR btrim(coalesce(acknowledge_note, '')) <> '');

-- Every run of the findings engine: when, how long, what changed, what is open.
CREATE TABLE finding_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    duration_ms  bigint NOT NULL CONSTRAINT finding_runs_duration_nonnegative CHECK (duration_ms >= 0),
    run_by       name NOT NULL DEFAULT session_user,
    opened       integer NOT NULL,
    reopened     integer NOT NULL,
    resolved     integer NOT NULL,
    open_total   integer NOT NULL,
    -- {"duplicate_usage": 2, "seen_not_planned": 17, ...}
    open_by_type jsonb NOT NULL DEFAULT '{}' CONSTRAINT finding_runs_open_by_type_object CHECK (jsonb_typeof(open_by_type) = 'object')
);
CREATE INDEX finding_runs_started_at_idx ON finding_runs (started_at);

-- The findings engine: after every sync and on demand. Each condition is one set-based
-- query; together they are upserted by (type, subject_key) exactly like
-- refresh_credential_findings() (called first): a finding that clears gets resolved_at,
-- one that returns reopens the same row (reopened_count + 1, its acknowledgement cleared:
-- an acknowledgement covers one occurrence). Only prefix findings set prefix_id (which
-- cascades when the prefix goes); address findings name their prefix in details.
--
--   duplicate_usage        error    one address, two or more MACs, live, same routing domain
--   mac_conflict           warning  one MAC on two or more carriers in a routing domain, or
--                                   an address seen with a MAC other than the planned one
--   outside_any_prefix     warning  a live address no prefix of its routing domain holds
--   seen_not_planned       warning  a live address without an assignment, in a prefix that
--                                   is managed address by address (its most specific
--                                   prefix holds assignments); elsewhere what is observed
--                                   is the record, and flagging every address would bury
--                                   the findings that matter
--   planned_not_seen       info     a planned address, planned longer than p_planned_grace
--                                   ago, that nothing reports (any more)
--   prefix_over_threshold  warning  an active prefix whose utilization (prefix_utilization)
--                                   exceeds its threshold; error when full
CREATE FUNCTION run_ipam_findings(p_planned_grace interval DEFAULT interval '1 day') RETURNS finding_runs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    started  timestamptz := clock_timestamp();
    n_opened integer;
    n_reopened integer;
    n_resolved integer;
    run      finding_runs;
BEGIN
    -- One run at a time: a second caller waits, then runs on what the first one left.
    PERFORM pg_advisory_xact_lock(hashtextextended('eio:ipam:findings', 0));
    PERFORM refresh_credential_findings();

    WITH dup AS (
        SELECT o.routing_domain_id AS rd, o.address
        FROM ip_observations o
        WHERE o.gone_at IS NULL AND o.mac_address IS NOT NULL
        GROUP BY o.routing_domain_id, o.address
        HAVING count(DISTINCT o.mac_address) > 1
    ),
    mac_dup AS (
        SELECT o.routing_domain_id AS rd, o.mac_address AS mac
        FROM ip_observations o
        WHERE o.gone_at IS NULL AND o.mac_address IS NOT NULL
        GROUP BY o.routing_domain_id, o.mac_address
        HAVING count(DISTINCT o.entity_id) > 1
    ),
    mac_mismatch AS (
        SELECT a.routing_domain_id AS rd, a.address, a.prefix_id, a.mac_address AS planned_mac, a.hostname,
               jsonb_agg(DISTINCT o.mac_address::text) AS seen_macs
        FROM ip_assignments a
        JOIN ip_observations o ON o.routing_domain_id = a.routing_domain_id AND o.address = a.address
                              AND o.gone_at IS NULL AND o.mac_address IS NOT NULL AND o.mac_address <> a.mac_address
        WHERE a.mac_address IS NOT NULL
        GROUP BY a.routing_domain_id, a.address, a.prefix_id, a.mac_address, a.hostname
    ),
    outside AS (
        SELECT DISTINCT o.routing_domain_id AS rd, o.address
        FROM ip_observations o
        WHERE o.gone_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM prefixes p
                          WHERE p.routing_domain_id = o.routing_domain_id AND p.cidr >>= o.address)
    ),
    managed AS (
        SELECT p.id, p.routing_domain_id AS rd, p.cidr
        FROM prefixes p
        WHERE EXISTS (SELECT 1 FROM ip_assignments a WHERE a.prefix_id = p.id)
    ),
    unplanned AS (
        SELECT DISTINCT ON (o.routing_domain_id, o.address) o.routing_domain_id AS rd, o.address, m.id AS prefix_id,
               m.cidr
        FROM managed m
        JOIN ip_observations o ON o.routing_domain_id = m.rd AND o.gone_at IS NULL
                              AND o.address >= m.cidr::inet AND o.address <= ipam_last_address(m.cidr)
        WHERE NOT EXISTS (SELECT 1 FROM ip_assignments a
                          WHERE a.routing_domain_id = o.routing_domain_id AND a.address >>= o.address)
          AND NOT EXISTS (SELECT 1 FROM prefixes c
                          WHERE c.routing_domain_id = m.rd AND c.cidr << m.cidr AND c.cidr >>= o.address)
        ORDER BY o.routing_domain_id, o.address, masklen(m.cidr) DESC
    ),
    unseen AS (
        SELECT a.routing_domain_id AS rd, a.address, a.prefix_id, a.hostname, a.created_at,
               (SELECT max(o.last_seen) FROM ip_observations o
                WHERE o.routing_domain_id = a.routing_domain_id AND o.address = a.address) AS last_seen
        FROM ip_assignments a
        WHERE a.status = 'planned'
          AND masklen(a.address) = CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END
          AND a.created_at < now() - coalesce(p_planned_grace, interval '0')
          AND NOT EXISTS (SELECT 1 FROM ip_observations o
                          WHERE o.routing_domain_id = a.routing_domain_id AND o.address = a.address
                            AND o.gone_at IS NULL)
    ),
    full_prefixes AS (
        SELECT p.id, p.routing_domain_id AS rd, p.cidr, p.utilization_threshold, u.*
        FROM prefixes p
        JOIN prefix_utilization(NULL) u ON u.prefix_id = p.id
        WHERE p.status = 'active' AND u.utilization > p.utilization_threshold
    ),
    -- Who carries an address (for the details of the address findings).
    carriers AS (
        SELECT k.rd, k.address,
               jsonb_agg(jsonb_build_object('entity_type', o.entity_type, 'entity_id', o.entity_id,
                                            'name', entity_label(o.entity_type, o.entity_id),
                                            'source', o.source, 'mac', o.mac_address::text,
                                            'hostname', o.hostname, 'last_seen', o.last_seen)
                         ORDER BY o.mac_address, o.entity_type, o.entity_id, o.source) AS carriers,
               count(DISTINCT o.mac_address) AS macs
        FROM (SELECT rd, address FROM dup UNION SELECT rd, address FROM unplanned) k
        JOIN ip_observations o ON o.routing_domain_id = k.rd AND o.address = k.address AND o.gone_at IS NULL
        GROUP BY k.rd, k.address
    ),
    cur AS MATERIALIZED (
        SELECT 'duplicate_usage'::finding_type AS type, 'error'::finding_severity AS severity,
               d.rd::text || '/' || host(d.address) AS subject_key, d.rd AS routing_domain_id,
               NULL::uuid AS prefix_id, d.address,
               format('%s is in use by %s different MAC addresses in routing domain %s',
                      host(d.address), c.macs, rd.name) AS message,
               jsonb_build_object('routing_domain', rd.name,
                                  'prefix', (SELECT p.cidr::text FROM prefixes p
                                             WHERE p.id = ipam_containing_prefix(d.rd, d.address)),
                                  'carriers', c.carriers) AS details
        FROM dup d JOIN routing_domains rd ON rd.id = d.rd
        JOIN carriers c ON c.rd = d.rd AND c.address = d.address
        UNION ALL
        SELECT 'mac_conflict', 'warning', 'mac/' || m.rd::text || '/' || m.mac::text, m.rd, NULL, NULL,
               format('MAC address %s is reported by %s different carriers in routing domain %s',
                      m.mac, x.n, rd.name),
               jsonb_build_object('routing_domain', rd.name, 'mac', m.mac::text, 'carriers', x.carriers)
        FROM mac_dup m JOIN routing_domains rd ON rd.id = m.rd
        CROSS JOIN LATERAL (
            SELECT count(DISTINCT o.entity_id) AS n,
                   jsonb_agg(jsonb_build_object('entity_type', o.entity_type, 'entity_id', o.entity_id,
                                                'name', entity_label(o.entity_type, o.entity_id),
                                                'address', host(o.address), 'source', o.source)
                             ORDER BY o.entity_type, o.entity_id, o.address, o.source) AS carriers
            FROM ip_observations o
            WHERE o.routing_domain_id = m.rd AND o.mac_address = m.mac AND o.gone_at IS NULL
        ) x
        UNION ALL
        SELECT 'mac_conflict', 'warning', 'planned/' || m.rd::text || '/' || host(m.address), m.rd, NULL,
               m.address,
               format('%s is planned for MAC %s but seen with %s', host(m.address), m.planned_mac,
                      (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(m.seen_macs) v)),
               jsonb_build_object('routing_domain', rd.name, 'planned_mac', m.planned_mac::text,
                                  'seen_macs', m.seen_macs, 'hostname', m.hostname,
                                  'prefix', (SELECT p.cidr::text FROM prefixes p WHERE p.id = m.prefix_id))
        FROM mac_mismatch m JOIN routing_domains rd ON rd.id = m.rd
        UNION ALL
        SELECT 'outside_any_prefix', 'warning', o.rd::text || '/' || host(o.address), o.rd, NULL, o.address,
               format('%s is in use but no prefix of routing domain %s holds it', host(o.address), rd.name),
               jsonb_build_object('routing_domain', rd.name)
        FROM outside o JOIN routing_domains rd ON rd.id = o.rd
        UNION ALL
        SELECT 'seen_not_planned', 'warning', u.rd::text || '/' || host(u.address), u.rd, NULL, u.address,
               format('%s is in use in %s but not planned', host(u.address), u.cidr),
               jsonb_build_object('routing_domain', rd.name, 'prefix', u.cidr::text, 'carriers', c.carriers)
        FROM unplanned u JOIN routing_domains rd ON rd.id = u.rd
        JOIN carriers c ON c.rd = u.rd AND c.address = u.address
        UNION ALL
        SELECT 'planned_not_seen', 'info', n.rd::text || '/' || host(n.address), n.rd, NULL, n.address,
               format('%s is planned%s since %s but nothing reports it%s', host(n.address),
                      coalesce(' for ' || n.hostname, ''), to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                      CASE WHEN n.last_seen IS NULL THEN '' ELSE ' any more' END),
               jsonb_build_object('routing_domain', rd.name, 'hostname', n.hostname, 'planned_at', n.created_at,
                                  'last_seen', n.last_seen,
                                  'prefix', (SELECT p.cidr::text FROM prefixes p WHERE p.id = n.prefix_id))
        FROM unseen n JOIN routing_domains rd ON rd.id = n.rd
        UNION ALL
        SELECT 'prefix_over_threshold', CASE WHEN f.utilization >= 1 THEN 'error' ELSE 'warning' END::finding_severity,
               'prefix/' || f.id::text, f.rd, f.id, f.cidr::inet,
               format('%s in %s is %s%% used (planned %s%%, seen %s%%, child prefixes %s%%; threshold %s%%)',
                      f.cidr, rd.name, round((f.utilization * 100)::numeric, 1),
                      round((f.planned_ratio * 100)::numeric, 1), round((f.observed_ratio * 100)::numeric, 1),
                      round((f.child_ratio * 100)::numeric, 1), round((f.utilization_threshold * 100)::numeric, 1)),
               jsonb_build_object('routing_domain', rd.name, 'prefix', f.cidr::text,
                                  'utilization', f.utilization, 'threshold', f.utilization_threshold,
                                  'planned', f.planned, 'observed', f.observed, 'usable', f.usable,
                                  'child_addresses', f.child_addresses, 'addresses', f.addresses)
        FROM full_prefixes f JOIN routing_domains rd ON rd.id = f.rd
    ),
    prior AS (
        SELECT count(*) FILTER (WHERE f.id IS NULL) AS opened,
               count(*) FILTER (WHERE f.resolved_at IS NOT NULL) AS reopened
        FROM cur c LEFT JOIN ipam_findings f ON f.type = c.type AND f.subject_key = c.subject_key
    ),
    -- Data-modifying CTEs always run to completion; up and res touch disjoint rows.
    up AS (
        INSERT INTO ipam_findings AS f (type, severity, subject_key, routing_domain_id, prefix_id, address, message, details)
        SELECT c.type, c.severity, c.subject_key, c.routing_domain_id, c.prefix_id, c.address, c.message, c.details
        FROM cur c
        ON CONFLICT ON CONSTRAINT ipam_findings_subject_key DO UPDATE
            SET last_seen_at = now(), severity = EXCLUDED.severity, routing_domain_id = EXCLUDED.routing_domain_id,
                prefix_id = EXCLUDED.prefix_id, address = EXCLUDED.address, message = EXCLUDED.message,
                details = EXCLUDED.details,
                resolved_at = NULL,
                reopened_count = f.reopened_count + CASE WHEN f.resolved_at IS NULL THEN 0 ELSE 1 END,
                acknowledged_at = CASE WHEN f.resolved_at IS NULL THEN f.acknowledged_at END,
                acknowledged_by = CASE WHEN f.resolved_at IS NULL THEN f.acknowledged_by END,
                acknowledge_note = CASE WHEN f.resolved_at IS NULL THEN f.acknowledge_note END
    ),
    res AS (
        UPDATE ipam_findings f SET resolved_at = now()
        WHERE f.type <> 'credential_rotation_due' AND f.resolved_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM cur c WHERE c.type = f.type AND c.subject_key = f.subject_key)
        RETURNING 1
    )
    SELECT prior.opened, prior.reopened, (SELECT count(*) FROM res)
    INTO n_opened, n_reopened, n_resolved
    FROM prior;

    INSERT INTO finding_runs (started_at, finished_at, duration_ms, opened, reopened, resolved, open_total, open_by_type)
    SELECT started, clock_timestamp(),
           greatest(0, (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint),
           n_opened, n_reopened, n_resolved, coalesce(sum(t.n), 0), coalesce(jsonb_object_agg(t.type, t.n), '{}')
    FROM (SELECT f.type::text AS type, count(*) AS n FROM ipam_findings f WHERE f.resolved_at IS NULL GROUP BY f.type) t
    RETURNING * INTO run;
    -- The ledger of runs keeps a quarter's worth.
    DELETE FROM finding_runs WHERE started_at < now() - interval '90 days';
    RETURN run;
END
$fn$;

-- ---------------------------------------------------------------------------------
-- Search (src-tauri/core/src/search.rs): GiST trigram indexes answer
-- `ORDER BY query <<-> name LIMIT n` nearest-first (k-nearest-neighbour), which GIN can't;
-- the GIN indexes of 0005 stay for `%` and LIKE filters.
CREATE INDEX virtual_machines_name_trgm_gist ON virtual_machines USING gist (name gist_trgm_ops);
CREATE INDEX virtual_machines_guest_hostname_trgm_gist ON virtual_machines USING gist (guest_hostname gist_trgm_ops)
    WHERE guest_hostname IS NOT NULL;
CREATE INDEX esxi_hosts_name_trgm_gist ON esxi_hosts USING gist (name gist_trgm_ops);
CREATE INDEX physical_servers_hostname_trgm_gist ON physical_servers USING gist (hostname gist_trgm_ops)
    WHERE hostname IS NOT NULL;
CREATE INDEX physical_servers_service_tag_trgm_gist ON physical_servers USING gist (service_tag gist_trgm_ops)
    WHERE service_tag IS NOT NULL;
CREATE INDEX ip_assignments_hostname_trgm_gist ON ip_assignments USING gist (hostname gist_trgm_ops)
    WHERE hostname IS NOT NULL;
-- MACs and management addresses, looked up exactly.
CREATE INDEX virtual_machines_nics_gin ON virtual_machines USING gin (nics jsonb_path_ops);
CREATE INDEX esxi_hosts_management_ips_gin ON esxi_hosts USING gin (management_ips);
CREATE INDEX physical_servers_idrac_mac_idx ON physical_servers (idrac_mac) WHERE idrac_mac IS NOT NULL;

-- ---------------------------------------------------------------------------------
-- Grants. Viewers read; operators plan IPAM (allocate) and run the engines on demand;
-- workers run the engines after every sync; admins manage sites and their rules.
GRANT SELECT ON site_rules, finding_runs, site_placements, site_inference_conflicts, prefix_tree TO eio_viewer;
GRANT INSERT, UPDATE, DELETE ON site_rules TO eio_admin;

GRANT EXECUTE ON FUNCTION
    entity_label(entity_kind, uuid),
    ipam_log2(int8),
    ipam_address_count(cidr),
    ipam_usable_count(cidr),
    ipam_is_reserved(cidr, inet),
    ipam_last_address(cidr),
    ipam_containing_prefix(uuid, inet),
    prefix_utilization(uuid[]),
    ipam_free_blocks_small(uuid, cidr),
    ipam_free_blocks_large(uuid, cidr),
    available_ranges(uuid, cidr),
    available_ranges(uuid)
TO eio_viewer;

GRANT EXECUTE ON FUNCTION
    ipam_lock_prefix(uuid),
    ipam_allocatable_prefix(uuid),
    allocate_ip(uuid, text, text, macaddr, assignment_status),
    allocate_prefix(uuid, integer, prefix_status, text, integer)
TO eio_operator;

GRANT EXECUTE ON FUNCTION refresh_site_inferences(), run_ipam_findings(interval) TO eio_operator, eio_worker;
