-- Where each object is, as site inference says: one row per placed entity, the winner of
-- its inferences (manual first, then the most confident method, the same order as the
-- `site_placements` view of 0010). Pages, filters and reports join it by key instead of
-- sorting every inference (`site_placements` is a DISTINCT ON over all of them).
--
-- It is kept by statement triggers on `site_inferences`, whatever wrote there (the
-- inference run, a pin, a site's removal), and is written by nothing else: no application
-- role has a write grant on it.
SET LOCAL ROLE eio_owner;

CREATE TABLE entity_sites (
    entity_type entity_kind NOT NULL,
    entity_id   uuid NOT NULL,
    site_id     uuid NOT NULL CONSTRAINT entity_sites_site_id_fkey REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT entity_sites_pkey PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX entity_sites_site_idx ON entity_sites (site_id, entity_type);
COMMENT ON TABLE entity_sites IS 'each entity''s winning site inference, kept by triggers on site_inferences';
GRANT SELECT ON entity_sites TO eio_viewer, eio_worker;

-- Place again the entities named by the pairs (p_types[i], p_ids[i]): the winner of their
-- inferences now, or no row when none is left.
--
-- Writers of site_inferences overlap (a worker's inference run, an operator's pin), and each
-- would otherwise compute the winner from its own snapshot and overwrite the other's answer
-- with a stale one. So placing takes the inference lock first (an inference run already
-- holds it; a pin waits for the run, a run for the pin's commit) and then decides in a
-- statement of its own, whose snapshot sees every committed opinion.
CREATE FUNCTION place_entities(p_types entity_kind[], p_ids uuid[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('eio:site_inference', 0));
    WITH touched AS (
        SELECT DISTINCT t.entity_type, t.entity_id FROM unnest(p_types, p_ids) AS t(entity_type, entity_id)
    ),
    win AS (
        SELECT DISTINCT ON (i.entity_type, i.entity_id) i.entity_type, i.entity_id, i.site_id
        FROM touched t
        JOIN site_inferences i ON i.entity_type = t.entity_type AND i.entity_id = t.entity_id
        JOIN sites s ON s.id = i.site_id
        ORDER BY i.entity_type, i.entity_id, (i.method = 'manual') DESC, i.confidence DESC, i.method, s.code
    ),
    gone AS (
        DELETE FROM entity_sites e
        USING touched t LEFT JOIN win w ON w.entity_type = t.entity_type AND w.entity_id = t.entity_id
        WHERE e.entity_type = t.entity_type AND e.entity_id = t.entity_id AND w.entity_id IS NULL
    )
    INSERT INTO entity_sites AS e (entity_type, entity_id, site_id)
    SELECT w.entity_type, w.entity_id, w.site_id FROM win w
    ON CONFLICT ON CONSTRAINT entity_sites_pkey DO UPDATE SET site_id = EXCLUDED.site_id
    WHERE e.site_id IS DISTINCT FROM EXCLUDED.site_id;
END
$$;

CREATE FUNCTION site_inferences_place_new() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM place_entities(array_agg(n.entity_type), array_agg(n.entity_id)) FROM new_rows n;
    RETURN NULL;
END
$$;
CREATE FUNCTION site_inferences_place_old() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM place_entities(array_agg(o.entity_type), array_agg(o.entity_id)) FROM old_rows o;
    RETURN NULL;
END
$$;
CREATE FUNCTION site_inferences_place_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM place_entities(array_agg(k.entity_type), array_agg(k.entity_id))
    FROM (SELECT n.entity_type, n.entity_id FROM new_rows n
          UNION SELECT o.entity_type, o.entity_id FROM old_rows o) k;
    RETURN NULL;
END
$$;
CREATE TRIGGER site_inferences_place_inserted AFTER INSERT ON site_inferences
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION site_inferences_place_new();
CREATE TRIGGER site_inferences_place_updated AFTER UPDATE ON site_inferences
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION site_inferences_place_changed();
CREATE TRIGGER site_inferences_place_deleted AFTER DELETE ON site_inferences
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION site_inferences_place_old();

-- A site's code breaks ties between equally confident opinions: a renamed site re-places
-- the entities it holds an opinion on.
CREATE FUNCTION sites_place_renamed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM place_entities(array_agg(i.entity_type), array_agg(i.entity_id))
    FROM site_inferences i JOIN new_rows n ON n.id = i.site_id JOIN old_rows o ON o.id = n.id
    WHERE n.code IS DISTINCT FROM o.code;
    RETURN NULL;
END
$$;
CREATE TRIGGER sites_place_renamed AFTER UPDATE ON sites
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sites_place_renamed();

INSERT INTO entity_sites (entity_type, entity_id, site_id)
SELECT entity_type, entity_id, site_id FROM site_placements;
