"""Emporium search: an OpenSearch product index fed by catalog events, queried through a
federated GraphQL subgraph (``search``, ``suggest``). See docs/search.md."""
