-- A first sign-in asks whether its verified e-mail already belongs to an
-- account (inside the sign-in's write transaction): without this index
-- that question read every identity, and sign-ins slowed down as the
-- user base grew until they timed out waiting for each other.
CREATE INDEX identities_by_verified_email ON identities (lower(email)) WHERE email_verified;
