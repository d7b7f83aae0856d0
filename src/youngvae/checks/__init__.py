"""Start-up checks: the config beyond its schema, the jobs' resources (what the Snakefile calls)."""
