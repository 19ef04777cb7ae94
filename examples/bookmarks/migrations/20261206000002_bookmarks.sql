-- +migrate Up
CREATE TABLE app.bookmarks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES app.users,
    url text NOT NULL,
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX bookmarks_owner_id_idx ON app.bookmarks (owner_id);
CREATE TABLE app.tags (
    name text PRIMARY KEY
);
CREATE TABLE app.bookmark_tags (
    bookmark_id bigint NOT NULL REFERENCES app.bookmarks ON DELETE CASCADE,
    tag_name text NOT NULL REFERENCES app.tags,
    PRIMARY KEY (bookmark_id, tag_name)
);
CREATE INDEX bookmark_tags_tag_name_idx ON app.bookmark_tags (tag_name);

-- +migrate Down
DROP TABLE app.bookmark_tags;
DROP TABLE app.tags;
DROP TABLE app.bookmarks;
