"""``make bench``: launch day, hundreds of tenants at once, within API Gateway's quotas."""
