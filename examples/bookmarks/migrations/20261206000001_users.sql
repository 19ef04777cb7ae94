-- +migrate Up
CREATE SCHEMA app;
CREATE TABLE app.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    handle text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX users_handle_key ON app.users (handle) WHERE deleted_at IS NULL;
CREATE TABLE app.follows (
    follower_id uuid NOT NULL REFERENCES app.users,
    followee_id uuid NOT NULL REFERENCES app.users,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee_id_idx ON app.follows (followee_id);

-- +migrate Down
DROP TABLE app.follows;
DROP TABLE app.users;
DROP SCHEMA app;
