-- IPAM, continued (0010): free space of IPv4 (and long IPv6) prefixes without a probe per
-- gap. 0010 read the children and plans, then probed the observations once per gap
-- between them (50k index probes for a /8 with 50k children). Observed addresses are now
-- read in the same pass as points of taken space: one inside a child lies within the
-- child's interval and changes nothing, one in a gap splits it, so the answer is the
-- same, a third faster on a /8 with 50k children. Same signature, owner and grants.
SET LOCAL ROLE eio_owner;

CREATE OR REPLACE FUNCTION ipam_free_blocks_small(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
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
        UNION ALL
        -- ... and every address seen in use inside P.
        SELECT o.address - base, o.address - base FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL AND o.address >= base AND o.address <= last_addr
    ),
    gaps1 AS (
        SELECT coalesce(r.prev_e + 1, 0) AS a, r.s - 1 AS b
        FROM (SELECT t.s, max(t.e) OVER (ORDER BY t.s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
              FROM taken t) r
        WHERE r.s > coalesce(r.prev_e + 1, 0)
        UNION ALL
        SELECT coalesce(max(t.e) + 1, 0), last FROM taken t HAVING coalesce(max(t.e), -1) < last
    ),
    -- A gap that is one aligned block (the common case) is that block; the others are cut
    -- greedily from their start into the largest aligned block that fits.
    sized AS (SELECT g.a, g.b, g.b - g.a + 1 AS size FROM gaps1 g),
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
