"""Leaderboard: results.jsonl rows to ranked tables (Markdown now; more formats build on the same table)."""
