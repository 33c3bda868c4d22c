-- Sign-in to `eio serve` only for EIO users (issue 22).
--
-- Before it connects as a signing-in login, `eio serve` asks with its own connection
-- whether that login belongs to an enabled EIO user: any other PostgreSQL role (a DBA,
-- a service login, `postgres`) is refused without a connection attempt, so the server
-- can't be used to sign into it or to guess its password. The server's own login may
-- not read `users`; this function answers one boolean and nothing else (no email, no
-- role, not whether the login exists as a role).
SET LOCAL ROLE eio_owner;

CREATE FUNCTION is_enabled_eio_login(p_login text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM users WHERE login_role::text = p_login AND disabled_at IS NULL)
$$;

REVOKE ALL ON FUNCTION is_enabled_eio_login(text) FROM PUBLIC;
-- The server runs as a worker login or as a user's login (every EIO group role is a
-- member of eio_viewer).
GRANT EXECUTE ON FUNCTION is_enabled_eio_login(text) TO eio_viewer, eio_worker;

-- A disabled user's browser sessions end at once, event streams included: `disable_user`
-- already ends the login's database backends; this tells every `eio serve` to end the
-- sessions too, without waiting for their next call. The notification carries nothing
-- (any login may LISTEN): each server re-checks its own sessions' logins with
-- `is_enabled_eio_login`, so a forged one ends nothing that is still enabled.
CREATE FUNCTION notify_user_disabled() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('eio_user_disabled', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER users_disabled_notify AFTER UPDATE OF disabled_at ON users FOR EACH ROW
    WHEN (NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL) EXECUTE FUNCTION notify_user_disabled();
