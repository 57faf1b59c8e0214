-- Minting a service token for a group, as an administrator.
-- The plaintext is in the result exactly once: hand it to the service now,
-- it cannot be shown again (only its SHA-256 is stored).

SET ROLE example_admin;

SELECT token, id, prefix, owner, scopes, expires_at
  FROM tokens.mint(
         name       => 'ci deploy bot',
         scopes     => ARRAY['deploy', 'docs:read'],
         expires_at => now() + interval '90 days',
         kind       => 'service',
         owner      => 'group:platform');

-- What an administrator sees afterwards: never the token, only its prefix.
SELECT prefix, name, kind, owner, scopes, status, expires_at, last_used_at
  FROM tokens.tokens
 WHERE owner = 'group:platform';

-- Rotation: a successor with the same name, scopes, owner and expiry; the
-- old token keeps working for one hour so the service can switch over.
-- Owner-only: an administrator acts for the group explicitly.
SELECT prefix, id
  FROM tokens.rotate((SELECT id FROM tokens.tokens
                       WHERE owner = 'group:platform' AND name = 'ci deploy bot' AND revoked_at IS NULL
                       ORDER BY created_at DESC LIMIT 1),
                     grace => '1 hour',
                     actor => 'group:platform');

-- Who did what, from the append-only audit log.
SELECT id, at, actor, db_role, action, target FROM tokens.audit_log ORDER BY id DESC LIMIT 5;

RESET ROLE;
