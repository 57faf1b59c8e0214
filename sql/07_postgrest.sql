-- PostgREST (or self-hosted Supabase) in front of the database, clients
-- presenting pg_tokens tokens in `x-api-key` or `Authorization: Bearer
-- tbm_...`. In postgrest.conf:
--
--   db-uri         = "postgres://example_authenticator@/app"
--   db-anon-role   = "example_web_anon"
--   db-pre-request = "tokens.postgrest_pre_request"
--
-- Every request runs in one transaction: PostgREST switches to the anon
-- role, sets request.headers, calls the pre-request function (which
-- authenticates the token for this transaction, or answers 401), then runs
-- the request's query, where row-level security reads tokens.current_owner().

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'example_web_anon') THEN
        CREATE ROLE example_web_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'example_authenticator') THEN
        CREATE ROLE example_authenticator LOGIN NOINHERIT;
    END IF;
END
$$;
GRANT example_web_anon TO example_authenticator;

CREATE TABLE public.example_orders (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner  text   NOT NULL,
    amount numeric NOT NULL
);
ALTER TABLE public.example_orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_of_the_token_owner ON public.example_orders
    USING (owner = tokens.current_owner());
GRANT SELECT ON public.example_orders TO example_web_anon;
INSERT INTO public.example_orders (owner, amount)
    VALUES ('tenant:acme', 10), ('tenant:acme', 32), ('tenant:globex', 99);

SELECT token AS acme_token
  FROM tokens.mint('example: acme api', owner => 'tenant:acme') \gset

-- What PostgREST does for GET /example_orders with x-api-key: the token.
BEGIN;
SET LOCAL ROLE example_web_anon;
SELECT set_config('request.headers', json_build_object('x-api-key', :'acme_token')::text, true);
SELECT tokens.postgrest_pre_request();
SELECT owner, sum(amount) AS total FROM public.example_orders GROUP BY owner;
COMMIT;

-- Without a token the request is anonymous: no rows under the policy.
BEGIN;
SET LOCAL ROLE example_web_anon;
SELECT set_config('request.headers', '{}', true);
SELECT tokens.postgrest_pre_request();
SELECT count(*) AS anonymous_rows FROM public.example_orders;
COMMIT;

-- A presented invalid token: SQLSTATE PT401, which PostgREST answers with
-- HTTP 401 {"code":"PT401","message":"invalid API token","details":"the token presented is unknown",...}.
DO $$
BEGIN
    PERFORM set_config('request.headers', '{"x-api-key": "tbm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}', true);
    PERFORM tokens.postgrest_pre_request();
EXCEPTION WHEN SQLSTATE 'PT401' THEN
    RAISE NOTICE 'PT401: %', SQLERRM;
END
$$;
