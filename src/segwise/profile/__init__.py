"""Describe, name and compare segments."""
