"""The reconcilers: each makes one part of the shared API match what the registry wants.

Each is a function of what is wanted (the registry's state), what was observed, and the API
Gateway port, and returns what it saw and did. They run inside a worker's pass (``worker``),
under its lease (``tenure``); the rules they follow are ``plan``'s.

- ``pools``: the authorizer's ``providerARNs``;
- ``stages``: every stage serving that list, its authorizer cache flushed.
"""
