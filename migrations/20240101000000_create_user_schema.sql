-- The reference schema: schema "user" (quoted everywhere: `user` is a reserved word) and its
-- users table, with soft delete through deleted_at and email unique among live rows.

-- +migrate Up
CREATE SCHEMA IF NOT EXISTS "user";

-- +migrate StatementBegin
CREATE FUNCTION "user".touch_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +migrate StatementEnd

CREATE TABLE "user".users (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    display_name text NOT NULL,
    role text NOT NULL,
    bio text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'member', 'read-only'))
);

-- A soft-deleted user does not block signing up again with the same email.
CREATE UNIQUE INDEX users_email_key ON "user".users (email) WHERE deleted_at IS NULL;

CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON "user".users
    FOR EACH ROW EXECUTE FUNCTION "user".touch_updated_at();

-- +migrate Down
DROP TRIGGER users_touch_updated_at ON "user".users;
DROP TABLE "user".users;
DROP FUNCTION "user".touch_updated_at();
DROP SCHEMA "user";
