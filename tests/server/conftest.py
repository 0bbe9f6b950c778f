"""The server tests' fixtures live in ``server_helpers``, so that test modules import helpers by a unique name."""

from server_helpers import *  # noqa: F401,F403  (fixtures are registered by being in this namespace)
