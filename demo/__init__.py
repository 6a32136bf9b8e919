"""``make demo``: the whole tenant lifecycle on the local AWS, and the shared example API
(``examples/shared-api.yaml``'s resources) that the demo, the tests and the bench stand up.
Beside ``smoke/``, which runs the same story on a real account; ``localaws`` itself knows
nothing of the product."""
