-- Identity management in the database: humans (login roles mapped to users rows), the
-- worker keys credentials are sealed for, and the audit of every security-relevant act.
--
-- Admins manage users through SECURITY DEFINER functions owned by eio_owner, which may
-- create roles but grants nothing beyond the one EIO group role a user's role names.
-- Passwords reach the server only as SCRAM-SHA-256 verifiers computed by the client, so
-- no plaintext password is ever sent, logged or stored.

-- Cluster-wide role attributes, run as the migrating login. Two databases migrating at
-- once may race on the same role row ("tuple concurrently updated"): retry briefly.
DO $owner$
DECLARE
    attempt int := 0;
    g text;
BEGIN
    LOOP
        BEGIN
            IF NOT (SELECT rolcreaterole FROM pg_roles WHERE rolname = 'eio_owner') THEN
                ALTER ROLE eio_owner CREATEROLE;
            END IF;
            -- PostgreSQL 16+ lets a CREATEROLE role grant only roles it administers.
            FOREACH g IN ARRAY ARRAY['eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker'] LOOP
                IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                               WHERE m.roleid = g::regrole AND m.member = 'eio_owner'::regrole AND m.admin_option) THEN
                    EXECUTE format('GRANT %I TO eio_owner WITH ADMIN OPTION', g);
                END IF;
            END LOOP;
            -- To end the sessions of a user who is disabled.
            IF NOT pg_has_role('eio_owner', 'pg_signal_backend', 'MEMBER') THEN
                GRANT pg_signal_backend TO eio_owner;
            END IF;
            EXIT;
        EXCEPTION WHEN internal_error OR unique_violation OR serialization_failure THEN
            attempt := attempt + 1;
            IF attempt > 20 THEN RAISE; END IF;
            PERFORM pg_sleep(0.05 * attempt);
        END;
    END LOOP;
END
$owner$;

SET LOCAL ROLE eio_owner;

-- ---------------------------------------------------------------------------------
-- Helpers.

CREATE FUNCTION is_superuser_session() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT rolsuper FROM pg_roles WHERE rolname = session_user
$$;

-- Admins (or a superuser bootstrapping the first admin) only.
CREATE FUNCTION require_admin(doing text) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF is_superuser_session() THEN
        RETURN current_app_user_id();
    END IF;
    PERFORM require_role('eio_admin', doing);
    RETURN (require_app_user(doing)).id;
END
$$;

CREATE FUNCTION check_password_verifier(v text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NOT NULL AND v !~ '^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'a password must arrive as a SCRAM-SHA-256 verifier computed by the client, never in plaintext'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- A login name EIO may create or link: no group roles, no superusers, no role admins.
CREATE FUNCTION check_linkable_login(p_login name) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r pg_roles;
BEGIN
    IF p_login !~ '^[a-z][a-z0-9_.@-]{0,62}$' THEN
        RAISE EXCEPTION 'login "%" is not a valid name: lowercase letters, digits, _ . @ -, starting with a letter', p_login
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_login IN ('eio_owner', 'eio_viewer', 'eio_operator', 'eio_approver', 'eio_admin', 'eio_worker')
       OR p_login LIKE 'pg\_%' OR p_login = 'postgres' THEN
        RAISE EXCEPTION 'login "%" is reserved', p_login USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM pg_roles WHERE rolname = p_login;
    IF FOUND THEN
        IF r.rolsuper OR r.rolcreaterole OR r.rolbypassrls OR pg_has_role(p_login, 'eio_owner', 'MEMBER') THEN
            RAISE EXCEPTION 'login "%" is too powerful to be an EIO user (superuser, role admin or schema owner)', p_login
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
END
$$;

-- Put `login` in exactly the one EIO group role `role` names.
CREATE FUNCTION assign_group_role(p_login name, p_role user_role) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    g name;
BEGIN
    FOR g IN SELECT pg_role FROM roles WHERE role <> p_role LOOP
        IF EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = g::regrole AND m.member = p_login::regrole) THEN
            EXECUTE format('REVOKE %I FROM %I', g, p_login);
        END IF;
    END LOOP;
    EXECUTE format('GRANT %I TO %I', (SELECT pg_role FROM roles WHERE role = p_role), p_login);
END
$$;

-- The last active admin can't be demoted or disabled: someone must be able to fix things.
CREATE FUNCTION check_not_last_admin(p_user uuid) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF (SELECT role FROM users WHERE id = p_user) = 'admin'
       AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> p_user) THEN
        RAISE EXCEPTION 'this is the last active admin; make another admin first'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END
$$;

CREATE FUNCTION find_user(p_email text) RETURNS users
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users WHERE lower(email) = lower(p_email);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user with email %', p_email USING ERRCODE = 'no_data_found';
    END IF;
    RETURN u;
END
$$;

-- ---------------------------------------------------------------------------------
-- Users.

-- Create the login (or link an existing one, e.g. an LDAP-authenticated role) and map it.
CREATE FUNCTION create_user(
    p_email             text,
    p_role              user_role,
    p_login             name,
    p_capabilities      text[] DEFAULT '{}',
    p_password_verifier text DEFAULT NULL,
    p_display_name      text DEFAULT NULL
) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    actor uuid;
    u users;
    existed boolean;
BEGIN
    actor := require_admin('adding a user');
    PERFORM check_linkable_login(p_login);
    PERFORM check_password_verifier(p_password_verifier);
    existed := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login);
    IF existed THEN
        IF p_password_verifier IS NOT NULL THEN
            EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', p_login, p_password_verifier);
        ELSE
            EXECUTE format('ALTER ROLE %I LOGIN', p_login);
        END IF;
    ELSIF p_password_verifier IS NOT NULL THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_login, p_password_verifier);
    ELSE
        -- No password: authentication is left to pg_hba.conf (LDAP/AD, GSSAPI, peer).
        EXECUTE format('CREATE ROLE %I LOGIN', p_login);
    END IF;
    PERFORM assign_group_role(p_login, p_role);
    INSERT INTO users (email, display_name, role, capabilities, login_role, created_by)
    VALUES (p_email, p_display_name, p_role, coalesce(p_capabilities, '{}'), p_login, actor)
    RETURNING * INTO u;
    PERFORM record_audit('user.create', 'user', u.id::text, jsonb_build_object(
        'email', u.email, 'role', u.role, 'login', p_login, 'capabilities', u.capabilities,
        'linked_existing_login', existed, 'password_set', p_password_verifier IS NOT NULL));
    RETURN u;
END
$$;

CREATE FUNCTION set_user_role(p_email text, p_role user_role) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    before user_role;
BEGIN
    PERFORM require_admin('changing a user''s role');
    u := find_user(p_email);
    before := u.role;
    IF before = p_role THEN
        RETURN u;
    END IF;
    IF before = 'admin' THEN
        PERFORM check_not_last_admin(u.id);
    END IF;
    PERFORM assign_group_role(u.login_role, p_role);
    UPDATE users SET role = p_role WHERE id = u.id RETURNING * INTO u;
    PERFORM record_audit('user.role_change', 'user', u.id::text,
                         jsonb_build_object('email', u.email, 'from', before, 'to', p_role));
    RETURN u;
END
$$;

CREATE FUNCTION set_user_capabilities(p_email text, p_capabilities text[]) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    before text[];
BEGIN
    PERFORM require_admin('changing a user''s capabilities');
    u := find_user(p_email);
    before := u.capabilities;
    UPDATE users SET capabilities = coalesce(p_capabilities, '{}') WHERE id = u.id RETURNING * INTO u;
    PERFORM record_audit('user.capabilities_change', 'user', u.id::text,
                         jsonb_build_object('email', u.email, 'from', before, 'to', u.capabilities));
    RETURN u;
END
$$;

-- Disabling refuses new logins and ends the user's open sessions.
CREATE FUNCTION disable_user(p_email text) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    ended int := 0;
    victim int;
BEGIN
    PERFORM require_admin('disabling a user');
    u := find_user(p_email);
    IF u.disabled_at IS NOT NULL THEN
        RETURN u;
    END IF;
    PERFORM check_not_last_admin(u.id);
    EXECUTE format('ALTER ROLE %I NOLOGIN', u.login_role);
    UPDATE users SET disabled_at = now() WHERE id = u.id RETURNING * INTO u;
    -- A loop, not a WHERE clause: the planner may call a function before other filters,
    -- and pg_terminate_backend must only ever see this user's backends.
    FOR victim IN SELECT a.pid FROM pg_stat_activity a WHERE a.usename = u.login_role AND a.pid <> pg_backend_pid() LOOP
        IF pg_terminate_backend(victim) THEN
            ended := ended + 1;
        END IF;
    END LOOP;
    PERFORM record_audit('user.disable', 'user', u.id::text,
                         jsonb_build_object('email', u.email, 'sessions_ended', ended));
    RETURN u;
END
$$;

CREATE FUNCTION enable_user(p_email text) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
BEGIN
    PERFORM require_admin('enabling a user');
    u := find_user(p_email);
    EXECUTE format('ALTER ROLE %I LOGIN', u.login_role);
    UPDATE users SET disabled_at = NULL WHERE id = u.id RETURNING * INTO u;
    PERFORM record_audit('user.enable', 'user', u.id::text, jsonb_build_object('email', u.email));
    RETURN u;
END
$$;

-- Admins reset anyone's password; everyone may change their own.
CREATE FUNCTION set_user_password(p_email text, p_password_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
BEGIN
    u := find_user(p_email);
    IF u.login_role <> session_user THEN
        PERFORM require_admin('resetting another user''s password');
    END IF;
    IF p_password_verifier IS NULL THEN
        RAISE EXCEPTION 'no password given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM check_password_verifier(p_password_verifier);
    EXECUTE format('ALTER ROLE %I PASSWORD %L', u.login_role, p_password_verifier);
    PERFORM record_audit('user.password_change', 'user', u.id::text, jsonb_build_object('email', u.email));
END
$$;

-- An application login: recorded once per session by the desktop and the CLI.
CREATE FUNCTION record_login(p_client text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT record_audit('user.login', 'login', session_user::text,
                        jsonb_build_object('client', left(p_client, 80),
                                           'address', host(inet_client_addr())))
$$;

-- ---------------------------------------------------------------------------------
-- Worker keys.

CREATE FUNCTION trust_worker_key(p_public_key text, p_label text) RETURNS worker_keys
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    actor uuid;
    k worker_keys;
BEGIN
    actor := require_admin('trusting a worker key');
    INSERT INTO worker_keys (public_key, label, created_by) VALUES (p_public_key, p_label, actor)
    ON CONFLICT ON CONSTRAINT worker_keys_public_key_key DO UPDATE SET revoked_at = NULL, label = EXCLUDED.label
    RETURNING * INTO k;
    PERFORM record_audit('worker_key.trust', 'worker_key', k.public_key, jsonb_build_object('label', p_label));
    RETURN k;
END
$$;

CREATE FUNCTION revoke_worker_key(p_public_key text) RETURNS worker_keys
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k worker_keys;
BEGIN
    PERFORM require_admin('revoking a worker key');
    UPDATE worker_keys SET revoked_at = now() WHERE public_key = p_public_key AND revoked_at IS NULL RETURNING * INTO k;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no trusted worker key %', p_public_key USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM record_audit('worker_key.revoke', 'worker_key', k.public_key, '{}');
    RETURN k;
END
$$;

-- ---------------------------------------------------------------------------------
-- Service identities: sealed only for trusted keys, and every set, rotation and use
-- audited by trigger, however the row was written.

CREATE FUNCTION check_identity_recipients() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    untrusted text;
BEGIN
    SELECT r INTO untrusted FROM unnest(NEW.recipients) r
    WHERE NOT EXISTS (SELECT 1 FROM worker_keys k WHERE k.public_key = r AND k.revoked_at IS NULL)
    LIMIT 1;
    IF untrusted IS NOT NULL THEN
        RAISE EXCEPTION 'service identity "%" is sealed for %, which is not a trusted worker key', NEW.name, untrusted
            USING ERRCODE = 'check_violation', CONSTRAINT = 'service_identities_recipients_trusted',
                  HINT = 'an admin trusts worker keys with `eio identity trust-worker-key`';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER service_identities_recipients_trusted
    BEFORE INSERT OR UPDATE OF encrypted_credentials, recipients ON service_identities
    FOR EACH ROW EXECUTE FUNCTION check_identity_recipients();

CREATE FUNCTION audit_identity_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_audit('credential.set', 'service_identity', NEW.name,
                             jsonb_build_object('system', NEW.system, 'username', NEW.username));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM record_audit('credential.delete', 'service_identity', OLD.name, '{}');
        RETURN OLD;
    ELSE
        IF NEW.encrypted_credentials IS DISTINCT FROM OLD.encrypted_credentials THEN
            -- A rotation sets new credentials (rotated_at moves); a reseal re-encrypts the
            -- same ones for a changed set of worker keys.
            PERFORM record_audit(CASE WHEN NEW.rotated_at IS DISTINCT FROM OLD.rotated_at
                                      THEN 'credential.rotate' ELSE 'credential.reseal' END,
                                 'service_identity', NEW.name,
                                 jsonb_build_object('username', NEW.username, 'recipients', NEW.recipients));
        END IF;
        IF NEW.last_success IS DISTINCT FROM OLD.last_success THEN
            PERFORM record_audit('credential.use', 'service_identity', NEW.name, jsonb_build_object('ok', true));
        END IF;
        IF NEW.last_failure IS DISTINCT FROM OLD.last_failure THEN
            PERFORM record_audit('credential.use', 'service_identity', NEW.name,
                                 jsonb_build_object('ok', false, 'error', NEW.last_error));
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER service_identities_audit AFTER INSERT OR UPDATE OR DELETE ON service_identities
    FOR EACH ROW EXECUTE FUNCTION audit_identity_change();

-- Open, refresh and resolve the rotation-due findings in one set-based pass.
CREATE FUNCTION refresh_credential_findings() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    open_count integer;
BEGIN
    INSERT INTO ipam_findings AS f (type, severity, subject_key, message, details)
    SELECT 'credential_rotation_due', 'warning', 'service_identity/' || s.name,
           format('credentials of service identity %s were due for rotation on %s', s.name,
                  to_char(s.rotation_due AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
           jsonb_build_object('service_identity', s.name, 'rotation_due', s.rotation_due)
    FROM service_identities s
    WHERE s.rotation_due IS NOT NULL AND s.rotation_due < now()
    ON CONFLICT ON CONSTRAINT ipam_findings_subject_key DO UPDATE
        SET last_seen_at = now(), message = EXCLUDED.message, details = EXCLUDED.details,
            resolved_at = NULL,
            reopened_count = f.reopened_count + CASE WHEN f.resolved_at IS NULL THEN 0 ELSE 1 END;
    UPDATE ipam_findings f SET resolved_at = now()
    WHERE f.type = 'credential_rotation_due' AND f.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM service_identities s
                      WHERE 'service_identity/' || s.name = f.subject_key
                        AND s.rotation_due IS NOT NULL AND s.rotation_due < now());
    SELECT count(*) INTO open_count FROM ipam_findings
    WHERE type = 'credential_rotation_due' AND resolved_at IS NULL;
    RETURN open_count;
END
$$;

-- ---------------------------------------------------------------------------------
GRANT EXECUTE ON FUNCTION
    create_user(text, user_role, name, text[], text, text),
    set_user_role(text, user_role),
    set_user_capabilities(text, text[]),
    disable_user(text),
    enable_user(text),
    trust_worker_key(text, text),
    revoke_worker_key(text)
TO eio_admin;
GRANT EXECUTE ON FUNCTION set_user_password(text, text), record_login(text) TO eio_viewer, eio_worker;
GRANT EXECUTE ON FUNCTION refresh_credential_findings() TO eio_admin, eio_worker;
