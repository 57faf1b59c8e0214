-- A gateway's view of pg_tokens: one call per request that checks the
-- token, its scopes, its rate limit and its client address, and returns the
-- application data stored with it; then what an operator does in an
-- incident: suspend a token, find leaked ones in a pasted log, revoke them.
-- (Tokens are interpolated here only because this is an example: in an
-- application, bind them as parameters.)

SET ROLE example_app;

SELECT tokens.define_scope('orders:read',  'Read orders');
SELECT tokens.define_scope('orders:write', 'Place and change orders');

-- A partner's token, with its plan in meta and 100 requests a minute.
SELECT token AS partner_token, id AS partner_id
  FROM tokens.mint('example: partner', ARRAY['orders:read', 'orders:write'],
                   owner => 'group:partners', meta => '{"plan": "gold", "partner": 17}') \gset
SELECT tokens.set_rate_limit(:'partner_id', 100, '1 minute');

-- The gateway: valid only with every scope the route needs.
SELECT valid, status, owner, meta ->> 'plan' AS plan
  FROM tokens.verify(:'partner_token', ARRAY['orders:read']);
SELECT valid, status
  FROM tokens.verify(:'partner_token', ARRAY['orders:read', 'billing:admin']);

-- Incident: suspend the token while investigating (reversible) ...
SELECT tokens.disable(:'partner_id');
SELECT valid, status FROM tokens.verify(:'partner_token', ARRAY['orders:read']);
SELECT tokens.enable(:'partner_id');

RESET ROLE;

-- ... and a CI log turned up with the token in it: triage (tokens_reader)
-- and revoke every live one for its owner, recording why (tokens_revoker).
SET ROLE example_admin;
SELECT prefix, status, owner, name
  FROM tokens.find_leaked('curl -H "Authorization: Bearer ' || :'partner_token' || '" https://api.example.test/orders');
SELECT tokens.revoke(token_id, actor => owner, reason => 'leak')
  FROM tokens.find_leaked('Bearer ' || :'partner_token')
 WHERE status IN ('active', 'disabled');
SELECT valid, status FROM tokens.verify(:'partner_token');
RESET ROLE;
