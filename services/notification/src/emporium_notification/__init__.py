"""The notification service: a federated GraphQL subgraph on the Emporium kit."""
