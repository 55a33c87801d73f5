"""Renderings of results: terminal table, JSON, result folder."""
