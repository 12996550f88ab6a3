"""HTTP plumbing shared by every service's web process: problems, validation, idempotency, OpenAPI."""
