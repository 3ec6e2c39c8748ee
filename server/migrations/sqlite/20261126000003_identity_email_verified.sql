-- Whether the provider vouched for the identity's e-mail address. Only a
-- verified address can stop a new identity from creating a second account
-- ("this e-mail belongs to an account that uses …"): an unverified one
-- could be anybody's.
ALTER TABLE identities ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
