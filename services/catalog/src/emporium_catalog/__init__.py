"""Emporium catalog service: products, categories, sellers and listings."""
