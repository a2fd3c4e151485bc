"""Emporium identity service: accounts, tokens, OAuth/OIDC login, profiles, addresses and roles."""
