-- IPAM, continued (0010): address counts of IPv6 blocks shorter than /66 are exact
-- integers. `power(2::numeric, n)` carries sixteen decimal places
-- ("18446744073709551616.0000000000000000"), which leaked into utilization, free-space
-- and allocation answers; trunc() gives the integer it is. Same signature, so every
-- function and view using it keeps working, with its owner and grants.
SET LOCAL ROLE eio_owner;

CREATE OR REPLACE FUNCTION ipam_address_count(p cidr) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN family(p) = 4 THEN (1::int8 << (32 - masklen(p)))::numeric
                WHEN masklen(p) >= 66 THEN (1::int8 << (128 - masklen(p)))::numeric
                ELSE trunc(power(2::numeric, 128 - masklen(p))) END
$$;
