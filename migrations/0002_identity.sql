-- Domain 1: Identity & RBAC.
--
-- A human is a PostgreSQL login role (password via SCRAM, or LDAP/AD through pg_hba.conf)
-- mapped to one `users` row. The group role the login belongs to is what the database
-- enforces; `users.role` mirrors it for display and is kept in step by the functions
-- that manage users. Service identities hold the credentials automated work runs with,
-- encrypted for the workers' public key: nobody but a worker can even read the ciphertext.
SET LOCAL ROLE eio_owner;

CREATE TYPE user_role AS ENUM ('viewer', 'operator', 'approver', 'admin');

-- Reference data: what each role means and which PostgreSQL group role enforces it.
CREATE TABLE roles (
    role        user_role PRIMARY KEY,
    pg_role     name NOT NULL CONSTRAINT roles_pg_role_key UNIQUE,
    rank        smallint NOT NULL CONSTRAINT roles_rank_key UNIQUE,
    description text NOT NULL
);

INSERT INTO roles (role, pg_role, rank, description) VALUES
    ('viewer',   'eio_viewer',   1, 'Reads inventory, IPAM, jobs and reports'),
    ('operator', 'eio_operator', 2, 'Viewer, and submits jobs, plans addresses, acknowledges findings, runs reports'),
    ('approver', 'eio_approver', 3, 'Operator, and approves or denies jobs submitted by someone else'),
    ('admin',    'eio_admin',    4, 'Approver, and manages users, sources, service identities and sites');

-- Reference data: capabilities refine roles. `site:<code>` capabilities are patterns,
-- listed here once as `site:*`.
CREATE TABLE capabilities (
    name        text PRIMARY KEY CONSTRAINT capabilities_name_format CHECK (name ~ '^[a-z][a-z0-9_]*(:\*)?$'),
    description text NOT NULL
);

INSERT INTO capabilities (name, description) VALUES
    ('firmware_update',  'Submit or approve firmware update jobs'),
    ('maintenance_mode', 'Submit or approve maintenance mode jobs'),
    ('power',            'Submit or approve power actions on servers and VMs'),
    ('site:*',           'Limit job submission and approval to the named site (site:US-EAST-01)');

CREATE TABLE users (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text NOT NULL CONSTRAINT users_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name text,
    role         user_role NOT NULL DEFAULT 'viewer',
    capabilities text[] NOT NULL DEFAULT '{}',
    login_role   name NOT NULL CONSTRAINT users_login_role_key UNIQUE,
    disabled_at  timestamptz,
    created_by   uuid CONSTRAINT users_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_capabilities_no_nulls CHECK (array_position(capabilities, NULL) IS NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Capabilities must come from the catalog (site:<code> matches site:*).
CREATE FUNCTION check_user_capabilities() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cap text;
BEGIN
    FOREACH cap IN ARRAY NEW.capabilities LOOP
        IF NOT EXISTS (
            SELECT 1 FROM capabilities c
            WHERE c.name = cap
               OR (c.name LIKE '%:*' AND cap LIKE rtrim(c.name, '*') || '_%')
        ) THEN
            RAISE EXCEPTION 'unknown capability "%"', cap
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'users_capabilities_known',
                      HINT = 'known capabilities: firmware_update, maintenance_mode, power, site:<code>';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_capabilities_known BEFORE INSERT OR UPDATE OF capabilities ON users
    FOR EACH ROW EXECUTE FUNCTION check_user_capabilities();

-- The users row of the login running this session (NULL for workers and unmapped logins).
-- session_user, not current_user: inside SECURITY DEFINER functions current_user is the owner.
CREATE FUNCTION current_app_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM users WHERE login_role = session_user AND disabled_at IS NULL
$$;

CREATE TYPE external_system AS ENUM ('vcenter', 'idrac', 'ome', 'other');

-- The workers' public keys (age X25519 recipients). Credentials are sealed for every
-- active key, so any worker holding one of the private keys can decrypt and nobody else
-- can. Trusting a key is an admin's decision: a key registered by the wrong party would
-- receive every credential set afterwards.
CREATE TABLE worker_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    public_key  text NOT NULL CONSTRAINT worker_keys_public_key_key UNIQUE
                CONSTRAINT worker_keys_public_key_format CHECK (public_key ~ '^age1[02-9ac-hj-np-z]{58}$'),
    label       text NOT NULL,
    created_by  uuid CONSTRAINT worker_keys_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE service_identities (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  text NOT NULL CONSTRAINT service_identities_name_key UNIQUE
                          CONSTRAINT service_identities_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    system                external_system NOT NULL DEFAULT 'other',
    username              text NOT NULL,
    -- age-encrypted (X25519) for the workers' public keys; see DESIGN.md §3. The sealed
    -- payload names the identity, so a ciphertext moved to another row is detected.
    encrypted_credentials bytea NOT NULL,
    -- The worker public keys the ciphertext is sealed for, so a wrong key is named.
    recipients            text[] NOT NULL CONSTRAINT service_identities_recipients_nonempty CHECK (cardinality(recipients) > 0),
    rotation_due          timestamptz,
    -- How often the credentials should change; rotation_due moves by this much on rotation.
    rotation_period_days  integer NOT NULL DEFAULT 90
                          CONSTRAINT service_identities_rotation_period_range CHECK (rotation_period_days BETWEEN 1 AND 3650),
    rotated_at            timestamptz NOT NULL DEFAULT now(),
    last_success          timestamptz,
    last_failure          timestamptz,
    last_error            text,
    created_by            uuid CONSTRAINT service_identities_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Only an age envelope ("age-encryption.org/v1\n" header) is accepted: a plaintext
    -- password can't be stored here by mistake.
    CONSTRAINT service_identities_ciphertext_is_age CHECK (
        substring(encrypted_credentials FROM 1 FOR 22) = '\x6167652d656e6372797074696f6e2e6f72672f76310a'::bytea
    )
);
CREATE TRIGGER service_identities_touch BEFORE UPDATE ON service_identities
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Append-only ledgers (audit_events here, job_events later) share one guard.
CREATE FUNCTION forbid_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_login name NOT NULL DEFAULT session_user,
    actor_user  uuid CONSTRAINT audit_events_actor_user_fkey REFERENCES users (id) ON DELETE RESTRICT,
    action      text NOT NULL CONSTRAINT audit_events_action_format CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    target_type text,
    target_id   text,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id);
-- Statement-level, so even an UPDATE/DELETE matching no rows is refused.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_change();
