-- IPAM, continued (0030): the gaps between a prefix's children are found by the service,
-- and SQL only says which of them hold observed addresses.
--
-- ipam_free_offsets sorted the children of a prefix, took a running max over them (a
-- window function) and aggregated the gaps: for a /8 with 50k children, 30-40 ms of the
-- 45-60 ms an available-ranges call took, most of it per-row executor work. The service
-- (core/src/ipam/space.rs) now reads the children's offsets and lengths as two arrays from
-- one index-only scan, sorts and merges them itself (well under a millisecond), and asks
-- this function only when the prefix holds live observations at all: the same skip scan as
-- 0030, over the gaps it is given, returning the observed offsets inside them. The answers
-- are unchanged; the brute-force tests in core/tests/sites_ipam.rs check them.
--
-- ipam_free_offsets stays: ipam_free_blocks_small (allocation) still uses it.
SET LOCAL ROLE eio_owner;

-- The offsets from p_base of the live observations of routing domain p_domain that lie in
-- the gaps ga[i]..gb[i] (inclusive, ascending, disjoint): ascending, without repeats.
-- Probes the partial btree ip_observations_live_idx once per gap that holds observations,
-- plus once per run of gaps that hold none.
CREATE FUNCTION ipam_observed_in_gaps(p_domain uuid, p_base inet, ga int8[], gb int8[]) RETURNS int8[]
LANGUAGE plpgsql STABLE SET jit = off AS $fn$
DECLARE
    n         int := coalesce(cardinality(ga), 0);
    i         int := 1;
    lo        int;
    hi        int;
    mid       int;
    x         int8;
    last_addr inet;
    seen      int8[];
    found     int8[] := '{}';
BEGIN
    IF p_domain IS NULL OR p_base IS NULL OR n = 0 OR cardinality(gb) IS DISTINCT FROM n THEN
        RETURN found;
    END IF;
    last_addr := p_base + gb[n];
    WHILE i <= n LOOP
        -- The next observation at or after gap i's start.
        SELECT o.address - p_base INTO x
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL
          AND o.address >= p_base + ga[i] AND o.address <= last_addr
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
            -- x lies between gaps (in a child or a plan): probe again from gap i's start.
            CONTINUE WHEN i > n OR x < ga[i];
        END IF;
        -- Gap i holds observed addresses: all of them.
        SELECT array_agg(DISTINCT o.address - p_base) INTO seen
        FROM ip_observations o
        WHERE o.routing_domain_id = p_domain AND o.gone_at IS NULL
          AND o.address >= p_base + ga[i] AND o.address <= p_base + gb[i];
        found := found || seen;
        i := i + 1;
    END LOOP;
    RETURN found;
END
$fn$;

GRANT EXECUTE ON FUNCTION ipam_observed_in_gaps(uuid, inet, int8[], int8[]) TO eio_viewer;
