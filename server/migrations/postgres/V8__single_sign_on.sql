-- Single sign-on (OpenID Connect), per tenant.
-- The tenant's identity provider as the operator registered it. The client secret is kept
-- as given: the server shows it to the provider with every code it redeems.
CREATE TABLE sso_providers (
    tenant TEXT PRIMARY KEY REFERENCES tenants(id),
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    claim TEXT NOT NULL,
    name TEXT NOT NULL
);
-- Sign-ins under way: by the hash of their `state`, bound to the browser that began them
-- (the hash of its cookie); used up by the one callback that ends them.
CREATE TABLE sso_sign_ins (
    state TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    browser TEXT NOT NULL,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX sso_sign_ins_by_tenant ON sso_sign_ins (tenant);
-- The token a person's single sign-on sessions hang on, one per user: revoking it (or the
-- user's tokens) ends them all, as for any token.
CREATE TABLE sso_tokens (
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    token TEXT NOT NULL REFERENCES tokens(hash) ON DELETE CASCADE,
    PRIMARY KEY (tenant, actor)
);
