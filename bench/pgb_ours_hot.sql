-- pg_tokens: every client on the same token.
SELECT (tokens.verify(token)).valid FROM bench.sample WHERE g = 1;
