"""The server's storage layer: the one schema module and the storage functions per concept.

Views, the API, the QR page and the CLI call these functions; none of them writes SQL of its own.
"""
