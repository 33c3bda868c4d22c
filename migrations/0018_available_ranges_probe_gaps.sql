-- IPAM, continued (0016): back to 0010's free space of IPv4 (and long IPv6) prefixes.
-- 0016 read every observed address inside the prefix as a point of taken space; on a /8
-- whose children hold 1M observed addresses that reads them all (0.05 s -> 0.8 s), where
-- probing the gaps between children reads only what lies in the gaps. The probe per gap
-- costs more only on a prefix with very many gaps (a /8 with 50k scattered children:
-- about a third). Measured with `cargo run -p eio-core --example ipam_bench`.
SET LOCAL ROLE eio_owner;

-- Free space when offsets from the prefix's first address fit in int8 (IPv4; IPv6 /66
-- and longer). Children and planned assignments are read in one pass; the gaps between
-- them are then probed for observed addresses (everything seen inside a child prefix
-- belongs to the child), split at those, and cut into maximal aligned blocks.
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
