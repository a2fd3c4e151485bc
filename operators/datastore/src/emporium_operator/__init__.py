"""Emporium datastore operator: Datastore resources become StatefulSets, Services, PDBs and
Secrets."""
