"""The order service: a federated GraphQL subgraph on the Emporium kit."""
