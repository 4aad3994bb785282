"""HTTP plumbing: authentication, the embed script, input limits, multipart uploads."""
