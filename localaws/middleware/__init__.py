"""API Gateway's control plane in front of moto: routes, quotas, conflicts, faults, journal."""
