-- IPAM, continued (0018): free space with an index probe per *observed* gap, not per gap,
-- and the free spans exposed on their own so the service cuts them into blocks itself.
--
-- 0010/0018 probed ip_observations once for every gap between children: a /8 with 50k
-- scattered children has 50k gaps, and those probes, with the recursive cut into blocks
-- and the sorts around it, took 0.4 s. Now:
--   1. ipam_free_offsets / ipam_free_spans_large (with work_mem for sorting 100k
--      intervals in memory): the top-level taken intervals (children
--      and planned assignments) in start order, the gaps between them by a running max
--      (window function); then a skip scan over the live observations: one probe for
--      "the next observation at or after the current gap", a binary search for the gap
--      holding it (whatever lies between gaps belongs to a child or a plan), and only a gap
--      that does hold observations is read whole and split at them. Nothing observed in
--      the gaps costs one probe. The result: the free spans, first and last address, in
--      address order.
--   2. ipam_free_blocks_small / _large (behind available_ranges): each span cut into
--      maximal aligned CIDR blocks, as before. The service (core/src/ipam/space.rs) reads
--      the spans and cuts them in Rust: 100k blocks are cheaper to build there than to
--      build, sort and send as rows.
-- Same answers: the brute-force tests in core/tests/sites_ipam.rs check both paths.
SET LOCAL ROLE eio_owner;

-- Free spans of a prefix whose offsets from its first address fit in int8 (IPv4; IPv6
-- /66 and longer), as offsets: starts[i]..ends[i], inclusive, ascending.
CREATE FUNCTION ipam_free_offsets(p_domain uuid, p_cidr cidr, OUT starts int8[], OUT ends int8[])
LANGUAGE plpgsql STABLE SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    w         int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    bits      int := (CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END) - masklen(p_cidr);
    last      int8;
    last_addr inet := set_masklen(broadcast(p_cidr), CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    base      inet := set_masklen(p_cidr::inet, CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    ga        int8[];
    gb        int8[];
    -- Pieces of the gaps split by observations (those gaps are set to NULL in ga).
    pa        int8[] := '{}';
    pb        int8[] := '{}';
    seen      int8[];
    n         int;
    i         int := 1;
    lo        int;
    hi        int;
    mid       int;
    x         int8;
    prev      int8;
    v         int8;
    split     boolean := false;
BEGIN
    IF p_domain IS NULL OR p_cidr IS NULL OR bits > 62 THEN
        RETURN;
    END IF;
    last := (1::int8 << bits) - 1;
    -- Fed from a subquery sorted by the window's own order (no second sort).
    SELECT coalesce(array_agg(g.a), '{}'), coalesce(array_agg(g.b), '{}') INTO ga, gb
    FROM (
        SELECT coalesce(r.prev_e + 1, 0) AS a, r.s - 1 AS b
        FROM (SELECT t.s, max(t.e) OVER (ORDER BY t.s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
              FROM (
                  -- Child prefixes: the btree range (cidr > P AND cidr <= P's last address)
                  -- is exactly the strict subnets of P.
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
                  -- A sentinel just past the end closes the last gap.
                  SELECT last + 1, last + 1
              ) t) r
        WHERE r.s > coalesce(r.prev_e + 1, 0)
        ORDER BY r.s
    ) g;
    n := cardinality(ga);

    -- Skip scan (each probe is one descent of the partial btree ip_observations_live_idx).
    WHILE i <= n LOOP
        SELECT o.address - base INTO x
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL
          AND o.address >= base + ga[i] AND o.address <= last_addr
        ORDER BY o.address
        LIMIT 1;
        EXIT WHEN x IS NULL;
        IF x > gb[i] THEN
            -- The first gap ending at or after x.
            lo := i + 1;
            hi := n + 1;
            WHILE lo < hi LOOP
                mid := (lo + hi) / 2;
                IF gb[mid] >= x THEN hi := mid; ELSE lo := mid + 1; END IF;
            END LOOP;
            i := lo;
            -- x lies in taken space before gap i: probe again from gap i's start.
            CONTINUE WHEN i > n OR x < ga[i];
        END IF;
        -- Gap i holds observed addresses: read them all and keep the pieces between them.
        SELECT array_agg(DISTINCT o.address - base) INTO seen
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL
          AND o.address >= base + ga[i] AND o.address <= base + gb[i];
        prev := ga[i] - 1;
        FOREACH v IN ARRAY seen || (gb[i] + 1) LOOP
            IF v - prev > 1 THEN
                pa := pa || (prev + 1);
                pb := pb || (v - 1);
            END IF;
            prev := v;
        END LOOP;
        ga[i] := NULL;
        split := true;
        i := i + 1;
    END LOOP;

    IF NOT split THEN
        starts := ga;
        ends := gb;
    ELSE
        SELECT coalesce(array_agg(s.a ORDER BY s.a), '{}'), coalesce(array_agg(s.b ORDER BY s.a), '{}')
        INTO starts, ends
        FROM (SELECT g.a, g.b FROM unnest(ga, gb) g(a, b) WHERE g.a IS NOT NULL
              UNION ALL
              SELECT p.a, p.b FROM unnest(pa, pb) p(a, b)) s;
    END IF;
END
$fn$;

-- Free spans of a prefix too large for int8 offsets (IPv6 shorter than /66), in inet
-- arithmetic: first and last address of each span, ascending. Same steps as above.
CREATE FUNCTION ipam_free_spans_large(p_domain uuid, p_cidr cidr) RETURNS TABLE (first inet, last inet)
LANGUAGE plpgsql STABLE SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    w     int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    p0    inet := set_masklen(p_cidr::inet, CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    p1    inet := set_masklen(broadcast(p_cidr), CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    ga    inet[];
    gb    inet[];
    pa    inet[] := '{}';
    pb    inet[] := '{}';
    seen  inet[];
    n     int;
    i     int := 1;
    lo    int;
    hi    int;
    mid   int;
    x     inet;
    v     inet;
    nxt   inet;
BEGIN
    IF p_domain IS NULL OR p_cidr IS NULL THEN
        RETURN;
    END IF;
    WITH taken AS (
        SELECT set_masklen(c.cidr::inet, w) AS s, set_masklen(broadcast(c.cidr), w) AS e
        FROM prefixes c
        WHERE c.routing_domain_id = p_domain AND c.cidr > p_cidr AND c.cidr <= p1::cidr
        UNION ALL
        SELECT set_masklen(network(x.address)::inet, w), least(set_masklen(broadcast(x.address), w), p1)
        FROM ip_assignments x
        WHERE x.routing_domain_id = p_domain AND x.address >= p_cidr::inet AND x.address <= p1
        UNION ALL
        SELECT p0, p1 FROM ip_assignments x WHERE x.routing_domain_id = p_domain AND x.address >> p_cidr
    ),
    gaps AS (
        -- prev_e + 1 < s, guarded so that no arithmetic leaves the address family.
        SELECT CASE WHEN r.prev_e IS NULL THEN p0 ELSE r.prev_e + 1 END AS a, r.s - 1 AS b
        FROM (SELECT t.s, max(t.e) OVER (ORDER BY t.s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
              FROM taken t) r
        WHERE CASE WHEN r.prev_e IS NULL THEN r.s > p0 WHEN r.prev_e >= r.s THEN false ELSE r.prev_e + 1 < r.s END
        UNION ALL
        SELECT CASE WHEN max(t.e) IS NULL THEN p0 ELSE max(t.e) + 1 END, p1
        FROM taken t HAVING max(t.e) IS NULL OR max(t.e) < p1
    )
    SELECT coalesce(array_agg(g.a ORDER BY g.a), '{}'), coalesce(array_agg(g.b ORDER BY g.a), '{}') INTO ga, gb
    FROM gaps g;
    n := cardinality(ga);

    WHILE i <= n LOOP
        SELECT o.address INTO x
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL AND o.address >= ga[i] AND o.address <= p1
        ORDER BY o.address
        LIMIT 1;
        EXIT WHEN x IS NULL;
        IF x > gb[i] THEN
            lo := i + 1;
            hi := n + 1;
            WHILE lo < hi LOOP
                mid := (lo + hi) / 2;
                IF gb[mid] >= x THEN hi := mid; ELSE lo := mid + 1; END IF;
            END LOOP;
            i := lo;
            CONTINUE WHEN i > n OR x < ga[i];
        END IF;
        SELECT array_agg(DISTINCT o.address) INTO seen
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL AND o.address >= ga[i] AND o.address <= gb[i];
        -- nxt: the first address not yet accounted for; never stepped past gb[i].
        nxt := ga[i];
        FOREACH v IN ARRAY seen LOOP
            IF v > nxt THEN
                pa := pa || nxt;
                pb := pb || (v - 1);
            END IF;
            nxt := CASE WHEN v < gb[i] THEN v + 1 END;
        END LOOP;
        IF nxt IS NOT NULL THEN
            pa := pa || nxt;
            pb := pb || gb[i];
        END IF;
        ga[i] := NULL;
        i := i + 1;
    END LOOP;

    RETURN QUERY
    SELECT s.a, s.b
    FROM (SELECT g.a, g.b FROM unnest(ga, gb) g(a, b) WHERE g.a IS NOT NULL
          UNION ALL
          SELECT p.a, p.b FROM unnest(pa, pb) p(a, b)) s
    ORDER BY s.a;
END
$fn$;

-- Free blocks when offsets fit in int8: the spans of ipam_free_offsets, each one aligned
-- block (the common case) or cut greedily from its start into the largest aligned block
-- that fits.
CREATE OR REPLACE FUNCTION ipam_free_blocks_small(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
LANGUAGE plpgsql STABLE SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    w    int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    bits int := (CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END) - masklen(p_cidr);
BEGIN
    RETURN QUERY
    WITH RECURSIVE sized AS (
        SELECT g.a, g.b, g.b - g.a + 1 AS size
        FROM ipam_free_offsets(p_domain, p_cidr) f CROSS JOIN LATERAL unnest(f.starts, f.ends) g(a, b)
    ),
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

-- Free blocks of prefixes too large for int8 offsets, in inet arithmetic: blocks are
-- found level by level, where only the first and the last block of a level inside a span
-- can be maximal.
CREATE OR REPLACE FUNCTION ipam_free_blocks_large(p_domain uuid, p_cidr cidr) RETURNS TABLE (range cidr)
LANGUAGE plpgsql STABLE SET jit = off AS $fn$
DECLARE
    w     int := CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END;
    plen  int := masklen(p_cidr);
    first inet := set_masklen(p_cidr::inet, CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
    last  inet := set_masklen(broadcast(p_cidr), CASE family(p_cidr) WHEN 4 THEN 32 ELSE 128 END);
BEGIN
    RETURN QUERY
    WITH spans AS (SELECT g.first AS a, g.last AS b, inet_merge(g.first, g.last) AS hull
                   FROM ipam_free_spans_large(p_domain, p_cidr) g)
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

GRANT EXECUTE ON FUNCTION ipam_free_offsets(uuid, cidr), ipam_free_spans_large(uuid, cidr) TO eio_viewer;
