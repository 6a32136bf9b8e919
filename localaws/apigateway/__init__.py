"""API Gateway's control-plane models: moto's, with the documented behaviour they lack."""
