-- Removing a source leaves a consistent inventory:
-- * a physical server whose last source (its iDRAC, or the OME that knew it) goes is marked
--   removed (kept for history), instead of failing physical_servers_has_source;
-- * IP observations whose carrier went with the source (VMs and hosts of a vCenter, an
--   iDRAC, a server) are marked gone, so findings don't keep counting them.
-- Both run as the table owner (SECURITY DEFINER triggers): the admin removing a source may
-- not write inventory or observations directly.
SET LOCAL ROLE eio_owner;

CREATE FUNCTION retire_servers_of_source() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'idrac_endpoints' THEN
        UPDATE physical_servers SET removed_at = coalesce(removed_at, now())
        WHERE idrac_id = OLD.id AND ome_instance_id IS NULL;
    ELSE
        UPDATE physical_servers SET removed_at = coalesce(removed_at, now())
        WHERE ome_instance_id = OLD.id AND idrac_id IS NULL;
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER idrac_endpoints_retire_servers BEFORE DELETE ON idrac_endpoints
    FOR EACH ROW EXECUTE FUNCTION retire_servers_of_source();
CREATE TRIGGER ome_instances_retire_servers BEFORE DELETE ON ome_instances
    FOR EACH ROW EXECUTE FUNCTION retire_servers_of_source();

CREATE FUNCTION retire_orphan_observations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE ip_observations o SET gone_at = now()
    WHERE o.gone_at IS NULL AND CASE o.entity_type
        WHEN 'virtual_machine' THEN NOT EXISTS (SELECT 1 FROM virtual_machines v WHERE v.id = o.entity_id AND v.removed_at IS NULL)
        WHEN 'esxi_host' THEN NOT EXISTS (SELECT 1 FROM esxi_hosts h WHERE h.id = o.entity_id AND h.removed_at IS NULL)
        WHEN 'idrac_endpoint' THEN NOT EXISTS (SELECT 1 FROM idrac_endpoints e WHERE e.id = o.entity_id)
        WHEN 'physical_server' THEN NOT EXISTS (SELECT 1 FROM physical_servers p WHERE p.id = o.entity_id AND p.removed_at IS NULL)
        ELSE false
    END;
    RETURN NULL;
END
$$;

CREATE TRIGGER vcenter_instances_retire_observations AFTER DELETE ON vcenter_instances
    FOR EACH STATEMENT EXECUTE FUNCTION retire_orphan_observations();
CREATE TRIGGER idrac_endpoints_retire_observations AFTER DELETE ON idrac_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION retire_orphan_observations();
CREATE TRIGGER ome_instances_retire_observations AFTER DELETE ON ome_instances
    FOR EACH STATEMENT EXECUTE FUNCTION retire_orphan_observations();

REVOKE EXECUTE ON FUNCTION retire_servers_of_source() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION retire_orphan_observations() FROM PUBLIC;
