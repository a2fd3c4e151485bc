"""Emporium cart service."""
