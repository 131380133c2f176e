-- Browser sessions and one-time sign-in links. Each hangs on the token it was made from:
-- revoking the token ends its sessions and voids its links (the cascade).
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    token TEXT NOT NULL REFERENCES tokens(hash) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token);
CREATE TABLE sign_in_links (
    hash TEXT PRIMARY KEY,
    token TEXT NOT NULL REFERENCES tokens(hash) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX sign_in_links_by_token ON sign_in_links (token);
