"""The inventory service: a federated GraphQL subgraph on the Emporium kit."""
