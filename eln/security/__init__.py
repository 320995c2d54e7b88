"""Who gets in: API tokens (stored as hashes, expiring, revocable by their owner), the login
lockout after repeated failures, and the pages' content security policy."""
